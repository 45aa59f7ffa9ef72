"""What a study records about the sweep that made it: small Optuna study attrs.

Each fact is its own short attr (`pk8opt.strategy`, `pk8opt.objective`,
`pk8opt.config_sha`, `pk8opt.calibration` where the config's `engine:` values come from, ...) so that `optuna studies` and Optuna's dashboard show a
readable row. The long parts (the whole config, the list of in-sample and holdout
sessions) go to the sweep's MLflow parent run as `config.yaml` and `study.json`;
`pk8opt.config_sha` is the SHA-256 of that `config.yaml`, so a config file can be
matched to the study it ran.

Studies of older pk8opt versions hold everything in one attr, `pk8opt`, a dict:
`read_meta` reads either form, so `deploy`, `sweeps` and a resumed sweep work on both.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from pk8opt.redact import mask_url, mask_urls
from pk8opt.sweep.config import SweepConfig, to_dict
from pk8opt.sweep.data import Selection

PREFIX = "pk8opt."
LEGACY = "pk8opt"  # older sweeps: one attr holding the whole record
RECORD_NAME = "study.json"  # the full record, an artifact of the parent run


@dataclass(frozen=True)
class StudyMeta:
    strategy: str
    objectives: list[tuple[str, str]]  # (direction, metric), in the study's order
    overrides: dict[str, Any] = field(default_factory=dict)  # the fixed settings by name
    fingerprint: str = "?"  # of the sessions searched (a resume must use the same)
    in_sample_window: str = "?"  # `2025-01-01T00:00Z .. 2025-01-01T02:00Z (8 sessions)`
    holdout_window: str = "?"
    n_in_sample: int = 0
    config_path: str = "?"
    config_sha: str = "?"  # SHA-256 (first 16 hex) of the parent run's config.yaml
    n_trials: int | None = None
    code_version: str = "?"
    tracking_uri: str | None = None
    experiment: str | None = None
    calibration: str | None = None  # the config's `calibration:` (its engine: values' source)

    def objective_text(self) -> str:
        """`maximize pnl_per_window` (several: joined by `, `)."""
        return ", ".join(f"{d} {m}" for d, m in self.objectives)


def config_sha(config_yaml: str) -> str:
    return hashlib.sha256(config_yaml.encode()).hexdigest()[:16]


def study_attrs(meta: StudyMeta) -> dict[str, Any]:
    """The study attrs that hold `meta`, each small."""
    return {
        f"{PREFIX}strategy": meta.strategy,
        f"{PREFIX}objective": meta.objective_text(),
        f"{PREFIX}n_trials": meta.n_trials,
        f"{PREFIX}config": meta.config_path,
        f"{PREFIX}config_sha": meta.config_sha,
        f"{PREFIX}overrides": meta.overrides,
        f"{PREFIX}fingerprint": meta.fingerprint,
        f"{PREFIX}in_sample": meta.in_sample_window,
        f"{PREFIX}in_sample_sessions": meta.n_in_sample,
        f"{PREFIX}holdout": meta.holdout_window,
        f"{PREFIX}code_version": meta.code_version,
        # never a password: deploy asks for the URL when the one kept lacks it
        f"{PREFIX}tracking_uri": mask_url(meta.tracking_uri) if meta.tracking_uri else None,
        f"{PREFIX}experiment": meta.experiment,
        f"{PREFIX}calibration": meta.calibration,
    }


def write_meta(study: Any, meta: StudyMeta) -> None:
    for key, value in study_attrs(meta).items():
        study.set_user_attr(key, value)


def _objectives(text: Any) -> list[tuple[str, str]]:
    out = []
    for part in str(text or "").split(","):
        direction, _, metric = part.strip().partition(" ")
        if direction and metric:
            out.append((direction, metric))
    return out


def read_meta(attrs: dict[str, Any]) -> StudyMeta | None:
    """The sweep's record from a study's attrs (either form), or None for a study
    `pk8opt sweep` did not make."""
    if f"{PREFIX}strategy" in attrs:
        n_trials = attrs.get(f"{PREFIX}n_trials")
        n_in = attrs.get(f"{PREFIX}in_sample_sessions")
        return StudyMeta(
            strategy=str(attrs[f"{PREFIX}strategy"]),
            objectives=_objectives(attrs.get(f"{PREFIX}objective")),
            overrides=dict(attrs.get(f"{PREFIX}overrides") or {}),
            fingerprint=str(attrs.get(f"{PREFIX}fingerprint", "?")),
            in_sample_window=str(attrs.get(f"{PREFIX}in_sample", "?")),
            holdout_window=str(attrs.get(f"{PREFIX}holdout", "?")),
            n_in_sample=n_in if isinstance(n_in, int) else 0,
            config_path=str(attrs.get(f"{PREFIX}config", "?")),
            config_sha=str(attrs.get(f"{PREFIX}config_sha", "?")),
            n_trials=n_trials if isinstance(n_trials, int) else None,
            code_version=str(attrs.get(f"{PREFIX}code_version", "?")),
            tracking_uri=attrs.get(f"{PREFIX}tracking_uri"),
            experiment=attrs.get(f"{PREFIX}experiment"),
            calibration=attrs.get(f"{PREFIX}calibration"),
        )
    old = attrs.get(LEGACY)
    if not isinstance(old, dict) or "strategy" not in old:
        return None
    config = old.get("config") or {}
    objective = config.get("objective")
    objectives = objective if isinstance(objective, list) else [objective or {}]
    return StudyMeta(
        strategy=str(old["strategy"]),
        objectives=[
            (str(o.get("direction", "?")), str(o.get("metric", "?")))
            for o in objectives
            if isinstance(o, dict)
        ],
        overrides=dict(old.get("overrides") or {}),
        fingerprint=str(old.get("fingerprint", "?")),
        in_sample_window=str(old.get("in_sample_window", "?")),
        holdout_window=str(old.get("holdout_window", "?")),
        n_in_sample=len(old.get("in_sample") or []),
        config_sha="?",
        n_trials=config.get("trials") if isinstance(config.get("trials"), int) else None,
        code_version=str(old.get("code_version", "?")),
        tracking_uri=old.get("tracking_uri"),
        experiment=old.get("experiment"),
    )


def sweep_meta(
    cfg: SweepConfig, where: str, sel: Selection, version: str, target: int | None, yaml: str
) -> StudyMeta:
    """The record of a new sweep; `yaml` is the config as the parent run keeps it."""
    return StudyMeta(
        strategy=cfg.strategy,
        objectives=[(o.direction, o.metric) for o in cfg.objectives],
        overrides=cfg.overrides,
        fingerprint=sel.fingerprint,
        in_sample_window=sel.window(sel.in_sample),
        holdout_window=sel.window(sel.holdout),
        n_in_sample=len(sel.in_sample),
        config_path=where,
        config_sha=config_sha(yaml),
        n_trials=target,
        code_version=version,
        tracking_uri=cfg.tracking_uri(),
        experiment=cfg.experiment_name(),
        calibration=cfg.calibration,
    )


def sweep_record(meta: StudyMeta, cfg: SweepConfig, sel: Selection) -> str:
    """`study.json`: the study attrs and what they leave out (the whole config, every
    session searched and held out), a URL's password masked."""
    record = {
        "study": cfg.study,
        **{k.removeprefix(PREFIX): v for k, v in study_attrs(meta).items()},
        "config": to_dict(cfg),
        "in_sample_paths": [str(p) for p in sel.in_sample],
        "holdout_paths": [str(p) for p in sel.holdout],
    }
    return mask_urls(json.dumps(record, indent=2, default=str))

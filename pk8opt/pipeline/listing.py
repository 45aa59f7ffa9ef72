"""Past sweeps from the terminal: the studies of a storage with their best value, trial
counts, state and validation verdict (`pk8opt sweeps`), and one study in detail: its top
trials, the verdict's figures and the command that deploys it (`pk8opt sweeps show`).

Reads the Optuna storage and, when it exists, the MLflow store (the verdict and its
figures live on the sweep's parent run). Nothing is written.
"""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pk8opt.errors import ConfigError
from pk8opt.redact import mask_urls
from pk8opt.sweep.config import DEFAULT_STORAGE_PATH, default_tracking_uri
from pk8opt.sweep.study import make_storage
from pk8opt.sweep.study_meta import read_meta
from pk8opt.tracking import STUDY, sweep_parent_runs
from pk8opt.validation import record

# the validation figures a sweep logs on its parent run, in the order a trader reads them
VERDICT_METRICS = (
    "oos_pnl_per_window",
    "oos_t",
    "dsr",
    "psr",
    "pbo",
    "lockbox_pnl_per_window",
    "n_trials",
)
VERDICT_TAG = "pk8opt.verdict"
_SHOWN_METRICS = ("pnl_usdc", "fills", "fees_usdc", "max_drawdown_usdc", "sessions")
_COUNTS = ("fills", "sessions")  # shown as whole numbers


@dataclass
class SweepRow:
    study: str
    strategy: str
    complete: int
    pruned: int
    failed: int  # raised an error (interrupted trials are counted apart)
    running: int
    best: float | None
    best_trial: int | None
    direction: str
    state: str  # "running" (a trial is running), "stopped" (by Ctrl-C), "finished", "empty"
    last_trial: str | None  # ISO time of the newest finished trial
    verdict: str | None  # "pass", "fail: ...", or None when no validation ran
    verdict_brief: str | None = None  # the failing checks without their reasons (a list's)
    interrupted: int = 0  # trials cut off by Ctrl-C or a kill (they do not count)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrialRow:
    number: int
    value: float
    params: dict[str, Any]
    metrics: dict[str, float]


@dataclass
class SweepDetail:
    row: SweepRow
    top: list[TrialRow]
    figures: dict[str, float] = field(default_factory=dict)
    parent_run_id: str | None = None
    deploy_command: str = ""
    chosen_trial: int | None = None  # the trial the validation chose (`deploy --best`)
    checks: list[dict[str, Any]] = field(default_factory=list)  # the verdict's checks

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["row"] = self.row.to_json()
        return out


def _open(storage_url: str) -> Any:
    if "://" not in storage_url and not Path(storage_url).exists():
        raise ConfigError(f"{storage_url}: no study storage here; run `pk8opt sweep CONFIG` first")
    return make_storage(storage_url)


def _metric(name: str, value: Any) -> float | int:
    """A trial's metric as `sweeps show` gives it: counts as whole numbers."""
    v = float(value)
    return int(v) if name in _COUNTS and v.is_integer() else v


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat(timespec="seconds") if dt is not None else None


def _parents(tracking_uri: str | None) -> dict[str, Any]:
    """Study name -> its MLflow parent run (the newest when several), if the store exists."""
    if not tracking_uri:
        return {}
    if tracking_uri.startswith("sqlite:///") and not Path(tracking_uri[10:]).exists():
        return {}
    runs = sweep_parent_runs(tracking_uri)  # none from a store that cannot be read
    out: dict[str, Any] = {}
    for run in sorted(runs, key=lambda r: r.info.start_time or 0):
        out[run.data.tags.get(STUDY, "")] = run
    return out


def _row(study: Any, storage: Any, parent: Any) -> SweepRow:
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    count = {s: 0 for s in TrialState}
    interrupted = 0
    for t in trials:
        count[t.state] += 1
        interrupted += t.state == TrialState.FAIL and bool(t.user_attrs.get("interrupted"))
    direction = study.directions[0].name.lower()
    complete = [t for t in trials if t.state == TrialState.COMPLETE and t.values]
    best = None
    if complete:
        pick = max if direction == "maximize" else min
        best = pick(complete, key=lambda t: t.values[0])
    finished = [t.datetime_complete for t in trials if t.datetime_complete is not None]
    meta = read_meta(study.user_attrs)
    rec = record.load(storage, study.study_name) or {}
    verdict = None
    if parent is not None:
        verdict = parent.data.tags.get(VERDICT_TAG)
    if verdict is None:  # no MLflow store at hand: the study's own record
        verdict = rec.get("verdict")
    return SweepRow(
        study=study.study_name,
        strategy=meta.strategy if meta else "?",
        complete=count[TrialState.COMPLETE],
        pruned=count[TrialState.PRUNED],
        failed=count[TrialState.FAIL] - interrupted,
        running=count[TrialState.RUNNING],
        best=best.values[0] if best is not None else None,
        best_trial=best.number if best is not None else None,
        direction=direction,
        state=_state(count[TrialState.RUNNING], parent, bool(trials)),
        last_trial=_iso(max(finished)) if finished else None,
        verdict=verdict if isinstance(verdict, str) else None,
        verdict_brief=rec.get("brief") if isinstance(rec.get("brief"), str) else None,
        interrupted=interrupted,
    )


def _state(running: int, parent: Any, any_trial: bool) -> str:
    """running, stopped (the sweep's last run was stopped: Ctrl-C, a kill, during the
    search or validation; its MLflow parent run says KILLED), finished, or empty."""
    if running:
        return "running"
    if parent is not None and parent.info.status == "KILLED":
        return "stopped"
    return "finished" if any_trial else "empty"


def list_sweeps(storage_url: str, tracking_uri: str | None) -> list[SweepRow]:
    """Every study of the storage, newest activity first."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = _open(storage_url)
    parents = _parents(tracking_uri)
    rows = []
    for summary in optuna.get_all_study_summaries(storage, include_best_trial=False):
        study = optuna.load_study(study_name=summary.study_name, storage=storage)
        rows.append(_row(study, storage, parents.get(summary.study_name)))
    return sorted(rows, key=lambda r: r.last_trial or "", reverse=True)


def show_sweep(
    storage_url: str, tracking_uri: str | None, study_name: str, *, top: int = 10
) -> SweepDetail:
    """One study: its row, its `top` completed trials, the verdict figures, the deploy line."""
    import optuna
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = _open(storage_url)
    names = [s.study_name for s in optuna.get_all_study_summaries(storage, False)]
    if study_name not in names:
        near = difflib.get_close_matches(study_name, names, n=1)
        hint = f"; did you mean {near[0]}?" if near else f"; studies here: {', '.join(names)}"
        raise ConfigError(f"no study {study_name!r} in {storage_url}{hint}")
    study = optuna.load_study(study_name=study_name, storage=storage)
    parent = _parents(tracking_uri).get(study_name)
    row = _row(study, storage, parent)
    done = [
        t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE and t.values
    ]
    done.sort(key=lambda t: t.values[0], reverse=row.direction == "maximize")
    rows = []
    for t in done[:top]:
        metrics = t.user_attrs.get("metrics") or {}
        rows.append(
            TrialRow(
                number=t.number,
                value=float(t.values[0]),
                params=dict(t.params),
                metrics={k: _metric(k, metrics[k]) for k in _SHOWN_METRICS if k in metrics},
            )
        )
    figures: dict[str, float] = {}
    if parent is not None:
        figures = {
            k: float(parent.data.metrics[k]) for k in VERDICT_METRICS if k in parent.data.metrics
        }
    stores = ""
    if storage_url != str(DEFAULT_STORAGE_PATH):
        stores += f" --storage {storage_url}"
    if tracking_uri and tracking_uri != default_tracking_uri():
        stores += f" --tracking-uri {tracking_uri}"
    stores = mask_urls(stores)
    rec = record.load(storage, study_name) or {}
    return SweepDetail(
        row=row,
        top=rows,
        figures=figures,
        parent_run_id=parent.info.run_id if parent is not None else None,
        deploy_command=f"pk8opt deploy --best --study {study_name}{stores} --env-file .env",
        chosen_trial=rec.get("chosen_trial"),
        checks=[
            {
                **{k: c.get(k) for k in ("name", "value", "threshold", "passed")},
                "reason": c.get("reason") or "",  # why a figure is n/a
            }
            for c in rec.get("checks") or []
        ],
    )

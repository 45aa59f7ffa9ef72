"""The search: Optuna over the fitted engine parameters, minimizing the score on the fit
windows.

The first trial of a new study is the engine's defaults, so the fit is never worse than
them on the windows it sees. The sampler is TPE (multivariate, seeded: the same inputs
give the same fit). Each trial keeps its score's parts per fit window as a user attr
(`CANDIDATE_ATTR`), so the bootstrap can re-score every trial on resampled windows
without replaying anything, also for the trials of an earlier run of a stored study.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pk8opt.calibrate.evaluate import Evaluator
from pk8opt.calibrate.score import ScoreRule
from pk8opt.calibrate.space import FitParam, active, suggest
from pk8opt.errors import ConfigError
from pk8opt.sweep.storage import open_storage

CANDIDATE_ATTR = "pk8opt.windows"  # a trial's [orders, fill loss, time loss] per fit window
VALUES_ATTR = "pk8opt.values"
FINGERPRINT_ATTR = "pk8opt.calibrate"


@dataclass(frozen=True)
class Candidate:
    """A parameter set scored on the fit windows: its sums per window."""

    values: dict[str, Any]
    parts: tuple[tuple[int, float, float], ...]  # per fit window: orders, fill, time

    def score(self, rule: ScoreRule, weights: Sequence[int] | None = None) -> float:
        """The mean loss per order; `weights`: how many times each window counts."""
        n = 0.0
        total = 0.0
        for j, (orders, fill, time) in enumerate(self.parts):
            w = 1 if weights is None else weights[j]
            n += w * orders
            total += w * (fill + rule.time_weight * time)
        return total / n if n else float("nan")


def candidate(ev: Evaluator, values: Mapping[str, Any], fit: Sequence[int]) -> Candidate:
    """`values` scored on the fit windows (replayed unless already known)."""
    parts = []
    for i in fit:
        p = ev.window(values, i)[0]
        parts.append((p.orders, p.fill_loss, p.time_loss))
    return Candidate(dict(values), tuple(parts))


def best_of(
    cands: Sequence[Candidate], rule: ScoreRule, weights: Sequence[int] | None = None
) -> Candidate:
    """The lowest score (the first of equal ones: the defaults before what beats them
    by nothing)."""
    return min(cands, key=lambda c: c.score(rule, weights))


def fingerprint(parts: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def open_study(storage: str | None, name: str, seed: int, trials: int, check: str) -> Any:
    """A study in memory, or in `storage` (resumed when it holds `name`, only if it was
    fitted on the same data: `check` is that data's fingerprint)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(
        seed=seed, multivariate=True, n_startup_trials=max(3, min(10, trials // 3))
    )
    with warnings.catch_warnings():  # multivariate TPE is marked experimental
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study = optuna.create_study(
            storage=open_storage(storage) if storage else None,
            study_name=name,
            sampler=sampler,
            direction="minimize",
            load_if_exists=True,
        )
    held = study.user_attrs.get(FINGERPRINT_ATTR)
    if held is not None and held != check:
        raise ConfigError(
            f"--study-name {name}: that study was fitted on other data or settings; "
            "give another name"
        )
    study.set_user_attr(FINGERPRINT_ATTR, check)
    return study


def search(
    ev: Evaluator,
    params: Sequence[FitParam],
    fixed: Mapping[str, Any],
    fit: Sequence[int],
    trials: int,
    study: Any,
    on_trial: Callable[[int], None] | None = None,
    weights: Sequence[int] | None = None,
) -> list[Candidate]:
    """Run `trials` more trials of `study`; every completed trial as a `Candidate`.
    `fixed`: the values of what is not searched (and the first trial of a new study);
    `weights`: how many times each fit window counts (a bootstrap resample)."""
    rule = ev.problem.rule
    if not study.trials:
        study.enqueue_trial({p.name: fixed[p.name] for p in params if active(fixed, p)})

    def objective(trial: Any) -> float:
        values = suggest(trial, params, fixed)
        c = candidate(ev, values, fit)
        trial.set_user_attr(CANDIDATE_ATTR, [list(p) for p in c.parts])
        trial.set_user_attr(VALUES_ATTR, values)
        if on_trial is not None:
            on_trial(trial.number)
        return c.score(rule, weights)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna's notes on the enqueued trial
        study.optimize(objective, n_trials=trials)
    return study_candidates(study)


def study_candidates(study: Any) -> list[Candidate]:
    out = []
    for t in study.get_trials(deepcopy=False):
        parts = t.user_attrs.get(CANDIDATE_ATTR)
        if t.state.name != "COMPLETE" or parts is None:
            continue
        values = dict(t.user_attrs.get(VALUES_ATTR) or t.params)
        out.append(Candidate(values, tuple((int(a), float(b), float(c)) for a, b, c in parts)))
    return out

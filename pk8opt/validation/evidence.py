"""The in-sample evidence of a sweep, as one pure function of its matrix.

From the trial rows (what deploy can choose), the baselines beside them (the defaults,
not trading), the deploy rule with its neighbourhoods and the folds, `evidence` computes
every statistic the gate reads but the lockbox: which row the rule chooses, PBO and the
probability of out-of-sample loss over the trial rows, the walk-forward record of the
rule, and the deflated Sharpe ratio of the choice against N trials without skill. The
validation stage calls it once on the sweep's matrix; the power benchmark calls it on
resampled and centred copies (`resampled`), so what is measured is what ships.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pk8opt.validation.reasons import DEFLATED_SHARPE, PBO_FIGURES, WALK_FORWARD, Reasons
from pk8opt.validation.select import Rule
from pk8opt.validation.stats import DSRResult, PBOResult, deflated_sharpe, pbo_cscv
from pk8opt.validation.walkforward import Fold, WalkForwardResult, walk_forward


@dataclass(frozen=True)
class Evidence:
    """What `evidence` found; a statistic is None when n/a (its reason in the Reasons)."""

    chosen: int | None  # the row of the trial matrix the rule chooses on every window
    pbo: PBOResult | None
    walk: WalkForwardResult | None
    dsr: DSRResult | None


def evidence(
    rule: Rule | None,
    trials: np.ndarray,
    beside: np.ndarray,
    folds: list[Fold],
    n_tried: int,
    *,
    blocks: int,
    why: Reasons,
) -> Evidence:
    """Every in-sample statistic of the gate. `rule` is None when no trial is eligible
    (then there is no choice, no walk-forward and no DSR); `trials` and `beside` are rows
    x windows; `n_tried` counts every trial the search tried."""
    trials = np.asarray(trials, dtype=float)
    beside = np.asarray(beside, dtype=float).reshape(-1, trials.shape[1])
    pbo = why.attempt(PBO_FIGURES, pbo_cscv, trials, blocks=blocks, beside=beside)
    if rule is None:
        return Evidence(None, pbo, None, None)
    n_windows = trials.shape[1]
    chosen = rule.choose(np.arange(n_windows))
    walk = why.attempt(
        WALK_FORWARD,
        walk_forward,
        np.vstack([trials, beside]),
        folds,
        baselines=tuple(range(len(trials), len(trials) + len(beside))),
        choose=rule.choose,
    )
    why.explain_walk(walk)
    dsr = why.attempt(DEFLATED_SHARPE, deflated_sharpe, trials[chosen], n_tried)
    why.explain_dsr(dsr)
    return Evidence(chosen, pbo, walk, dsr)


def resampled(
    rule: Rule, beside: np.ndarray, columns: np.ndarray, *, centre: bool
) -> tuple[Rule, np.ndarray]:
    """The rule and baselines on the windows `columns` (a bootstrap draw, repeats allowed);
    with `centre`, every trial row and every neighbour has its mean subtracted first, the
    null in which no configuration has skill but each keeps its spread and its
    correlation with the others."""

    def on(m: Any) -> np.ndarray:
        a = np.asarray(m, dtype=float)
        if centre:
            a = a - a.mean(axis=1, keepdims=True)
        return a[:, columns]

    hoods = {i: on(h) for i, h in rule.hoods.items()}
    side = np.asarray(beside, dtype=float)[:, columns]
    return Rule(on(rule.matrix), rule.eligible, rule.robust_top, hoods), side

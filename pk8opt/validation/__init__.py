"""Validation: does a sweep's chosen configuration have out-of-sample evidence?

Pure statistics on a trials x windows matrix of USDC P&L (rows = candidate trials,
columns = time windows in time order): PBO by CSCV, PSR and the deflated Sharpe ratio,
walk-forward and CPCV selection, the deploy selection rule (`select.Rule`), a robustness
score, and the deploy verdict.
docs/validation.md explains each figure.
"""

from pk8opt.validation.select import Rule
from pk8opt.validation.stats import (
    DSRResult,
    NotEnoughData,
    PBOResult,
    binomial_interval,
    deflated_sharpe,
    expected_max_sharpe,
    lower_quartile,
    null_sr_variance,
    pbo_cscv,
    probabilistic_sharpe,
    sharpe,
    sr_variance,
    t_stat,
)
from pk8opt.validation.verdict import Check, Figures, Thresholds, Verdict, judge
from pk8opt.validation.walkforward import (
    Fold,
    WalkForwardResult,
    cpcv_folds,
    walk_forward,
    walk_forward_folds,
)

__all__ = [
    "Check",
    "DSRResult",
    "Figures",
    "Fold",
    "NotEnoughData",
    "PBOResult",
    "Rule",
    "Thresholds",
    "Verdict",
    "WalkForwardResult",
    "binomial_interval",
    "cpcv_folds",
    "deflated_sharpe",
    "expected_max_sharpe",
    "judge",
    "lower_quartile",
    "null_sr_variance",
    "pbo_cscv",
    "probabilistic_sharpe",
    "sharpe",
    "sr_variance",
    "t_stat",
    "walk_forward",
    "walk_forward_folds",
]

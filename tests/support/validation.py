"""Validation figures (GOOD) that pass every check of the deploy verdict."""

from __future__ import annotations

from pk8opt.validation import Figures

GOOD = Figures(
    pbo=0.05,
    prob_oos_loss=0.0,
    dsr=0.99,
    psr=0.999,
    n_trials=120,
    oos_pnl_per_window=1.5,
    oos_t=3.1,
    lockbox_pnl_per_window=0.8,
    active_windows=30,
)

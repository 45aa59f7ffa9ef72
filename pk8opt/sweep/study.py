"""The Optuna pieces of one study, made the same way in the main process and the
workers: the storage, the sampler (seeded per process) and the pruner."""

from __future__ import annotations

import warnings
from typing import Any

from pk8opt.params import ParamSet
from pk8opt.sweep.config import SweepConfig
from pk8opt.sweep.space import grid
from pk8opt.sweep.storage import open_storage


def make_storage(url: str) -> Any:
    """A database URL or a journal file (created if missing); see `sweep.storage`."""
    return open_storage(url)


def make_sampler(cfg: SweepConfig, params: ParamSet, index: int = 0) -> Any:
    import optuna

    s = cfg.sampler
    seed = None if s.seed is None else s.seed + index
    if s.type == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if s.type == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    if s.type == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    if s.type == "grid":

        class Grid(optuna.samplers.GridSampler):
            def after_trial(self, *args: Any) -> None:
                # GridSampler calls study.stop() once the grid is used up, which only
                # works inside study.optimize(); the workers stop at the grid's size.
                return None

        return Grid(grid(cfg.space, params), seed=seed)
    startup = s.startup_trials if s.startup_trials is not None else 10
    liar = s.constant_liar if s.constant_liar is not None else cfg.workers > 1
    with warnings.catch_warnings():  # both options are marked experimental by Optuna
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(
            seed=seed,
            n_startup_trials=startup,
            multivariate=s.multivariate is not False,
            constant_liar=liar,
        )


def make_pruner(cfg: SweepConfig) -> Any:
    """Trials report after each complete window (`sweep.windows`): Wilcoxon compares a
    trial's windows with the best trial's same windows; the others compare running
    scores after the same number of windows."""
    import optuna

    p = cfg.pruner
    warm = max(1, p.warmup_windows)
    if p.type == "none" or len(cfg.objectives) > 1:
        return optuna.pruners.NopPruner()
    if p.type == "wilcoxon":
        with warnings.catch_warnings():  # marked experimental by Optuna
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.pruners.WilcoxonPruner(
                p_threshold=p.p_threshold, n_startup_steps=max(2, warm)
            )
    if p.type == "percentile":
        return optuna.pruners.PercentilePruner(
            p.percentile, n_startup_trials=p.startup_trials, n_warmup_steps=warm - 1
        )
    if p.type == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=warm)
    if p.type == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=warm)
    return optuna.pruners.MedianPruner(n_startup_trials=p.startup_trials, n_warmup_steps=warm - 1)

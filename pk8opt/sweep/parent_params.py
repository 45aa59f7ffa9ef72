"""What a sweep's parent MLflow run shows: its settings as params namespaced by the
config's sections (`strategy.*`, `engine.*`, `trader.*`, `sampler.*`, `pruner.*`,
`space.*` with the searched ranges, `validation.*`), and a description in words."""

from __future__ import annotations

from typing import Any

import msgspec

from pk8opt.sweep.config import SweepConfig
from pk8opt.sweep.space import Dimension


def _range(dim: Dimension) -> str:
    if dim.choices is not None:
        return "{" + ", ".join(map(str, dim.choices)) + "}"
    text = f"[{dim.low:g}, {dim.high:g}]"
    if dim.step:
        text += f" step {dim.step:g}"
    if dim.log:
        text += " log"
    return text


# The settings each pruner type reads (see runner.make_pruner) and those each validation
# scheme leaves unread: the parent run shows what shaped the sweep, not every default.
_PRUNER_READS = {
    "wilcoxon": {"p_threshold", "warmup_windows"},
    "median": {"startup_trials", "warmup_windows"},
    "percentile": {"percentile", "startup_trials", "warmup_windows"},
    "successive_halving": {"warmup_windows"},
    "hyperband": {"warmup_windows"},
    "none": set(),
}
_SCHEME_SKIPS = {"walk_forward": {"groups", "test_groups"}, "cpcv": {"folds", "anchored"}}


def _section(prefix: str, values: dict[str, Any]) -> dict[str, Any]:
    return {f"{prefix}.{k}": v for k, v in values.items() if v is not None}


def parent_params(cfg: SweepConfig, in_sample: int, holdout: int) -> dict[str, Any]:
    """Every setting of the sweep once, each under the section it came from."""
    out: dict[str, Any] = {
        "strategy": cfg.strategy,
        "objective": ", ".join(f"{o.direction} {o.metric}" for o in cfg.objectives),
        "trials": cfg.trials,
        "workers": cfg.workers,
        "in_sample_sessions": in_sample,
        "holdout_sessions": holdout,
    }
    out.update(_section("strategy", cfg.fixed))
    out.update(_section("engine", cfg.engine))
    out.update(_section("trader", cfg.trader))
    out.update(_section("sampler", msgspec.structs.asdict(cfg.sampler)))
    pruner = msgspec.structs.asdict(cfg.pruner)
    reads = _PRUNER_READS.get(cfg.pruner.type, set(pruner))
    out.update(_section("pruner", {k: v for k, v in pruner.items() if k == "type" or k in reads}))
    out.update({f"space.{k}": _range(d) for k, d in cfg.space.items()})
    validation = msgspec.structs.asdict(cfg.validation)
    skips = _SCHEME_SKIPS.get(cfg.validation.scheme, set())
    out.update(_section("validation", {k: v for k, v in validation.items() if k not in skips}))
    return out


def sweep_description(cfg: SweepConfig, in_sample: int, holdout: int) -> str:
    """One paragraph: what was searched, over what, scored how."""
    searched = ", ".join(cfg.space) or "nothing"
    objective = " and ".join(f"{o.direction} {o.metric}" for o in cfg.objectives)
    budget = f"{cfg.trials} trials" if cfg.trials else "no trial limit"
    if cfg.timeout_s:
        budget += f" or {cfg.timeout_s:g} s"
    return (
        f"Sweep {cfg.study}: {cfg.strategy}, searching {searched}; {objective}; "
        f"{in_sample} in-sample sessions, {holdout} held out as the lockbox; "
        f"{cfg.sampler.type} sampler, {cfg.pruner.type} pruner; {budget} on "
        f"{cfg.workers} worker{'s' if cfg.workers != 1 else ''}; validated by {cfg.validation.scheme.replace('_', '-')}."
    )

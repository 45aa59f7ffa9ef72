"""The search space: its schema (`Dimension`, the config's `space:` entries), checking
each dimension against its declaration, and suggesting.

A dimension's type comes from the parameter's declaration (`Param.type`): an int
parameter is searched with `suggest_int`, a float one with `suggest_float`, a bool or
str one (or any dimension given as `choices`) with `suggest_categorical`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from pk8opt.errors import ConfigError
from pk8opt.params import Param, ParamSet

if TYPE_CHECKING:
    import optuna


class Dimension(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One searched parameter: a range (`low`, `high`, optional `step` or `log`) or
    a list of `choices`. Its type (int, float, bool, str) is the declared one."""

    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    choices: list[str | int | float | bool] | None = None


def check_dimension(p: Param, dim: Dimension, where: str) -> None:
    """One clear line if the dimension cannot be searched for this parameter."""
    if dim.choices is not None:
        if dim.low is not None or dim.high is not None or dim.step is not None or dim.log:
            raise ConfigError(f"{where}: give either choices or low/high, not both")
        if not dim.choices:
            raise ConfigError(f"{where}.choices: empty list; give at least one value")
        for value in dim.choices:
            p.parse(value, f"{where}.choices")
        return
    if p.type not in (int, float):
        raise ConfigError(
            f"{where}: {p.name} is a {p.type.__name__} parameter; search it with choices: [...]"
        )
    if dim.low is None or dim.high is None:
        missing = "low" if dim.low is None else "high"
        raise ConfigError(f"{where}.{missing}: required for a range (or give choices)")
    if dim.low >= dim.high:
        raise ConfigError(
            f"{where}: empty range (low {dim.low:g} >= high {dim.high:g}); "
            "to fix a value, put it under fixed:"
        )
    if p.type is int and (not float(dim.low).is_integer() or not float(dim.high).is_integer()):
        raise ConfigError(f"{where}: {p.name} is an int parameter; low and high must be integers")
    if dim.log:
        if dim.low <= 0:
            raise ConfigError(f"{where}.low: a log-scale range needs low > 0 (got {dim.low:g})")
        if dim.step is not None:
            raise ConfigError(f"{where}: step and log cannot be combined")
    if dim.step is not None:
        if dim.step <= 0:
            raise ConfigError(f"{where}.step: must be positive (got {dim.step:g})")
        if p.type is int and not float(dim.step).is_integer():
            raise ConfigError(
                f"{where}.step: {p.name} is an int parameter; step must be an integer"
            )
        if dim.step > dim.high - dim.low:
            raise ConfigError(f"{where}.step: {dim.step:g} is wider than the range")
    for bound in ("low", "high"):
        p.parse(getattr(dim, bound), f"{where}.{bound}")


def suggest(trial: optuna.Trial, space: dict[str, Dimension], params: ParamSet) -> dict[str, Any]:
    """One value per dimension, by parameter name, of the declared type."""
    values: dict[str, Any] = {}
    for name, dim in space.items():
        p = params.by_name[name]
        if dim.choices is not None:
            choices = [p.parse(c, name) for c in dim.choices]
            values[name] = trial.suggest_categorical(name, choices)
        elif p.type is int:
            step = int(dim.step) if dim.step is not None else 1
            values[name] = trial.suggest_int(
                name, int(dim.low or 0), int(dim.high or 0), step=step, log=dim.log
            )
        else:
            values[name] = trial.suggest_float(
                name, float(dim.low or 0), float(dim.high or 0), step=dim.step, log=dim.log
            )
    return values


def grid(space: dict[str, Dimension], params: ParamSet) -> dict[str, list[Any]]:
    """The grid sampler's search space: every value each dimension can take."""
    out: dict[str, list[Any]] = {}
    for name, dim in space.items():
        p = params.by_name[name]
        if dim.choices is not None:
            out[name] = [p.parse(c, name) for c in dim.choices]
            continue
        low, high = float(dim.low or 0), float(dim.high or 0)
        step = float(dim.step) if dim.step is not None else 1.0
        n = int(round((high - low) / step)) + 1
        points = [low + i * step for i in range(n) if low + i * step <= high + 1e-12]
        out[name] = [int(round(v)) if p.type is int else round(v, 12) for v in points]
    return out


def grid_size(space: dict[str, Dimension], params: ParamSet) -> int:
    size = 1
    for values in grid(space, params).values():
        size *= len(values)
    return size

"""The engine parameters `calibrate` fits, their search ranges, and how a fitted value
becomes `ENGINE_PARAMS` values.

Searched under these names:

- `post_latency_ms`, `response_latency_ms`, `trade_through_volume`, `queue_ahead_frac`,
  `queue_add_ahead_frac`, `maker_flow`, `flow_base`: the engine's own (`flow_base` only while `maker_flow` is on);
- `cancel_latency_ms`: the time from a cancel request until the order is gone. The
  engine splits it in two (`cancel_req_latency_ms`, the acknowledgement, then
  `cancel_clear_latency_ms`) but an order can fill until the end of both, so fills only
  see their sum: it is fitted as one and written as two halves.

Not fitted: `feed_latency_ms` (it sets when a trade loop decides; in an open-loop
replay the decisions are given), and the settings that are choices rather than
measurements (`feed_clock`, `take_depletes`, the maker flow's size model, the seed):
they come from the run's logged settings, or `--set`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from pk8opt.engine.config import ENGINE_PARAMS
from pk8opt.errors import ConfigError

CANCEL = "cancel_latency_ms"
_CANCEL_PARTS = ("cancel_req_latency_ms", "cancel_clear_latency_ms")


@dataclass(frozen=True)
class FitParam:
    """One searched parameter: its range, scale and what it sets."""

    name: str
    low: float
    high: float
    log: bool = False
    is_bool: bool = False
    needs: str = ""  # searched only while this (bool) parameter is on
    unit: str = ""

    @property
    def engine_names(self) -> tuple[str, ...]:
        return _CANCEL_PARTS if self.name == CANCEL else (self.name,)

    @property
    def env_names(self) -> tuple[str, ...]:
        return tuple(ENGINE_PARAMS.by_name[n].env for n in self.engine_names)

    def grid(self, points: int) -> list[Any]:
        """`points` values spread over the range (both ends in), for a profile."""
        if self.is_bool:
            return [False, True]
        if self.log:
            return [float(v) for v in np.geomspace(self.low, self.high, points)]
        return [float(v) for v in np.linspace(self.low, self.high, points)]


FIT_PARAMS: tuple[FitParam, ...] = (
    FitParam("post_latency_ms", 0.0, 2000.0, unit="ms"),
    FitParam(CANCEL, 0.0, 3000.0, unit="ms"),
    FitParam("response_latency_ms", 0.0, 1000.0, unit="ms"),
    FitParam("trade_through_volume", 0.0, 1.0, is_bool=True),
    FitParam("queue_ahead_frac", 0.0, 1.0),
    FitParam("queue_add_ahead_frac", 0.0, 1.0),
    FitParam("maker_flow", 0.0, 1.0, is_bool=True),
    FitParam("flow_base", 0.05, 50.0, log=True, needs="maker_flow", unit="1/s"),
)
BY_NAME = {p.name: p for p in FIT_PARAMS}


def choose(
    names: Sequence[str] | None, ranges: Mapping[str, tuple[float, float]]
) -> list[FitParam]:
    """The parameters to fit (all when `names` is None), with `ranges` replacing theirs."""
    picked = {p.name for p in FIT_PARAMS} if not names else {_known(n, "--fit").name for n in names}
    chosen = [p for p in FIT_PARAMS if p.name in picked]  # declared order: a switch first
    out = []
    for p in chosen:
        if p.name in ranges:
            low, high = ranges[p.name]
            if p.is_bool or not low < high or low < 0 or (p.log and low <= 0):
                raise ConfigError(
                    f"--range {p.name}={low:g}:{high:g}: give LOW:HIGH with 0 <= LOW < HIGH "
                    f"(LOW > 0 for a log scale; none for a on/off setting)"
                )
            p = replace(p, low=low, high=high)
        out.append(p)
    for name in ranges:
        if name not in picked:
            _known(name, "--range")
            raise ConfigError(f"--range {name}: not fitted (add it to --fit)")
    return out


def _known(name: str, option: str) -> FitParam:
    p = BY_NAME.get(name.strip())
    if p is None:
        raise ConfigError(f"{option} {name}: not a fitted parameter; one of {', '.join(BY_NAME)}")
    return p


def parse_ranges(items: Sequence[str]) -> dict[str, tuple[float, float]]:
    """`NAME=LOW:HIGH` items."""
    out = {}
    for item in items:
        name, eq, span = item.partition("=")
        low, colon, high = span.partition(":")
        try:
            if not (eq and colon):
                raise ValueError
            out[name.strip()] = (float(low), float(high))
        except ValueError:
            raise ConfigError(
                f"--range {item}: give NAME=LOW:HIGH, e.g. post_latency_ms=0:1500"
            ) from None
    return out


def default_values(params: Sequence[FitParam]) -> dict[str, Any]:
    """The searched names at the engine's declared defaults."""
    d = ENGINE_PARAMS.defaults()
    out: dict[str, Any] = {}
    for p in params:
        out[p.name] = sum(d[n] for n in _CANCEL_PARTS) if p.name == CANCEL else d[p.name]
    return out


def to_engine(values: Mapping[str, Any]) -> dict[str, Any]:
    """Searched values as `ENGINE_PARAMS` values (a cancel latency in two halves)."""
    out: dict[str, Any] = {}
    for name, v in values.items():
        if name == CANCEL:
            out[_CANCEL_PARTS[0]] = out[_CANCEL_PARTS[1]] = float(v) / 2
        else:
            out[name] = v
    return out


def active(values: Mapping[str, Any], p: FitParam) -> bool:
    """Whether `p` acts under `values` (a flow rate only while maker flow is on)."""
    return not p.needs or bool(values.get(p.needs, True))


def suggest(trial: Any, params: Sequence[FitParam], fixed: Mapping[str, Any]) -> dict[str, Any]:
    """One Optuna trial's values; parameters not searched keep `fixed`'s."""
    values = dict(fixed)
    for p in params:
        if not active(values, p):
            continue
        if p.is_bool:
            values[p.name] = trial.suggest_categorical(p.name, [False, True])
        else:
            values[p.name] = trial.suggest_float(p.name, p.low, p.high, log=p.log)
    return values

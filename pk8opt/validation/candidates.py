"""The candidate set and the neighbourhoods the validation stage replays.

Candidates: the top trials by in-sample score (a pruned trial by its score over the
windows it played; it is re-run to completion), beside the strategy's defaults and a
not-trading row. Neighbourhoods: points around a candidate, each searched parameter
moved by up to `radius` of its range (at least one step; a neighbouring choice), so a
candidate sitting on a plateau scores better than an isolated spike.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pk8opt.sweep.windows import WINDOW_METRICS, summarize, window_values

FINISHED = ("COMPLETE", "PRUNED", "FAIL")


@dataclass(frozen=True)
class Row:
    """One configuration scored per in-sample window."""

    label: str  # the trial number, or "defaults" / "not_trading"
    params: dict[str, Any]  # searched parameters (empty for the baselines)
    pnl: list[float]  # P&L per window, windows in time order
    fills: list[float]  # fills per window
    trial: int | None = None

    @property
    def mean(self) -> float:
        return sum(self.pnl) / len(self.pnl) if self.pnl else math.nan

    def active(self) -> int:
        return sum(1 for f in self.fills if f > 0)


def complete_rows(trial: Any, members: list[list[int]]) -> tuple[list[float], list[float]] | None:
    """A trial's P&L and fills per window when it played every session, else None."""
    s = trial.user_attrs.get("sessions") or {}
    pnl, fills = s.get("session_pnl"), s.get("session_fills")
    n = sum(len(m) for m in members)
    if trial.state.name != "COMPLETE" or not pnl or len(pnl) != n or fills is None:
        return None
    order = s.get("window_order") or []
    if len(order) != len(members):
        return None
    return window_values(pnl, members), window_values(fills, members)


def partial_score(trial: Any, members: list[list[int]], metric: str) -> float | None:
    """A pruned trial's objective over the windows it completed: a window metric, or the
    total P&L extrapolated from the mean per window (other metrics: None)."""
    if metric not in WINDOW_METRICS and metric != "pnl_usdc":
        return None
    s = trial.user_attrs.get("sessions") or {}
    pnl = s.get("session_pnl") or []
    order = s.get("window_order") or []
    done = [w for w in order if w < len(members) and all(i < len(pnl) for i in members[w])]
    played = [w for w in done if any(pnl[i] is not None for i in members[w])]
    if len(played) < 1:
        return None
    values = [sum(pnl[i] or 0.0 for i in members[w]) for w in played]
    if metric == "pnl_usdc":
        return summarize(values, "pnl_per_window") * len(members)
    return summarize(values, metric)


def rank_trials(study: Any, members: list[list[int]], metric: str) -> list[tuple[Any, float]]:
    """Completed and pruned trials with an in-sample score, best first (the Pareto front
    first with several objectives)."""
    trials = study.get_trials(deepcopy=False)
    sign = 1.0 if study.directions[0].name == "MAXIMIZE" else -1.0
    front: set[int] = set()
    if len(study.directions) > 1:
        front = {t.number for t in study.best_trials}
    scored: list[tuple[Any, float]] = []
    for t in trials:
        if t.state.name == "COMPLETE" and t.values:
            scored.append((t, float(t.values[0])))
        elif t.state.name == "PRUNED":
            v = partial_score(t, members, metric)
            if v is not None:
                scored.append((t, v))
    scored.sort(key=lambda tv: (bool(front) and tv[0].number not in front, -sign * tv[1]))
    return scored


def top_trials(study: Any, k: int) -> list[Any]:
    """The best completed trials by in-sample score (no validation involved)."""
    done = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    sign = -1 if study.directions[0].name == "MAXIMIZE" else 1
    if len(study.directions) > 1:
        front = {t.number for t in study.best_trials}
        done.sort(key=lambda t: (t.number not in front, sign * t.values[0]))
    else:
        done.sort(key=lambda t: sign * t.values[0])
    return done[:k]


def n_tried(study: Any) -> int:
    """Every trial the search tried: completed, pruned and failed (interrupted too)."""
    return sum(1 for t in study.get_trials(deepcopy=False) if t.state.name in FINISHED)


def tried_by_state(study: Any) -> dict[str, int]:
    """The trials `n_tried` counts, by state (COMPLETE, PRUNED, FAIL)."""
    out = dict.fromkeys(FINISHED, 0)
    for t in study.get_trials(deepcopy=False):
        if t.state.name in out:
            out[t.state.name] += 1
    return out


# -- neighbourhoods ---------------------------------------------------------------------


def _delta(dim: Any, ptype: type, radius: float) -> float:
    span = float(dim.high) - float(dim.low)
    if dim.log:
        span = math.log(float(dim.high)) - math.log(float(dim.low))
    step = float(dim.step) if dim.step is not None else (1.0 if ptype is int else 0.0)
    return max(radius * span, step)


def _near(value: Any, center: Any, dim: Any, ptype: type, radius: float) -> bool:
    if dim.choices is not None:
        try:
            return abs(dim.choices.index(value) - dim.choices.index(center)) <= 1
        except ValueError:
            return False
    d = _delta(dim, ptype, radius)
    if dim.log:
        if value <= 0 or center <= 0:
            return False
        return abs(math.log(value) - math.log(center)) <= d + 1e-12
    return abs(float(value) - float(center)) <= d + 1e-12


def in_box(
    params: dict[str, Any], center: dict[str, Any], space: Any, every: Any, r: float
) -> bool:
    """Whether `params` lies in the neighbourhood of `center`."""
    return all(
        name in params and _near(params[name], center[name], dim, every.by_name[name].type, r)
        for name, dim in space.items()
        if name in center
    )


def _move(value: Any, dim: Any, ptype: type, radius: float, rng: Any) -> Any:
    if dim.choices is not None:
        i = dim.choices.index(value) if value in dim.choices else 0
        j = min(len(dim.choices) - 1, max(0, i + int(rng.integers(-1, 2))))
        return dim.choices[j]
    low, high = float(dim.low), float(dim.high)
    d = _delta(dim, ptype, radius)
    u = float(rng.uniform(-1.0, 1.0)) * d
    if dim.log:
        x = math.exp(min(math.log(high), max(math.log(low), math.log(float(value)) + u)))
    else:
        x = min(high, max(low, float(value) + u))
    if dim.step is not None or ptype is int:
        step = float(dim.step) if dim.step is not None else 1.0
        x = low + round((x - low) / step) * step
        x = min(high, max(low, x))
    return int(round(x)) if ptype is int else round(x, 12)


def neighbours(
    center: dict[str, Any],
    space: Any,
    every: Any,
    n: int,
    radius: float,
    seed: int,
    taken: Sequence[dict[str, Any]] = (),
) -> list[dict[str, Any]]:
    """`n` distinct points near `center` (not `center` itself, nor any of `taken`)."""
    rng = np.random.default_rng(seed)
    seen = [dict(center), *map(dict, taken)]
    out: list[dict[str, Any]] = []
    for _ in range(50 * max(1, n)):
        if len(out) >= n:
            break
        p = {
            name: _move(center[name], dim, every.by_name[name].type, radius, rng)
            for name, dim in space.items()
            if name in center
        }
        if p not in seen:
            seen.append(p)
            out.append(p)
    return out

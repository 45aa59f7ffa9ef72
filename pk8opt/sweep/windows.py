"""The unit of evidence: the time window (the sessions of every symbol starting at once).

A trial plays the in-sample windows in its own seeded, shuffled order, a window's
sessions together, and keeps every session's P&L and fills. After each complete window
it reports to the pruner: Wilcoxon gets that window's value under the window's index
(the same instance id in every trial, whatever the order), the other pruners the
running objective after that many windows. The objectives per window
(`pnl_per_window`, `median_pnl_per_window`, `sharpe_per_window`,
`sortino_per_window`) are computed here from the per-window P&L: the sum over the
symbols of one window, the portfolio the live runner trades.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from pk8opt.backtest.results import is_summed, sharpe, sortino
from pk8opt.sweep.evaluate import Evaluator, session_value

# Objectives computed from the P&L per window (mean, median, Sharpe and Sortino
# ratios of the windows' P&L; never annualised).
WINDOW_METRICS = (
    "pnl_per_window",
    "median_pnl_per_window",
    "sharpe_per_window",
    "sortino_per_window",
)


def window_index(starts: Sequence[int]) -> tuple[list[int], list[list[int]]]:
    """Sessions' window starts -> (each session's window index, the sessions of each
    window), windows numbered in time order."""
    order = sorted(set(starts))
    at = {s: i for i, s in enumerate(order)}
    of = [at[s] for s in starts]
    members: list[list[int]] = [[] for _ in order]
    for i, w in enumerate(of):
        members[w].append(i)
    return of, members


def window_order(n_windows: int, seed: int | None, number: int) -> list[int]:
    """The order in which trial `number` visits the windows: shuffled, the same for the
    same seed and trial number, different from one trial to the next."""
    rng = np.random.default_rng([0 if seed is None else int(seed), int(number)])
    return [int(w) for w in rng.permutation(n_windows)]


def visit_order(members: list[list[int]], order: list[int]) -> list[int]:
    """Session indices in visiting order: each window's sessions together."""
    return [i for w in order for i in members[w]]


def window_values(per_session: Sequence[float | None], members: list[list[int]]) -> list[float]:
    """Per-window sums of a per-session series; a session without a result adds 0."""
    return [sum(per_session[i] or 0.0 for i in m) for m in members]


# The Sharpe ratio of the P&L per window is 0 only when the windows' P&L has no
# spread at all (1e-12), where a backtest's session Sharpe ratio cuts off at 1e-9.
WINDOW_SHARPE_MIN_SD = 1e-12


def summarize(values: Sequence[float], metric: str) -> float:
    """One window metric of a list of window values."""
    if not values:
        return 0.0
    if metric == "pnl_per_window":
        return statistics.fmean(values)
    if metric == "median_pnl_per_window":
        return float(statistics.median(values))
    if metric == "sharpe_per_window":
        return sharpe(values, min_sd=WINDOW_SHARPE_MIN_SD)
    if metric == "sortino_per_window":
        return sortino(values)
    raise KeyError(metric)


def window_metrics(window_pnl: Sequence[float], window_fills: Sequence[float]) -> dict[str, float]:
    out = {m: round(summarize(window_pnl, m), 9) + 0.0 for m in WINDOW_METRICS}
    out["windows"] = float(len(window_pnl))
    out["active_windows"] = float(sum(1 for f in window_fills if f > 0))
    return out


class TrialScore:
    """One trial's results, session by session, and what it reports to the pruner.

    `on_session(i, result)` takes the index in the visiting order; `report(value, step)`
    and `should_prune()` are the trial's. A window is complete when the visit has gone
    past its last session (a session the backtest skips never calls back)."""

    def __init__(
        self,
        metric: str,
        of: list[int],
        members: list[list[int]],
        order: list[int],
        *,
        per_instance: bool,
        warmup_windows: int,
    ) -> None:
        self.metric = metric
        self.of, self.members, self.order = of, members, order
        self.visit = visit_order(members, order)
        self.per_instance = per_instance  # Wilcoxon: one value per window, by window index
        self.warmup = max(1, warmup_windows)
        n = len(of)
        self.pnl: list[float | None] = [None] * n
        self.fills: list[float | None] = [None] * n
        self.value: list[float | None] = [None] * n  # the objective's session metric
        self.ends: list[int] = []  # position in `visit` where each visited window ends
        pos = 0
        for w in order:
            pos += len(members[w])
            self.ends.append(pos - 1)
        self.done = 0  # windows complete so far (in visiting order)
        self.reported: list[tuple[float, int]] = []

    def add(self, pos: int, result: Any) -> list[tuple[float, int]]:
        """Record the session at visit position `pos`; the (value, step) reports of the
        windows it completed (those whose last session is at or before `pos`)."""
        i = self.visit[pos]
        self.pnl[i] = session_value(result, "pnl_usdc")
        self.fills[i] = session_value(result, "fills")
        base = "pnl_usdc" if self.metric in WINDOW_METRICS else self.metric
        self.value[i] = session_value(result, base)
        return self._complete(pos)

    def _complete(self, upto: int) -> list[tuple[float, int]]:
        out: list[tuple[float, int]] = []
        while self.done < len(self.order) and self.ends[self.done] <= upto:
            w = self.order[self.done]
            self.done += 1
            out.append(self._report(w))
        self.reported += out
        return out

    def _window_value(self, w: int) -> float:
        vals = [v for i in self.members[w] if (v := self.value[i]) is not None]
        if not vals:
            return 0.0
        if self.metric in WINDOW_METRICS or is_summed(self.metric):
            return float(sum(vals))
        return float(statistics.fmean(vals))

    def _report(self, w: int) -> tuple[float, int]:
        if self.per_instance:
            return self._window_value(w), w
        seen = [self._window_value(x) for x in self.order[: self.done]]
        if self.metric in WINDOW_METRICS:
            value = summarize(seen, self.metric)
        elif is_summed(self.metric):
            value = float(sum(seen))
        else:
            value = float(statistics.fmean(seen))
        return value, self.done - 1

    def may_prune(self) -> bool:
        """Never before `warmup` complete windows (at least one), nor once every window
        is played: stopping then saves nothing and would throw the full score away (the
        trial is complete, however it compares)."""
        return self.warmup <= self.done < len(self.order)

    def finish(self) -> None:
        """After the backtest: windows ending in skipped sessions are complete too."""
        self._complete(len(self.visit))

    def window_pnl(self) -> list[float]:
        return window_values(self.pnl, self.members)

    def window_fills(self) -> list[float]:
        return window_values(self.fills, self.members)

    def attrs(self) -> dict[str, Any]:
        """What the trial keeps: per-session P&L and fills (in-sample time order, None
        for a session not played) and its visiting order of windows."""
        return {
            "session_pnl": [None if v is None else round(v, 9) for v in self.pnl],
            "session_fills": self.fills,
            "window_order": self.order,
        }


def objective_values(
    metrics: dict[str, float], objectives: Sequence[Any], score: TrialScore
) -> tuple[list[float], dict[str, float]]:
    """The trial's objective values and its metrics with the window metrics added."""
    full = {**metrics, **window_metrics(score.window_pnl(), score.window_fills())}
    return [full[o.metric] for o in objectives], full


def scored_run(
    evaluator: Evaluator,
    sessions: Sequence[Any],
    strategy: str,
    overrides: dict[str, Any],
    on_result: Callable[[int, Any], None] | None = None,
) -> tuple[dict[str, float], list[float | None], list[float | None]]:
    """One backtest in the given session order: aggregate metrics, per-session P&L and
    fills (None for a session the backtest skipped)."""
    pnl: list[float | None] = [None] * len(sessions)
    fills: list[float | None] = [None] * len(sessions)

    def on_session(i: int, result: Any) -> None:
        pnl[i] = session_value(result, "pnl_usdc")
        fills[i] = session_value(result, "fills")
        if on_result is not None:
            on_result(i, result)

    metrics = evaluator.run(list(sessions), strategy, overrides, on_session)
    return metrics, pnl, fills

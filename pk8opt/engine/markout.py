"""Fill reasons and markouts: what filled each order, and how the market moved after.

A fill's markout at horizon h is `mid(t + h) - price` per share, USDC: the token's mid
(best bid + best ask) / 2 at the end of the last market update at or before `t + h`
(the last valid mid when one side is missing; none before the first). Positive means
the market moved in the buyer's favour; a negative mean is adverse selection, the usual
cost of resting orders. Fills whose token had no mid yet are left out of the mean.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

HORIZONS_S = (1, 10, 60)
REASONS = ("queue", "trade_through", "book_through", "taker", "maker_flow")


class Fill(NamedTuple):
    t_ns: int
    token: int  # 0 Up, 1 Down
    price: float  # USDC
    qty: float
    why: str  # one of REASONS
    after_cancel: bool  # the fill came after our cancel was requested
    markouts: tuple[float | None, ...]  # per share, one per HORIZONS_S


class Mids:
    """Each token's mid over time, from the top of book at the end of updates (`times`
    ascending; consecutive equal tops may be left out)."""

    def __init__(self, times: Sequence[int], tops: Sequence[tuple[int, int, int, int]]) -> None:
        self.times = times
        self.tops = tops

    def at(self, token: int, t_ns: int) -> float | None:
        m = mid_at(self.times, self.tops, token, t_ns)
        return None if m != m else m


def mid_at(times: Any, tops: Any, token: int, t_ns: int) -> float:
    """The token's mid at `t_ns` (`Mids.at`; NaN where none is known yet).

    The one source of the markouts' mid: plain Python over lists or arrays (`tops[j]` a
    row of four), written only with what numba compiles, so the compiled replay compiles
    this very function.

    Compiled twin: pk8opt.backtest.compiled.markout._mid_at (this function, compiled).
    """
    lo = 0
    hi = len(times)
    while lo < hi:  # bisect_right
        m = (lo + hi) // 2
        if t_ns < times[m]:
            hi = m
        else:
            lo = m + 1
    j = lo - 1
    while j >= 0:
        top = tops[j]
        bid = top[2 * token]
        ask = top[2 * token + 1]
        if bid >= 0 and ask >= 0:
            return (bid + ask) / 2000.0
        j -= 1
    return math.nan


def fills_with_markouts(
    fill_log: Sequence[tuple[int, int, int, float, str, bool]], mids: Mids
) -> list[Fill]:
    """Each fill of the engine's `fill_log` with its markouts.

    Compiled twin: pk8opt.backtest.compiled.markout.markouts.

    Compiled twin: pk8opt.backtest.compiled.markout.markouts.
    """
    out = []
    for t, token, price_milli, qty, why, after_cancel in fill_log:
        px = price_milli / 1000.0
        marks = []
        for h in HORIZONS_S:
            m = mids.at(token, t + h * 1_000_000_000)
            marks.append(None if m is None else m - px)
        out.append(Fill(t, token, px, qty, why, after_cancel, tuple(marks)))
    return out

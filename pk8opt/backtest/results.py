"""Per-session and aggregate results of a backtest.

Aggregate keys (the sweep's objectives refer to them): pnl_usdc, fees_usdc, volume_usdc,
fills, orders, fill_rate, paired_shares, unpaired_shares, max_drawdown_usdc, maker_volume_usdc,
rebate_est_usdc (maker rebates the fills would earn, paid the next day and so not in
pnl_usdc), pnl_with_rebates_usdc, sharpe, sortino, win_rate, sessions, gate_<NAME>
for each gate of the strategy, and the fill quality figures: fills_<REASON> (fills by
what filled them: queue, trade_through, book_through, taker, maker_flow),
fills_after_cancel (fills that came after the order's cancel was requested) and
markout_<H>s (mean markout per share filled, USDC, against the mid H = 1, 10, 60
seconds after the fill; see `pk8opt.engine.markout`).
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pk8opt.backtest.drawdown import max_drawdown as max_drawdown
from pk8opt.backtest.session_result import MARKOUT_KEYS as MARKOUT_KEYS
from pk8opt.backtest.session_result import REASON_KEYS as REASON_KEYS
from pk8opt.backtest.session_result import SESSION_KEYS as SESSION_KEYS
from pk8opt.backtest.session_result import SessionResult as SessionResult
from pk8opt.backtest.session_result import _fill_quality, _r
from pk8opt.engine.markout import HORIZONS_S, REASONS

AGGREGATE_KEYS = (*SESSION_KEYS, "sharpe", "sortino", "win_rate", "sessions")
# Sums over sessions: compared across session sets only per session.
SUMMED_KEYS = frozenset(
    (
        "pnl_usdc",
        "fees_usdc",
        "volume_usdc",
        "fills",
        "orders",
        "paired_shares",
        "unpaired_shares",
        "sessions",
        "maker_volume_usdc",
        "rebate_est_usdc",
        "pnl_with_rebates_usdc",
        *REASON_KEYS,
        "fills_after_cancel",
    )
)


# Metrics renamed since: the old name (in an older study's objective or MLflow runs) -> new
RENAMED_METRICS = {"pairs": "paired_shares"}


def is_summed(key: str) -> bool:
    """Whether an aggregate metric is a sum over sessions (gate counts are too)."""
    key = RENAMED_METRICS.get(key, key)
    return key in SUMMED_KEYS or key.startswith("gate_")


def aggregate(sessions: list[SessionResult], gate_names: tuple[str, ...]) -> dict[str, float]:
    pnl = [s.pnl_usdc for s in sessions]
    n = len(sessions)
    orders = sum(s.orders for s in sessions)
    filled_orders = sum(s.orders_filled for s in sessions)
    agg: dict[str, float] = {
        "pnl_usdc": _r(sum(pnl)),
        "fees_usdc": _r(sum(s.fees_usdc for s in sessions)),
        "volume_usdc": _r(sum(s.volume_usdc for s in sessions)),
        "fills": sum(s.fills for s in sessions),
        "orders": orders,
        "fill_rate": _r(filled_orders / orders) if orders else 0.0,
        "paired_shares": _r(sum(s.paired_shares for s in sessions)),
        "unpaired_shares": _r(sum(s.unpaired_shares for s in sessions)),
        "max_drawdown_usdc": _r(_portfolio_drawdown(sessions)),
        "maker_volume_usdc": _r(sum(s.maker_volume_usdc for s in sessions)),
        "rebate_est_usdc": _r(sum(s.rebate_est_usdc for s in sessions)),
        "pnl_with_rebates_usdc": _r(sum(s.pnl_with_rebates_usdc for s in sessions)),
        "sharpe": _r(sharpe(pnl)),
        "sortino": _r(sortino(pnl)),
        "win_rate": _r(sum(1 for p in pnl if p > 0) / n) if n else 0.0,
        "sessions": n,
    }
    agg.update(_fill_quality(sessions))
    for g in gate_names:
        agg[f"gate_{g}"] = sum(s.gates.get(g, 0) for s in sessions)
    return agg


def fill_quality_lines(agg: dict[str, float]) -> list[str]:
    """The summary's lines on what filled the orders and how the market moved after."""
    fills = sum(int(agg.get(k, 0)) for k in REASON_KEYS)
    if not fills:
        return []
    mix = ", ".join(
        f"{r.replace('_', ' ')} {100 * agg[k] / fills:.0f}%"
        for r, k in zip(REASONS, REASON_KEYS, strict=True)
        if agg.get(k)
    )
    after = int(agg.get("fills_after_cancel", 0))
    marks = ", ".join(f"{h} s {agg[k]:+.4f}" for h, k in zip(HORIZONS_S, MARKOUT_KEYS, strict=True))
    return [
        f"fills by reason: {mix}; {100 * after / fills:.0f}% after a cancel was requested",
        f"mean markout per share (mid after the fill - price, USDC): {marks}",
    ]


def sharpe(pnl: Sequence[float], min_sd: float = 1e-9) -> float:
    """Mean over sample standard deviation (not annualised); 0 when undefined: fewer
    than 2 values, or a deviation of `min_sd` or less (no spread). The one Sharpe ratio
    of a backtest's session P&L (`aggregate`, min_sd 1e-9) and of a trial's P&L per
    window (`sweep.windows`, min_sd 1e-12)."""
    if len(pnl) < 2:
        return 0.0
    sd = statistics.stdev(pnl)
    return statistics.fmean(pnl) / sd if sd > min_sd else 0.0


def sortino(pnl: Sequence[float]) -> float:
    """Mean over downside deviation (root mean square of losses); 0 when no losses."""
    if len(pnl) < 2:
        return 0.0
    down = math.sqrt(sum(min(p, 0.0) ** 2 for p in pnl) / len(pnl))
    return statistics.fmean(pnl) / down if down > 1e-12 else 0.0


def _chained_equity(sessions: list[SessionResult]) -> tuple[list[int], list[float]]:
    """Total P&L over time: every session's equity change since its start, summed.

    Sessions of different symbols run at the same time; their changes are merged in
    time order (ties in session order), so the curve is a portfolio's.
    """
    ts, vs = _chained_arrays(sessions)
    return ts.tolist(), vs.tolist()


def _chained_arrays(sessions: list[SessionResult]) -> tuple[np.ndarray, np.ndarray]:
    """`_chained_equity` as arrays, so a sweep's memory stays small over thousands of
    sessions (about 32 bytes a sample while merging). The sums are the very ones of adding the changes one
    after the other in time order (a cumulative sum is sequential); a stable sort on time
    keeps ties in session order, as the sessions are concatenated in order.

    Compiled twin: pk8opt.backtest.compiled.equity._drawdown.
    """
    times, deltas = [], []
    for s in sessions:
        if not len(s.equity_v):
            continue
        v = np.asarray(s.equity_v, dtype=np.float64)
        d = np.empty_like(v)
        d[0] = (v[0] - v[0]) - 0.0
        d[1:] = (v[1:] - v[0]) - (v[:-1] - v[0])
        times.append(np.asarray(s.equity_t, dtype=np.int64))
        deltas.append(d)
    if not times:
        return np.zeros(0, np.int64), np.zeros(0, np.float64)
    t = np.concatenate(times)
    del times
    order = np.argsort(t, kind="stable")
    values = np.concatenate(deltas)[order]
    del deltas
    np.cumsum(values, out=values)
    return t[order], values


def _portfolio_drawdown(sessions: list[SessionResult]) -> float:
    """The max drawdown of the chained equity (`_chained_arrays`), walked in the merged
    order without building it (`backtest.compiled.equity`: same additions, same result)."""
    from pk8opt.backtest.compiled.equity import merged_drawdown

    return merged_drawdown(sessions)


@dataclass
class BacktestResult:
    sessions: list[SessionResult]
    skipped: list[tuple[str, str]]
    aggregate: dict[str, float]
    strategy: str = ""
    config_env: dict[str, str] = field(default_factory=dict)

    def equity_curve(self) -> tuple[list[int], list[float]]:
        """(time_ns, total P&L in USDC) across sessions in time order, for plots."""
        return _chained_equity(self.sessions)

    def equity_by_symbol(self) -> dict[str, tuple[list[int], list[float]]]:
        """`equity_curve` of each symbol's sessions alone (BTC, ETH, ...), for plots."""
        groups: dict[str, list[SessionResult]] = {}
        for s in self.sessions:
            groups.setdefault(s.slug.split("-", 1)[0].upper(), []).append(s)
        return {sym: _chained_equity(ss) for sym, ss in sorted(groups.items())}

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "config": dict(sorted(self.config_env.items())),
            "aggregate": self.aggregate,
            "sessions": [s.to_dict() for s in self.sessions],
            "skipped": [{"slug": slug, "reason": reason} for slug, reason in self.skipped],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False)

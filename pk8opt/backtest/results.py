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
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pk8opt.engine.markout import HORIZONS_S, REASONS, Fill

REASON_KEYS = tuple(f"fills_{r}" for r in REASONS)
MARKOUT_KEYS = tuple(f"markout_{h}s" for h in HORIZONS_S)
SESSION_KEYS = (
    "pnl_usdc",
    "fees_usdc",
    "volume_usdc",
    "fills",
    "orders",
    "fill_rate",
    "paired_shares",
    "unpaired_shares",
    "max_drawdown_usdc",
    "maker_volume_usdc",
    "rebate_est_usdc",
    "pnl_with_rebates_usdc",
    *REASON_KEYS,
    "fills_after_cancel",
    *MARKOUT_KEYS,
)
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


def max_drawdown(values: list[float]) -> float:
    peak = -math.inf
    worst = 0.0
    for v in values:
        if v > peak:
            peak = v
        elif peak - v > worst:
            worst = peak - v
    return worst


def _r(x: float) -> float:
    """Round for stable output (sub-micro-dollar float noise is not information)."""
    return round(float(x), 9) + 0.0


@dataclass
class SessionResult:
    slug: str
    winner: str
    pnl_usdc: float
    fees_usdc: float
    volume_usdc: float
    fills: int
    orders: int
    fill_rate: float  # share of accepted orders that filled at least partly
    # min(Up, Down) shares held at settlement: the shares of each leg that form complete
    # Up+Down pairs (each pays 1 USDC whoever wins)
    paired_shares: float
    unpaired_shares: float  # |Up - Down| shares held at settlement
    max_drawdown_usdc: float  # of mark-to-market equity within the session
    events: int
    strategy_calls: int
    orders_filled: int = 0
    maker_volume_usdc: float = 0.0  # notional filled as maker
    rebate_est_usdc: float = 0.0  # estimated maker rebates (paid later, not in pnl_usdc)
    rejections: dict[str, int] = field(default_factory=dict)
    gates: dict[str, int] = field(default_factory=dict)
    equity_t: list[int] = field(default_factory=list, repr=False)
    equity_v: list[float] = field(default_factory=list, repr=False)
    fill_list: list[Fill] = field(default_factory=list, repr=False)  # with reason, markouts

    @property
    def fill_reasons(self) -> dict[str, int]:
        counts = dict.fromkeys(REASONS, 0)
        for f in self.fill_list:
            counts[f.why] = counts.get(f.why, 0) + 1
        return counts

    @property
    def fills_after_cancel(self) -> int:
        return sum(1 for f in self.fill_list if f.after_cancel)

    def markout_sums(self) -> list[tuple[float, float]]:
        """Per horizon: (sum of qty x markout in USDC, shares with a markout)."""
        return _markout_sums(self.fill_list)

    @property
    def pnl_with_rebates_usdc(self) -> float:
        return self.pnl_usdc + self.rebate_est_usdc

    def metrics(self) -> dict[str, float]:
        out = {
            k: _r(getattr(self, k)) if isinstance(getattr(self, k), float) else getattr(self, k)
            for k in SESSION_KEYS[: SESSION_KEYS.index(REASON_KEYS[0])]
        }
        out.update(_fill_quality([self]))
        out.update({f"gate_{g}": n for g, n in sorted(self.gates.items())})
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "winner": self.winner,
            **self.metrics(),
            "events": self.events,
            "strategy_calls": self.strategy_calls,
            "rejections": dict(sorted(self.rejections.items())),
        }


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


def _markout_sums(fills: list[Fill]) -> list[tuple[float, float]]:
    sums = []
    for i in range(len(HORIZONS_S)):
        usdc = shares = 0.0
        for f in fills:
            m = f.markouts[i]
            if m is not None:
                usdc += f.qty * m
                shares += f.qty
        sums.append((usdc, shares))
    return sums


def _fill_quality(sessions: list[SessionResult]) -> dict[str, float]:
    """fills_<REASON>, fills_after_cancel and markout_<H>s over the sessions' fills."""
    out: dict[str, float] = {}
    reasons = [s.fill_reasons for s in sessions]
    for r, key in zip(REASONS, REASON_KEYS, strict=True):
        out[key] = sum(c.get(r, 0) for c in reasons)
    out["fills_after_cancel"] = sum(s.fills_after_cancel for s in sessions)
    per = [s.markout_sums() for s in sessions]
    for i, key in enumerate(MARKOUT_KEYS):
        usdc = sum(p[i][0] for p in per)
        shares = sum(p[i][1] for p in per)
        out[key] = _r(usdc / shares) if shares > 0 else 0.0
    return out


def sharpe(pnl: list[float]) -> float:
    """Mean over sample standard deviation of session P&L; 0 when undefined."""
    if len(pnl) < 2:
        return 0.0
    mean = sum(pnl) / len(pnl)
    var = sum((p - mean) ** 2 for p in pnl) / (len(pnl) - 1)
    return mean / math.sqrt(var) if var > 1e-18 else 0.0


def sortino(pnl: list[float]) -> float:
    """Mean over downside deviation (root mean square of losses); 0 when no losses."""
    if len(pnl) < 2:
        return 0.0
    mean = sum(pnl) / len(pnl)
    down = math.sqrt(sum(min(p, 0.0) ** 2 for p in pnl) / len(pnl))
    return mean / down if down > 1e-12 else 0.0


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
    keeps ties in session order, as the sessions are concatenated in order."""
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
    order without building it (`engine.compiled.equity`: same additions, same result)."""
    from pk8opt.backtest.compiled.equity import merged_drawdown

    return merged_drawdown(sessions)


def _max_drawdown_of(values: np.ndarray) -> float:
    """`max_drawdown` of an array, with the same result."""
    if not len(values):
        return 0.0
    return float(max(0.0, float((np.maximum.accumulate(values) - values).max())))


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

"""One session's result (`SessionResult`) and its metrics; `results` aggregates them.

A leaf of the backtest package: the drivers (`replay`, `compiled`) make these and
`results` scores them, so none of those import each other to share it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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

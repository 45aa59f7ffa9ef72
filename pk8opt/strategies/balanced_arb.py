"""balanced_arb: buy Up and Down so that a pair costs less than 1 - edge.

Every pair (one Up share + one Down share) pays exactly 1 at settlement, so pairs
bought below 1 - edge lock in the edge. The strategy bids both legs passively, lets the
lagging leg bid a little higher (and only below what completes a pair at an edge), and
stops the leading leg once it is too far ahead. Gates (docs/strategies.md):

  ZONE      outside the trading zone: too early (start_after) or too close to the end
  BOOK      a best bid or ask is missing on either token (empty or stale book)
  CROSSED   the token's book is crossed or locked (bid >= ask): data not trustworthy
  SPREAD    the token's spread is wider than max_spread
  CAP       the leg already holds max_inventory shares
  IMBALANCE the leg leads the other by max_imbalance shares or more
  EDGE      the bid would not leave a pair below 1 - edge
  PRICE     the bid falls outside [min_price, max_price]
  EXPOSURE  the order would take the USDC spent on shares above max_exposure_usdc
"""

from __future__ import annotations

import math

from pk8opt.params import Param, ParamSet
from pk8opt.strategies.base import Desired, Strategy, StrategyContext, StrategyQuote

EPS = 1e-9


class BalancedArbStrategy(Strategy):
    """Buys Up and Down so a pair costs less than 1 - edge, legs kept balanced."""

    name = "balanced_arb"
    pure = True
    gates = ("ZONE", "BOOK", "CROSSED", "SPREAD", "CAP", "IMBALANCE", "EDGE", "PRICE", "EXPOSURE")
    compiled = "pk8opt.backtest.compiled.strategies:balanced_arb"
    whys = (*gates, "lag", "entry")
    params = ParamSet(
        [
            Param(
                "edge",
                float,
                0.02,
                "PM_ARB_EDGE",
                "Required profit per pair: Up bid + Down bid <= 1 - edge",
                low=0.0,
                high=0.3,
            ),
            Param(
                "size",
                float,
                10.0,
                "PM_ARB_SIZE",
                "Shares per order",
                low=1.0,
                high=1000.0,
                log=True,
            ),
            Param(
                "max_inventory",
                float,
                200.0,
                "PM_ARB_MAX_INVENTORY",
                "Most shares held per leg",
                low=0.0,
                high=100000.0,
            ),
            Param(
                "max_imbalance",
                float,
                20.0,
                "PM_ARB_MAX_IMBALANCE",
                "Most shares one leg may lead the other by",
                low=0.0,
                high=10000.0,
            ),
            Param(
                "max_exposure_usdc",
                float,
                500.0,
                "PM_ARB_MAX_EXPOSURE_USDC",
                "Most USDC spent on shares held",
                low=0.0,
                high=1e7,
                unit="USDC",
            ),
            Param(
                "stop_before_end_seconds",
                float,
                60.0,
                "PM_ARB_STOP_BEFORE_END_SECONDS",
                "Stop quoting this long before the window ends",
                low=0.0,
                high=3600.0,
                unit="s",
            ),
            Param(
                "start_after_seconds",
                float,
                0.0,
                "PM_ARB_START_AFTER_SECONDS",
                "Start quoting this long after the window starts",
                low=0.0,
                high=3600.0,
                unit="s",
            ),
            Param(
                "min_price", float, 0.05, "PM_ARB_MIN_PRICE", "Lowest bid", low=0.001, high=0.999
            ),
            Param(
                "max_price", float, 0.95, "PM_ARB_MAX_PRICE", "Highest bid", low=0.001, high=0.999
            ),
            Param(
                "max_spread",
                float,
                0.05,
                "PM_ARB_MAX_SPREAD",
                "Widest bid-ask spread of a token to quote it",
                low=0.001,
                high=1.0,
            ),
            Param(
                "join_ticks",
                int,
                0,
                "PM_ARB_JOIN_TICKS",
                "Bid this many ticks above the best bid (negative: below)",
                low=-20,
                high=10,
            ),
            Param(
                "lag_boost_ticks",
                int,
                1,
                "PM_ARB_LAG_BOOST_TICKS",
                "Extra ticks bid on the lagging leg",
                low=0,
                high=20,
            ),
        ]
    )
    edge: float
    size: float
    max_inventory: float
    max_imbalance: float
    max_exposure_usdc: float
    stop_before_end_seconds: float
    start_after_seconds: float
    min_price: float
    max_price: float
    max_spread: float
    join_ticks: int
    lag_boost_ticks: int

    def __init__(self, **values: object) -> None:
        super().__init__(**values)
        self._limit = 1000 - int(round(self.edge * 1000))
        self._spread = int(round(self.max_spread * 1000))
        self._min_px = int(round(self.min_price * 1000))
        self._max_px = int(round(self.max_price * 1000))

    def compiled_params(self) -> list[float]:
        return [
            self._limit,
            self._spread,
            self._min_px,
            self._max_px,
            self.size,
            self.max_inventory,
            self.max_imbalance,
            self.max_exposure_usdc,
            self.stop_before_end_seconds,
            self.start_after_seconds,
            self.join_ticks,
            self.lag_boost_ticks,
        ]

    def tau_breakpoints(self, window_seconds: float) -> tuple[float, ...]:
        return (self.stop_before_end_seconds, window_seconds - self.start_after_seconds)

    def quote(self, ctx: StrategyContext) -> StrategyQuote:
        """Compiled twin: pk8opt.backtest.compiled.strategies.balanced_arb."""
        tau = ctx.tau_seconds
        if (
            tau < self.stop_before_end_seconds
            or tau > ctx.window_seconds - self.start_after_seconds
        ):
            return _BOTH["ZONE"]
        if ctx.by is None or ctx.ay is None or ctx.bn is None or ctx.an is None:
            return _BOTH["BOOK"]
        # prices to milli (positive: adding a half rounds to nearest)
        by = int(ctx.by * 1000.0 + 0.5)
        ay = int(ctx.ay * 1000.0 + 0.5)
        bn = int(ctx.bn * 1000.0 + 0.5)
        an = int(ctx.an * 1000.0 + 0.5)
        tu = int(ctx.tick_up * 1000.0 + 0.5)
        td = int(ctx.tick_dn * 1000.0 + 0.5)
        qy, qn = ctx.qy, ctx.qn
        join, boost = self.join_ticks, self.lag_boost_ticks
        base_up = by + join * tu + (boost * tu if qn - qy > EPS else 0)
        if base_up > ay - tu:
            base_up = ay - tu
        base_dn = bn + join * td + (boost * td if qy - qn > EPS else 0)
        if base_dn > an - td:
            base_dn = an - td
        up = self._leg(ctx, by, ay, tu, qy, qn, ctx.cost_n, base_up, base_dn)
        dn = self._leg(ctx, bn, an, td, qn, qy, ctx.cost_y, base_dn, base_up)
        return StrategyQuote(up, dn)

    def _leg(
        self,
        ctx: StrategyContext,
        bid: int,
        ask: int,
        tick: int,
        q_leg: float,
        q_other: float,
        cost_other: float,
        px: int,
        px_other: int,
    ) -> Desired:
        """Compiled twin: pk8opt.backtest.compiled.strategies._arb_leg."""
        if bid >= ask:
            return _GATE["CROSSED"]
        if ask - bid > self._spread:
            return _GATE["SPREAD"]
        if q_leg >= self.max_inventory - EPS:
            return _GATE["CAP"]
        lead = q_leg - q_other
        if lead >= self.max_imbalance - EPS and lead > EPS:
            return _GATE["IMBALANCE"]
        limit = self._limit
        lagging = -lead > EPS
        if lagging:
            cap = math.floor((limit - cost_other * 1000) + EPS)
            px = min(px, cap // tick * tick)
        elif px + px_other > limit:
            return _GATE["EDGE"]
        if px < self._min_px or px < tick or px > self._max_px:
            return _GATE["PRICE"]
        q = self.size if self.size >= ctx.min_order_size else ctx.min_order_size
        if ctx.current_exposure + q * px / 1000.0 > self.max_exposure_usdc + EPS:
            return _GATE["EXPOSURE"]
        return Desired(px / 1000.0, q, "lag" if lagging else "entry")


_GATE = {g: Desired(None, 0.0, g) for g in BalancedArbStrategy.gates}
_BOTH = {g: StrategyQuote(d, d) for g, d in _GATE.items()}

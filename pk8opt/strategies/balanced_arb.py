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


def _milli(x: float) -> int:
    return int(round(x * 1000))


class BalancedArbStrategy(Strategy):
    name = "balanced_arb"
    pure = True
    gates = ("ZONE", "BOOK", "CROSSED", "SPREAD", "CAP", "IMBALANCE", "EDGE", "PRICE", "EXPOSURE")
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

    def tau_breakpoints(self, window_seconds: float) -> tuple[float, ...]:
        return (self.stop_before_end_seconds, window_seconds - self.start_after_seconds)

    def quote(self, ctx: StrategyContext) -> StrategyQuote:
        tau = ctx.tau_seconds
        if (
            tau < self.stop_before_end_seconds
            or tau > ctx.window_seconds - self.start_after_seconds
        ):
            gate = Desired(None, 0.0, "ZONE")
            return StrategyQuote(gate, gate)
        if ctx.by is None or ctx.ay is None or ctx.bn is None or ctx.an is None:
            gate = Desired(None, 0.0, "BOOK")
            return StrategyQuote(gate, gate)
        by, ay, bn, an = _milli(ctx.by), _milli(ctx.ay), _milli(ctx.bn), _milli(ctx.an)
        tu, td = _milli(ctx.tick_up), _milli(ctx.tick_dn)
        base_up = self._base(by, ay, tu, lagging=ctx.qn - ctx.qy > EPS)
        base_dn = self._base(bn, an, td, lagging=ctx.qy - ctx.qn > EPS)
        up = self._leg(ctx, by, ay, tu, ctx.qy, ctx.qn, ctx.cost_n, base_up, base_dn)
        dn = self._leg(ctx, bn, an, td, ctx.qn, ctx.qy, ctx.cost_y, base_dn, base_up)
        return StrategyQuote(up, dn)

    def _base(self, bid: int, ask: int, tick: int, *, lagging: bool) -> int:
        px = bid + self.join_ticks * tick + (self.lag_boost_ticks * tick if lagging else 0)
        return min(px, ask - tick)

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
        if bid >= ask:
            return Desired(None, 0.0, "CROSSED")
        if ask - bid > _milli(self.max_spread):
            return Desired(None, 0.0, "SPREAD")
        if q_leg >= self.max_inventory - EPS:
            return Desired(None, 0.0, "CAP")
        lead = q_leg - q_other
        if lead >= self.max_imbalance - EPS and lead > EPS:
            return Desired(None, 0.0, "IMBALANCE")
        limit = 1000 - _milli(self.edge)
        lagging = q_other - q_leg > EPS
        if lagging:
            cap = math.floor((limit - cost_other * 1000) + EPS)
            px = min(px, cap // tick * tick)
        elif px + px_other > limit:
            return Desired(None, 0.0, "EDGE")
        if px < max(_milli(self.min_price), tick) or px > _milli(self.max_price):
            return Desired(None, 0.0, "PRICE")
        q = max(self.size, ctx.min_order_size)
        if ctx.current_exposure + q * px / 1000.0 > self.max_exposure_usdc + EPS:
            return Desired(None, 0.0, "EXPOSURE")
        return Desired(px / 1000.0, q, "lag" if lagging else "entry")

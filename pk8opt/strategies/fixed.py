"""fixed: constant bids on both tokens, the reference for checking the fill model."""

from __future__ import annotations

from pk8opt.params import Param, ParamSet
from pk8opt.strategies.base import Desired, Strategy, StrategyContext, StrategyQuote


class FixedStrategy(Strategy):
    """Bids constant prices and sizes on both tokens: the reference for checking fills."""

    name = "fixed"
    pure = True
    params = ParamSet(
        [
            Param(
                "up_price",
                float,
                0.45,
                "PM_FIXED_UP_PRICE",
                "Bid on Up at this price (0: no Up order)",
                low=0.0,
                high=0.999,
            ),
            Param(
                "down_price",
                float,
                0.45,
                "PM_FIXED_DOWN_PRICE",
                "Bid on Down at this price (0: no Down order)",
                low=0.0,
                high=0.999,
            ),
            Param("size", float, 5.0, "PM_FIXED_SIZE", "Shares per order", low=0.0, high=100000.0),
            Param(
                "max_inventory",
                float,
                100.0,
                "PM_FIXED_MAX_INVENTORY",
                "Stop bidding a token once this many shares are held",
                low=0.0,
                high=1e6,
            ),
        ]
    )
    gates = ("CAP",)
    compiled = "pk8opt.backtest.compiled.strategies:fixed"
    whys = ("off", "CAP", "fixed")
    up_price: float
    down_price: float
    size: float
    max_inventory: float

    def compiled_params(self) -> list[float]:
        return [self.up_price, self.down_price, self.size, self.max_inventory]

    def quote(self, ctx: StrategyContext) -> StrategyQuote:
        """Compiled twin: pk8opt.backtest.compiled.strategies.fixed."""
        return StrategyQuote(self._leg(self.up_price, ctx.qy), self._leg(self.down_price, ctx.qn))

    def _leg(self, px: float, held: float) -> Desired:
        """Compiled twin: pk8opt.backtest.compiled.strategies.fixed."""
        if px <= 0.0:
            return Desired(None, 0.0, "off")
        if held >= self.max_inventory:
            return Desired(None, 0.0, "CAP")
        return Desired(px, self.size, "fixed")

"""join: one buy order at the best bid, following it (the reference quoting policy).

Bids `size` shares at the best bid of the chosen token(s). When the bid moves, the
trade loop replaces the order under its requote rules: at once when the move is at
least `PM_REQUOTE_MIN_TICKS` ticks (set it to 1 to follow every move), and never more
than once per `PM_MIN_REQUOTE_SECONDS` per token. Gate:

  BOOK      the token has no best bid
"""

from __future__ import annotations

from pk8opt.params import Param, ParamSet
from pk8opt.strategies.base import Desired, Strategy, StrategyContext, StrategyQuote

_OFF = Desired(None, 0.0, "off")
_NO_BID = Desired(None, 0.0, "BOOK")


class JoinStrategy(Strategy):
    """One BUY of `size` shares at the best bid of `token` (up, down or both)."""

    name = "join"
    pure = True
    gates = ("BOOK",)
    compiled = "pk8opt.backtest.compiled.strategies:join"
    whys = ("off", "BOOK", "join")
    params = ParamSet(
        [
            Param(
                "token",
                str,
                "up",
                "PM_JOIN_TOKEN",
                "Which token's best bid to join: up, down or both",
                choices=("up", "down", "both"),
            ),
            Param(
                "size",
                float,
                10.0,
                "PM_JOIN_SIZE",
                "Shares per order",
                low=1.0,
                high=100000.0,
                log=True,
            ),
        ]
    )
    token: str
    size: float

    def compiled_params(self) -> list[float]:
        up = self.token in ("up", "both")
        down = self.token in ("down", "both")
        return [float(up), float(down), self.size]

    def quote(self, ctx: StrategyContext) -> StrategyQuote:
        """Compiled twin: pk8opt.backtest.compiled.strategies.join."""
        up = self._leg(ctx.by) if self.token in ("up", "both") else _OFF
        down = self._leg(ctx.bn) if self.token in ("down", "both") else _OFF
        return StrategyQuote(up, down)

    def _leg(self, bid: float | None) -> Desired:
        """Compiled twin: pk8opt.backtest.compiled.strategies.join."""
        if bid is None:
            return _NO_BID
        return Desired(bid, self.size, "join")

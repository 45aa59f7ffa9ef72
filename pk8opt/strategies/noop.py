"""noop: never quotes (the default strategy, as in ORIGIN.md)."""

from __future__ import annotations

from pk8opt.strategies.base import Desired, Strategy, StrategyContext, StrategyQuote

_NONE = StrategyQuote(Desired(None, 0.0, "noop"), Desired(None, 0.0, "noop"))


class NoopStrategy(Strategy):
    """Quotes nothing: the baseline, and a way to watch markets without trading."""

    name = "noop"
    pure = True
    compiled = "pk8opt.backtest.compiled.strategies:noop"
    whys = ("noop",)

    def quote(self, ctx: StrategyContext) -> StrategyQuote:
        """Compiled twin: pk8opt.backtest.compiled.strategies.noop."""
        return _NONE

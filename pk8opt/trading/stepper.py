"""One market window stepped frame by frame through the paper engine and the trade loop.

Replay's events mode and the live runner both drive a window through `SessionStepper`,
so they run the same code; backtest's fast and compiled modes are tested against it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from pk8opt.engine.eventlog import EventLog
from pk8opt.engine.feed import FeedClock
from pk8opt.engine.market import WINNER_INDEX, MarketSpec
from pk8opt.engine.paper import BookView, PaperEngine
from pk8opt.strategies import get_strategy
from pk8opt.strategies.base import Strategy
from pk8opt.trading.run_config import RunConfig
from pk8opt.trading.trader import Trader
from pk8opt.venue.base import Venue


class SessionStepper:
    """One market window stepped frame by frame: the paper engine takes every row, the
    trade loop decides at each frame boundary. Replay's events mode and the live
    runner both drive a window through this, so they run the same code.

    `on_frame(rows)` takes the rows of one frame (columns as arrays or lists),
    `advance_to(t_ns)` runs the engine's timers up to a time, `settle(winner, t_ns)`
    closes the window with its winner ("Up"/"Down"), `finish(t_ns)` stops without one.
    Times given to these are on the engine's clock (`engine.feed`): a driver holding
    local times converts them with `self.clock.convert`.

    On the venue clock with a feed latency, the decision on a frame is taken that
    latency after the frame changed the book; frames the venue sent in between reach
    the engine first. Decisions wait in `pending` until the next frame's time (or the
    settlement) shows that no frame can come before them.
    """

    def __init__(
        self,
        manifest: Any,
        config: RunConfig,
        log: EventLog | None = None,
        *,
        strategy: Strategy | None = None,
        view: BookView | None = None,
        skip_unchanged: bool = True,
        metrics: Any = None,
        venue: Venue | None = None,
    ) -> None:
        self.spec = MarketSpec.from_manifest(manifest)
        # with a venue the engine only follows the book: no order, nothing to log
        engine_log = log if venue is None else None
        self.engine = PaperEngine(self.spec, config.engine_settings, log=engine_log, view=view)
        if metrics is not None and venue is None:  # a fill_metrics.FillMetrics
            self.engine.log = metrics.tap(log, self.engine)
        if strategy is None:
            strategy = get_strategy(config.strategy)(**config.strategy_params)
        # Where the orders go: the paper engine, or a venue given (the real one). The
        # engine follows the book either way; with a venue it holds no order.
        self.venue: Venue = self.engine if venue is None else venue
        self.trader = Trader(
            self.venue, strategy, config.trader_params, skip_unchanged=skip_unchanged
        )
        self.clock = FeedClock.from_params(config.engine_params)
        self.last_ns = 0
        self.held = (0.0, 0.0)  # positions just before settlement
        self.closed = False
        # decisions not yet taken: (time, top, ticks), in time order
        self.pending: deque[tuple[int, tuple[int, int, int, int], tuple[int, int]]] = deque()
        # the top of book after every update that changed it (for markouts)
        self.top_t: Sequence[int] = []
        self.tops: Sequence[tuple[int, int, int, int]] = []

    def on_frame(self, rows: Mapping[str, Any]) -> None:
        local, exch, kinds, tokens, sides, prices, sizes = (
            rows[k].tolist() if hasattr(rows[k], "tolist") else rows[k]
            for k in ("local_ns", "exch_ms", "kind", "token", "side", "price", "size")
        )
        self.step_rows(local, exch, kinds, tokens, sides, prices, sizes, 0, len(local))

    def step_rows(
        self,
        local: Sequence[int],
        exch: Sequence[int],
        kinds: Sequence[int],
        tokens: Sequence[int],
        sides: Sequence[int],
        prices: Sequence[int],
        sizes: Sequence[float],
        lo: int,
        hi: int,
    ) -> None:
        """Rows `lo:hi` of the columns are one frame: feed them, then end the frame.

        Compiled twin: pk8opt.backtest.compiled.kernel.run_kernel.
        """
        if hi <= lo or self.closed:
            return
        clock = self.clock
        if clock.venue:
            t = clock.frame(local[hi - 1], max(exch[lo:hi]) if hi - lo > 1 else exch[lo])
        else:
            t = local[hi - 1]
        pending = self.pending
        if pending and pending[0][0] <= t:
            self._decide(t)  # decisions due at or before this frame come first
        engine = self.engine
        engine.on_rows(t, kinds, tokens, sides, prices, sizes, lo, hi)
        engine.end_frame(t)
        tracker = engine.tracker
        top = tracker.top()
        tops = self.tops
        if not tops or tops[-1] != top:
            self.top_t.append(t)  # type: ignore[attr-defined]
            tops.append(top)  # type: ignore[attr-defined]
        self.last_ns = t
        tick = tracker.tick
        delay = clock.delay_ns
        if delay == 0:
            self.trader.on_frame(t, top, (tick[0], tick[1]))
        else:
            pending.append((t + delay, top, (tick[0], tick[1])))

    def _decide(self, upto_ns: int) -> None:
        """Take the pending decisions due at or before `upto_ns`."""
        pending, engine, trader = self.pending, self.engine, self.trader
        while pending and pending[0][0] <= upto_ns:
            d, top, ticks = pending.popleft()
            engine.advance_to(d)
            trader.on_frame(d, top, ticks)

    def advance_to(self, t_ns: int) -> None:
        if not self.closed:
            self._decide(t_ns)
            self.engine.advance_to(t_ns)

    def settle(self, winner: str, t_ns: int) -> None:
        """The window's winner is known: orders expire, winning shares pay 1 each.

        Compiled twin: pk8opt.backtest.compiled.kernel.run_kernel.
        """
        if self.closed:
            return
        self._decide(t_ns)
        self.pending.clear()
        self.engine.advance_to(t_ns)
        acct = self.venue.account
        self.held = (acct.pos[0], acct.pos[1])
        self.engine.close(t_ns, WINNER_INDEX[winner])
        if self.venue is not self.engine:
            self.venue.close(t_ns, WINNER_INDEX[winner])
        self.trader.finish(t_ns)
        self.closed = True

    def finish(self, t_ns: int) -> None:
        """Stop without a settlement (the run ended first): timers run up to `t_ns`."""
        self.advance_to(t_ns)

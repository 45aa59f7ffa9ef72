"""What a live window's frames are stepped through: a watch-only book, or replay's
per-session stepper with the engine, the portfolio and pausing."""

from __future__ import annotations

from typing import Any

from pk8opt.engine.eventlog import EventLog as EngineLog
from pk8opt.engine.orders import Status
from pk8opt.live.dashboard import OrderView, PortfolioView, PositionView, WindowView
from pk8opt.live.runs import price_or_none
from pk8opt.recordings.book import MarketBook
from pk8opt.recordings.manifest import Manifest
from pk8opt.recordings.schema import PRICE_SCALE
from pk8opt.trading.fill_metrics import FillMetrics
from pk8opt.trading.runlog import RunLog
from pk8opt.trading.stepper import SessionStepper


class BookStepper:
    """Watch-only stepper: keeps the market's book for the dashboard, never trades."""

    traded = False

    def __init__(self, manifest: Manifest) -> None:
        self.book = MarketBook(int(round(manifest.tick_size * PRICE_SCALE)))

    def on_frame(self, rows: dict[str, Any], t_ns: int) -> None:
        if len(rows["kind"]):
            self.book.apply_rows(rows)

    def settle(self, outcome: str, t_ns: int) -> None:
        pass

    def finish(self, t_ns: int) -> None:
        pass


class EngineStepper(SessionStepper):
    """Replay's `SessionStepper` for one live window, with what the dashboard needs:
    the book, the portfolio, and pausing."""

    def __init__(
        self,
        manifest: Manifest,
        config: Any,
        log_sink: RunLog,
        traded: bool,
        metrics: FillMetrics | None = None,
        venue: Any = None,
    ) -> None:
        log = EngineLog(log_sink)  # type: ignore[arg-type]
        super().__init__(manifest, config, log, metrics=metrics, venue=venue)
        self.quoting = bool(self.trader.enabled)  # PM_TRADE_ENABLED
        self.traded = traded
        self.trader.enabled = self.quoting and traded
        self.book = _TrackerBook(self.engine.tracker)
        self.label = manifest.symbol

    def on_frame(self, rows: Any, t_ns: int | None = None) -> None:
        super().on_frame(rows)

    def settle(self, winner: str, t_ns: int) -> None:
        """Settle where the replay of the recording settles (`backtest.replay.run_session`):
        after the last frame stepped, or at the window's end if that is later; not when
        the winner became known (`t_ns`). A `market_resolved` frame is that last frame,
        but a Gamma poll answers later, and settling then would run the engine's timers
        further than the replay can."""
        super().settle(winner, max(self.last_ns, self.spec.window_end_ns))

    # The runner's times are local (the venue clock of `VenueClock`); the engine may run
    # on the venue's timestamps (PM_PAPER_FEED_CLOCK=venue): convert as frames are.
    def finish(self, t_ns: int) -> None:
        super().finish(self.clock.convert(t_ns))

    def set_paused(self, paused: bool) -> None:
        """Pause: stop quoting and cancel every resting order; resume: quote again."""
        self.trader.enabled = self.quoting and self.traded and not paused
        self.trader.next_wake_ns = 0  # decide again at the next frame
        if paused and not self.closed:
            self.trader.cancel_all(self.engine.now_ns)

    def portfolio_view(self) -> Any:
        acct = self.venue.account
        positions = []
        for tok, name in ((0, "UP"), (1, "DOWN")):
            shares = acct.pos[tok]
            if shares:
                mark = price_or_none(self.book.best_bid(tok))
                positions.append(
                    PositionView(f"{self.label} {name}", shares, acct.avg_cost(tok), mark)
                )
        if self.closed:  # settled: the window's P&L is realized, its cash spent
            return PortfolioView(
                realized_pnl=acct.cash - acct.starting_cash,
                fees=acct.fees,
                rebates_est=acct.rebates,
            )
        return PortfolioView(
            cash=acct.cash,
            reserved=acct.reserved,
            fees=acct.fees,
            rebates_est=acct.rebates,
            positions=positions,
        )

    def window_view(self, slug: str, fills: int, state: str) -> Any:
        """This window's own account, positions marked at the best bids."""
        acct = self.venue.account
        value = 0.0
        if not self.closed:
            for tok in (0, 1):
                bid = price_or_none(self.book.best_bid(tok))
                value += acct.pos[tok] * (bid or 0.0)
        return WindowView(
            market=self.label,
            slug=slug,
            state=state,
            capital=acct.starting_cash,
            cash=acct.cash,
            reserved=acct.reserved,
            value=value,
            fees=acct.fees,
            fills=fills,
        )

    def order_views(self) -> list[Any]:
        """Our live orders, oldest first: posting (travelling), open, or cancelling."""
        now_ns = self.engine.now_ns
        views = []
        for o in sorted(self.venue.orders.values(), key=lambda o: o.id):
            if not o.live:
                continue
            state = (
                "cancelling"
                if o.cancel_requested
                else "posting"
                if o.status == Status.PENDING
                else "open"
            )
            views.append(
                OrderView(
                    market=self.label,
                    outcome="Up" if o.token == 0 else "Down",
                    price=o.price / PRICE_SCALE,
                    size=o.size,
                    filled=o.filled,
                    state=state,
                    age_s=max(0.0, (now_ns - o.submit_ns) / 1e9),
                )
            )
        return views

    def gate_counts(self) -> dict[str, int]:
        return dict(self.trader.gate_counts)


class _TrackerBook:
    def __init__(self, tracker: Any) -> None:
        self.tracker = tracker

    def best_bid(self, token: int) -> int:
        return int(self.tracker.best(token, 0))

    def best_ask(self, token: int) -> int:
        return int(self.tracker.best(token, 1))

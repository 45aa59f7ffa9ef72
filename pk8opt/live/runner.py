"""The live runner: discovery, rollover, sockets, per-frame stepping, settlement, and
`run_live`, which `pk8opt live` calls."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from pk8opt.engine.eventlog import EventLog as EngineLog
from pk8opt.engine.eventlog import iso_ns
from pk8opt.engine.market import MarketSpec
from pk8opt.errors import ConnectionFailed
from pk8opt.live.dashboard import (
    DashboardState,
    KeyReader,
    MarketView,
    combine_portfolios,
    event_line,
)
from pk8opt.live.runs import (
    MarketRun,
    close_recording,
    frame_rows,
    open_recording,
    price_or_none,
    settle_resolution,
    window_of,
)
from pk8opt.live.screen import NoTty, Screen
from pk8opt.live.settings import DRY_RUN, LiveSettings, Series
from pk8opt.live.steppers import BookStepper, EngineStepper
from pk8opt.live.summary import summary_text
from pk8opt.live.words import LogFolder
from pk8opt.polymarket.endpoints import Endpoints, VenueClock
from pk8opt.polymarket.gamma import GammaClient
from pk8opt.polymarket.sockets import LiveSocket, MarketSocket, frame_assets
from pk8opt.recordings.manifest import manifest_of
from pk8opt.recordings.raw import Frame, note_text
from pk8opt.recordings.schema import Kind
from pk8opt.trading.fill_metrics import FillMetrics
from pk8opt.trading.runlog import EVENTS_LOG_NAME, RunLog
from pk8opt.venue.broker import Broker
from pk8opt.venue.credentials import load_credentials

RESOLUTION_POLL_S = 10.0  # venue seconds between Gamma polls for an ended market
RESOLUTION_GIVE_UP_S = 900.0  # stop waiting for a resolution this long after the end
DISCOVERY_RETRY_S = 5.0

_decode = msgspec.json.Decoder().decode


@dataclass
class LiveOptions:
    headless: bool = False
    record_dir: Path | None = None
    duration_s: float | None = None
    log_dir: Path = Path("logs")
    gamma_url: str | None = None
    clob_ws_url: str | None = None
    live_ws_url: str | None = None
    out: Callable[[str], None] | None = None  # headless line printer (default: stdout)
    start_paused: bool = False  # quoting paused from the start, until `p`


class LiveRunner:
    """Discovery, rollover, sockets, per-frame stepping, settlement, dashboard."""

    def __init__(
        self,
        settings: LiveSettings,
        options: LiveOptions,
        make_stepper: Callable[[MarketRun, bool], Any] | None = None,
        clock: Any = None,
    ) -> None:
        self.settings = settings
        self.options = options
        self.endpoints = Endpoints.resolve(
            options.gamma_url, options.clob_ws_url, options.live_ws_url
        )
        self.clock = clock if clock is not None else VenueClock.from_env()
        self.make_stepper = make_stepper or (lambda run, traded: BookStepper(run.manifest))
        self.log = RunLog(Path(options.log_dir) / EVENTS_LOG_NAME)
        self._metrics: FillMetrics | None = None
        self.state = DashboardState(
            strategy=settings.strategy, trade_enabled=settings.trade_enabled
        )
        self.runs: dict[str, MarketRun] = {}  # by slug
        self.current: dict[Series, MarketRun] = {}
        self.retry_at: dict[Series, float] = {}
        self.stopping = False
        self.gap_start: dict[str, int] = {}  # socket kind -> disconnect time
        self.started_s = 0.0
        self.msock: Any = None
        self.lsock: Any = None
        self.gamma: Any = None
        self.words = LogFolder(self.state)
        self.fills_by_slug: Counter[str] = Counter()
        # a dry or real run's broker (venue.broker.Broker), made by `run_live`
        self.broker: Any = None
        self.not_cancelled: list[str] = []  # venue ids the last cancel-all left open
        self.state.mode = settings.mode
        if options.headless:
            out = options.out or (lambda line: print(line, flush=True))
            self.log.listeners.append(lambda ev: out(event_line(ev)))
        self.log.listeners.append(self._show)
        self.state.paused = options.start_paused
        for spec in settings.watchlist:
            self.state.markets[str(spec)] = MarketView(str(spec), traded=settings.is_traded(spec))

    # ---- events -------------------------------------------------------------------
    def emit(self, event: str, t_ns: int, **fields: Any) -> None:
        self.log.write({"event": event, "ts": iso_ns(t_ns), "ts_ns": t_ns, **fields})

    def _show(self, ev: dict[str, Any]) -> None:
        if ev.get("event") in ("paper_fill", "real_fill"):
            self.state.fills += 1
            self.fills_by_slug[str(ev.get("slug", ""))] += 1
        self.words.add(ev)

    def pause(self, paused: bool) -> None:
        """Pause or resume quoting in every window, present and future, until told
        otherwise: pausing cancels the resting orders."""
        self.state.paused = paused
        for run in self.active_runs():
            if hasattr(run.stepper, "set_paused"):
                run.stepper.set_paused(paused)
        self.emit("quoting_paused" if paused else "quoting_resumed", self.clock.now_ns())

    def kill(self, reason: str) -> None:
        """The kill key or SIGTERM: stop quoting, cancel every order, stop the run (the
        venue's cancel-all runs at shutdown, which every exit goes through)."""
        if not self.state.paused:
            self.pause(True)
        self.emit("kill", self.clock.now_ns(), reason=reason)
        self.stopping = True

    # ---- the loop -----------------------------------------------------------------
    async def run(self) -> None:
        # one attempt per discovery (retried every DISCOVERY_RETRY_S), so a failure is
        # reported at once and never holds the loop past --duration
        self.gamma = GammaClient(self.endpoints.gamma_url, retries=0)
        self.msock = MarketSocket(self.endpoints.clob_ws_url, self, self.clock)
        symbols = sorted({s.symbol for s in self.settings.watchlist})
        self.lsock = LiveSocket(self.endpoints.live_ws_url, self, self.clock, symbols=symbols)
        self.started_s = self.clock.now_s()
        self.emit(
            "live_started",
            self.clock.now_ns(),
            strategy=self.settings.strategy,
            watchlist=",".join(map(str, self.settings.watchlist)),
            tradelist=",".join(map(str, self.settings.tradelist)),
            trade_enabled=self.settings.trade_enabled,
            # every PM_* the engine and the strategy ran with: `pk8opt compare` replays
            # the recording with them
            config=self.settings.run_config.to_env()
            if self.settings.run_config is not None
            else None,
        )
        tasks: list[asyncio.Task[Any]] = []
        screen = None if self.options.headless else Screen(self.state)
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread
            loop.add_signal_handler(signal.SIGTERM, self.kill, "SIGTERM")
        try:
            if self.broker is not None:  # orders left by an earlier run go before quoting
                orphans = await self.broker.start()
                self.emit(
                    "venue_started",
                    self.clock.now_ns(),
                    mode=self.settings.mode,
                    orphans_cancelled=len(orphans) if not self.broker.dry_run else 0,
                    orphans=[o.get("venue_order_id") for o in orphans],
                )
            tasks += [asyncio.create_task(self.msock.run()), asyncio.create_task(self.lsock.run())]
            with KeyReader() if not self.options.headless else KeyReader(NoTty()) as keys:
                if screen:
                    screen.start()
                while not self.stopping:
                    await self._step_within_duration(keys.read_key())
                    if screen:
                        screen.refresh()
                    for task in tasks:
                        if task.done() and task.exception():
                            raise task.exception()  # type: ignore[misc]
                    await asyncio.sleep(0.05)
        finally:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signal.SIGTERM)
            if screen:
                screen.stop()
            await self.shutdown(tasks)

    async def _step_within_duration(self, key: str | None) -> None:
        """A step, cut short (and the run stopped) when --duration runs out during it,
        e.g. while Gamma or a socket handshake is still waiting for an answer."""
        if self.options.duration_s is None:
            await self.step(key)
            return
        left_s = self.clock.wall_seconds(
            self.started_s + self.options.duration_s - self.clock.now_s()
        )
        step = asyncio.ensure_future(self.step(key))
        done, _ = await asyncio.wait({step}, timeout=max(0.0, left_s) + 0.05)
        if step in done:
            step.result()
            return
        step.cancel()
        await asyncio.gather(step, return_exceptions=True)
        self.stopping = True

    async def step(self, key: str | None) -> None:
        now_s = self.clock.now_s()
        self.state.now_s = now_s
        if key == "q":
            self.stopping = True
            return
        if key == "k":
            self.kill("key k")
            return
        if key == "p" and not self.state.halted:
            self.pause(not self.state.paused)
        broker = self.broker
        if broker is not None and broker.halted and not self.state.halted:
            # the daily loss limit: the broker cancelled everything; quoting stays off
            self.state.halted = str(broker.halted)
            if not self.state.paused:
                self.pause(True)
            self.emit("quoting_halted", self.clock.now_ns(), reason=self.state.halted)
        if (
            self.options.duration_s is not None
            and now_s - self.started_s >= self.options.duration_s
        ):
            self.stopping = True
            return
        for spec in self.settings.watchlist:
            current = self.current.get(spec)
            if (
                current is None or now_s >= current.manifest.window_end_s
            ) and now_s >= self.retry_at.get(spec, 0.0):
                slug, _ = window_of(spec, now_s)
                if slug not in self.runs:
                    await self.discover(spec, slug, now_s)
        for run in self.active_runs():
            if now_s >= run.manifest.window_end_s and run.resolved is None:
                await self.poll_resolution(run, now_s)
        self.refresh_views()

    def active_runs(self) -> list[MarketRun]:
        return [r for r in self.runs.values() if not r.done]

    def receiving_runs(self) -> list[MarketRun]:
        """The windows frames go to: open and not settled yet. A window's recording ends
        with the frame that settled it (it is retired a moment later), so that its
        replay, which settles after the last frame, steps what live stepped."""
        return [r for r in self.runs.values() if not r.done and r.resolved is None]

    async def discover(self, spec: Series, slug: str, now_s: float) -> None:
        try:
            reply = await self.gamma.market_by_slug(slug, spec.window_s)
        except ConnectionFailed as exc:
            reply = None
            self.emit("discovery_failed", self.clock.now_ns(), slug=slug, reason=str(exc))
        if reply is None or reply.market is None:
            self.retry_at[spec] = now_s + DISCOVERY_RETRY_S
            self.state.markets[str(spec)].status = f"waiting for {slug}"
            return
        t_ns = self.clock.now_ns()
        manifest = manifest_of(reply.market, spec.symbol, spec.timeframe)
        traded = self.settings.is_traded(spec)
        run = MarketRun(spec=spec, manifest=manifest, traded=traded, stepper=None)
        if self.options.record_dir is not None:
            run.writer = open_recording(self.options.record_dir, manifest)
        run.stepper = self.make_stepper(run, traded)
        if self.state.paused and hasattr(run.stepper, "set_paused"):
            run.stepper.set_paused(True)  # a pause holds for every window until resumed
        self.runs[slug] = run
        self.current[spec] = run
        self.feed(run, run.number(t_ns, "gamma", reply.body, reply.url), t_ns)
        view = self.state.markets[str(spec)]
        view.slug, view.end_s = slug, float(manifest.window_end_s)
        view.status = ("paused" if self.state.paused else "quoting") if traded else "watching"
        self.emit(
            "market_discovered",
            t_ns,
            symbol=spec.symbol,
            timeframe=spec.timeframe,
            slug=slug,
            traded=traded,
            paused=self.state.paused,
            window_end_s=manifest.window_end_s,
        )
        await self.msock.add_assets(list(run.tokens))
        if self.msock.connected:
            raw = note_text("subscribed", socket="market", assets=list(run.tokens))
            self.feed(run, run.number(t_ns, "note", raw), t_ns)

    async def poll_resolution(self, run: MarketRun, now_s: float) -> None:
        if now_s < run.next_poll_s:
            return
        run.next_poll_s = now_s + RESOLUTION_POLL_S
        if now_s > run.manifest.window_end_s + RESOLUTION_GIVE_UP_S:
            self.emit("resolution_missing", self.clock.now_ns(), slug=run.manifest.slug)
            await self.retire(run, status="incomplete")
            return
        if self.current.get(run.spec) is run:  # the row shows the newest window only
            self.state.markets[str(run.spec)].status = "awaiting resolution"
        try:
            reply = await self.gamma.market_by_slug(run.manifest.slug, run.spec.window_s)
        except ConnectionFailed:
            return
        if run.done or run.resolved is not None:
            return
        t_ns = self.clock.now_ns()
        self.feed(run, run.number(t_ns, "gamma", reply.body, reply.url), t_ns)
        outcome = reply.market.outcome() if reply.market is not None else None
        if outcome is None:
            return
        settle_resolution(run, outcome, "gamma", t_ns)
        run.stepper.settle(outcome, t_ns)
        await self.resolved(run, outcome, "gamma", t_ns)

    async def resolved(self, run: MarketRun, outcome: str, source: str, t_ns: int) -> None:
        self.emit("market_resolved", t_ns, slug=run.manifest.slug, winner=outcome, source=source)
        await self.retire(run, status="complete")

    async def retire(self, run: MarketRun, status: str) -> None:
        run.done = True
        t_ns = self.clock.now_ns()
        run.stepper.finish(t_ns)
        if self.msock is not None:
            await self.msock.remove_assets(list(run.tokens))
        raw = note_text("unsubscribed", socket="market", assets=list(run.tokens))
        self.feed(run, run.number(t_ns, "note", raw), t_ns)
        close_recording(run, status=status)
        if self.current.get(run.spec) is run:
            self.state.markets[str(run.spec)].status = f"resolved {run.resolved or '?'}"

    # ---- frames -------------------------------------------------------------------
    def feed(self, run: MarketRun, frame: Frame, t_ns: int) -> None:
        rows = frame_rows(frame, run.lines, run)
        run.stepper.on_frame(rows, t_ns)
        if run.resolved is None and len(rows["kind"]):
            hits = (rows["kind"] == Kind.RESOLVED).nonzero()[0]
            if len(hits):
                outcome = "Up" if int(rows["token"][hits[0]]) == 0 else "Down"
                settle_resolution(run, outcome, "market_resolved", t_ns)
                run.stepper.settle(outcome, t_ns)
                asyncio.get_running_loop().create_task(
                    self.resolved(run, outcome, "market_resolved", t_ns)
                )

    def on_frame(self, sock: Any, t_ns: int, raw: str) -> None:
        targets = self.receiving_runs()
        start = self.gap_start.pop(sock.kind, None)
        if start is not None:  # as the recorder does: the gap, once data flows again
            note = note_text("gap", socket=sock.kind, start_ns=start, duration_ns=t_ns - start)
            for run in targets:
                self.feed(run, run.number(t_ns, "note", note), t_ns)
        if sock.kind == "market":
            try:
                assets = frame_assets(_decode(raw))
            except msgspec.DecodeError:
                assets = set()
            if assets:
                targets = [r for r in targets if assets & set(r.tokens)]
        else:
            symbol = _live_symbol(raw)
            if symbol:
                targets = [r for r in targets if symbol.startswith(r.spec.symbol.lower())]
        for run in targets:
            self.feed(run, run.number(t_ns, sock.kind, raw), t_ns)

    def on_connected(self, sock: Any, t_ns: int) -> None:
        self.state.connection = "live"
        self.emit("feed_connected", t_ns, socket=sock.kind, url=sock.url)
        for run in self.receiving_runs():
            self.feed(run, run.number(t_ns, "note", note_text("connected", socket=sock.kind)), t_ns)

    def on_disconnected(self, sock: Any, t_ns: int, reason: str) -> None:
        if self.stopping:  # our own close at shutdown, not a fault of the feed
            return
        self.state.connection = f"{sock.kind} reconnecting"
        self.gap_start.setdefault(sock.kind, t_ns)
        self.emit("feed_disconnected", t_ns, socket=sock.kind, reason=reason)
        for run in self.receiving_runs():
            raw = note_text("disconnected", socket=sock.kind, reason=reason)
            self.feed(run, run.number(t_ns, "note", raw), t_ns)

    # ---- views and shutdown -------------------------------------------------------
    def refresh_views(self) -> None:
        for spec, run in self.current.items():
            view = self.state.markets[str(spec)]
            book = getattr(run.stepper, "book", None)
            if book is not None and not run.done:
                view.up_bid = price_or_none(book.best_bid(0))
                view.up_ask = price_or_none(book.best_ask(0))
                view.down_bid = price_or_none(book.best_bid(1))
                view.down_ask = price_or_none(book.best_ask(1))
        if self.broker is not None:
            self.state.venue = venue_line(self.settings.mode, self.broker)
        views = []
        for run in self.runs.values():  # open windows and settled ones, every symbol
            portfolio = getattr(run.stepper, "portfolio_view", None)
            if portfolio is not None and (not run.done or run.resolved is not None):
                views.append(portfolio())
        if views:
            self.state.portfolio = combine_portfolios(views)
        windows, orders, gates = [], [], Counter[str]()
        for slug, run in self.runs.items():
            stepper = run.stepper
            if not hasattr(stepper, "window_view") or not run.traded:
                continue
            state = _state_of(run, self.state.now_s)
            windows.append(stepper.window_view(slug, self.fills_by_slug[slug], state))
            if not run.done:
                orders.extend(stepper.order_views())
            gates.update(stepper.gate_counts())
        self.state.windows, self.state.orders, self.state.gates = windows, orders, dict(gates)
        for spec, run in self.current.items():
            view = self.state.markets[str(spec)]
            if run.traded and not run.done and view.status in ("quoting", "paused"):
                view.status = "paused" if self.state.paused else "quoting"

    async def shutdown(self, tasks: list[asyncio.Task[Any]]) -> None:
        t_ns = self.clock.now_ns()
        if self.broker is not None:  # first: whatever else fails, nothing stays open
            try:
                self.not_cancelled = list(await self.broker.stop())
            except Exception as exc:  # noqa: BLE001 - said, and the ids named below
                self.emit("venue_stop_failed", t_ns, error=str(exc))
                self.not_cancelled = [
                    vid for w in self.broker.windows for vid in w.venue_ids.values()
                ]
        for run in self.active_runs():
            run.done = True
            run.stepper.finish(t_ns)
            close_recording(run, status="incomplete")
        for sock in (self.msock, self.lsock):
            if sock is not None:
                await sock.stop()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.gamma is not None:
            await self.gamma.aclose()
        self.emit("live_stopped", t_ns, **{f"n_{k}": v for k, v in sorted(self.log.counts.items())})
        self.log.close()
        if self._metrics is not None:
            self._metrics.close()

    def real_log(self) -> Any:
        """A venue window's event log: the run's, with a metrics line per real fill."""
        log = EngineLog(self.log)  # type: ignore[arg-type]
        return self.metrics.tap(log, None, event="real_fill")

    @property
    def metrics(self) -> FillMetrics:
        """`<log-dir>/paper/metrics/live-<start, UTC>.jsonl` (`real/metrics/` in a dry or
        real run), opened at the first use."""
        if self._metrics is None:
            stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self.started_s or None))
            self._metrics = FillMetrics.in_log_dir(
                self.options.log_dir, f"live-{stamp}", real=self.settings.on_venue
            )
        return self._metrics


def venue_line(mode: str, broker: Any) -> str:
    """The dashboard's line of a dry or real run: balance, allowance, the day, limits."""

    def usd(v: float | None) -> str:
        return "?" if v is None else f"${v:,.2f}"

    lim = broker.limits
    return (
        f"{mode.upper()}  USDC {usd(broker.balance_usdc)} (allowance "
        f"{usd(broker.allowance_usdc)})  today {broker.day_pnl():+,.2f}  limits: order "
        f"<= {lim.max_order_size:g} sh, window <= ${lim.max_window_notional:g}, exposure "
        f"<= ${lim.max_exposure:g}, day loss ${lim.daily_loss_limit:g}"
    )


def _state_of(run: MarketRun, now_s: float) -> str:
    if not run.done:
        return "open" if now_s < run.manifest.window_end_s else "awaiting"
    return "settled" if run.resolved is not None else "incomplete"


def _live_symbol(raw: str) -> str:
    """The lower-case symbol a live-data frame is about (`btcusdt`, `btc/usd`), or ''."""
    try:
        obj = _decode(raw)
    except msgspec.DecodeError:
        return ""
    payload = obj.get("payload") if isinstance(obj, dict) else None
    if isinstance(payload, dict):
        symbol = payload.get("symbol")
        if isinstance(symbol, str):
            return symbol.lower()
    return ""


def run_live(settings: LiveSettings, options: LiveOptions) -> dict[str, int]:
    """Run until `--duration`, `q` or Ctrl-C; return the count of each event written."""
    runner = LiveRunner(settings, options)
    if settings.on_venue:
        runner.broker = make_broker(settings, runner)
    if settings.run_config is not None:
        config = settings.run_config

        def make_stepper(run: MarketRun, traded: bool) -> EngineStepper:
            venue = None
            if runner.broker is not None and traded:
                log = runner.real_log()
                venue = runner.broker.window(MarketSpec.from_manifest(run.manifest), log)
                log.engine = venue  # its fills' metrics lines read its account
            return EngineStepper(run.manifest, config, runner.log, traded, runner.metrics, venue)

        runner.make_stepper = make_stepper
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(runner.run())
    runner.refresh_views()
    summary = summary_text(runner.state)
    if runner.not_cancelled:
        summary += (
            f"\nNOT CANCELLED at the venue ({len(runner.not_cancelled)}): "
            + ", ".join(runner.not_cancelled)
            + "\ncancel them by hand (Polymarket's site) or run again: open orders are "
            "cancelled at start"
        )
    if options.headless:  # stdout stays one line per event
        print(summary, file=sys.stderr, flush=True)
    else:
        print(summary, flush=True)
    return dict(runner.log.counts)


def make_broker(settings: LiveSettings, runner: LiveRunner) -> Any:
    """The broker of a dry or real run: credentials from the settings' secrets (or the
    owner-only file PM_CREDENTIALS_FILE names), limits checked before every order."""
    credentials = load_credentials({**settings.env, **settings.secrets})
    return Broker(
        credentials,
        settings.limits,
        endpoints=runner.endpoints,
        clock=runner.clock,
        dry_run=settings.mode == DRY_RUN,
        log=EngineLog(runner.log),  # type: ignore[arg-type]
    )

"""The broker: one per run, between the market windows' `RealVenue`s and the venue.

`await broker.start()`:
1. builds Polymarket's client with the credentials and, when no API values were given,
   derives them (`create_or_derive_api_key`);
2. reads the USDC balance and allowance;
3. lists the orders an earlier run left resting and cancels them before anything is
   quoted (a dry run lists them and leaves them); the list is returned and logged
   (`real_start`);
4. starts the user socket (our order and trade events), the heartbeat (so that the
   venue cancels our orders if this process dies), the balance poll
   (`balance_usdc`, `allowance_usdc`, for the dashboard) and the periodic REST
   reconcile (`real_reconcile` for each difference; the venue wins). A socket that
   reconnects triggers a reconcile at once: what it missed while down is fetched.

`broker.window(market_spec, log)` gives the `RealVenue` of one market window; its posts
and cancels run here on a worker (`asyncio.to_thread` around the client, a few at a
time), and the socket's events are routed to it by market and order id.

Risk: every order is checked against `Limits` with the state of all windows
(`limit_state`). The daily loss limit is watched on every fill and balance poll: when
the UTC day's realized + marked loss reaches it, the broker cancels everything and
sets `halted` to the reason; every later order is refused. It stays halted until the
process restarts.

`await broker.cancel_all()` and `await broker.stop()` cancel every open order and return
the venue ids of those that could not be cancelled (for the caller to print).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from pk8opt.engine.eventlog import EventLog
from pk8opt.engine.market import MarketSpec
from pk8opt.engine.orders import Order
from pk8opt.polymarket.endpoints import Endpoints, VenueClock
from pk8opt.venue.client import ClobApi, MarketInfo, VenueError, describe_error, order_fields
from pk8opt.venue.credentials import ApiKeys, Credentials, load_credentials
from pk8opt.venue.limits import Limits, LimitState
from pk8opt.venue.real import POST, RealVenue
from pk8opt.venue.userws import (
    OrderEvent,
    TradeEvent,
    UserEvent,
    UserFeed,
    UserSocket,
    parse_user_event,
)

ApiFactory = Callable[[str, Credentials], ClobApi]
TICKS_MILLI = {"0.1": 100, "0.01": 10, "0.005": 5, "0.001": 1}


class Broker:
    """See the module's docstring. Times in seconds are wall seconds."""

    def __init__(
        self,
        credentials: Credentials,
        limits: Limits,
        *,
        endpoints: Endpoints | None = None,
        clock: VenueClock | None = None,
        dry_run: bool = False,
        log: EventLog | None = None,
        api_factory: ApiFactory | None = None,
        heartbeat_s: float = 5.0,
        balance_poll_s: float = 10.0,
        reconcile_s: float = 30.0,
        max_in_flight: int = 4,
    ) -> None:
        self.credentials = credentials
        self.limits = limits
        self.endpoints = endpoints or Endpoints.resolve()
        self.clock = clock or VenueClock()
        self.dry_run = dry_run
        self.log = log
        self._api_factory = api_factory or (lambda host, creds: ClobApi(host, creds))
        self.heartbeat_s = heartbeat_s
        self.balance_poll_s = balance_poll_s
        self.reconcile_s = reconcile_s
        self.api: ClobApi | None = None
        self.balance_usdc: float | None = None
        self.allowance_usdc: float | None = None
        self.spent_since_poll = 0.0  # fills since the balance was read (it lags them)
        self.halted: str | None = None
        self.stopping = False
        self.windows: list[RealVenue] = []
        self.reconciles = 0
        self.socket: UserSocket | None = None
        self._by_vid: dict[str, RealVenue] = {}
        self._info: dict[str, asyncio.Task[tuple[MarketInfo, MarketInfo]]] = {}
        self._slots = asyncio.Semaphore(max_in_flight)
        self._jobs: set[asyncio.Task[Any]] = set()
        self._tasks: list[asyncio.Task[Any]] = []
        self._vital: set[asyncio.Task[Any]] = set()
        self._reconcile_lock = asyncio.Lock()
        self._day = ""
        self._day_base_pnl = 0.0
        self._started_s = 0

    @classmethod
    def from_env(
        cls,
        settings: Mapping[str, str],
        secrets: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> Broker:
        """Limits from the `.env` settings; credentials from `secrets` (default: the
        process environment, or the file its `PM_CREDENTIALS_FILE` names)."""
        return cls(load_credentials(secrets), Limits.from_env(settings), **kwargs)

    # ------------------------------------------------------------------ start and stop
    async def start(self) -> list[dict[str, Any]]:
        """Connect, derive credentials, read the balance, cancel what an earlier run left
        resting, then start the background tasks. Returns the orphaned orders found."""
        self._started_s = int(self.clock.now_s())  # venue time: trades are stamped in it
        api = await asyncio.to_thread(self._api_factory, self.endpoints.clob_url, self.credentials)
        self.api = api
        if self.credentials.api is None:
            await asyncio.to_thread(api.derive_api_keys)
            self.credentials = api.credentials
        await self.poll_balance()
        orphans = await self._cancel_orphans(api)
        self._check_loss()
        self._spawn(self._every(self.balance_poll_s, self.poll_balance, "balance"), vital=True)
        if not self.dry_run:
            keys = self.credentials.api
            assert keys is not None
            self._start_socket(keys)
            self._spawn(self._heartbeats(api), vital=True)
            self._spawn(self._every(self.reconcile_s, self.reconcile, "reconcile"), vital=True)
        return orphans

    async def _cancel_orphans(self, api: ClobApi) -> list[dict[str, Any]]:
        listed = await asyncio.to_thread(api.open_orders)
        orphans = [_order_summary(r) for r in listed]
        not_cancelled: list[str] = []
        if orphans and not self.dry_run:
            ids = [o["venue_order_id"] for o in orphans]
            answer = await asyncio.to_thread(api.cancel_orders, ids)
            not_cancelled = [i for i in ids if i not in answer["canceled"]]
        self._log(
            "real_start",
            address=_safe(lambda: api.address),
            dry_run=self.dry_run,
            balance_usdc=self.balance_usdc,
            allowance_usdc=self.allowance_usdc,
            limits=self.limits.describe(),
            orphans=orphans,
            orphans_not_cancelled=not_cancelled,
        )
        return orphans

    def _start_socket(self, keys: ApiKeys) -> None:
        feed = UserFeed(self._on_events, self._on_connected, self._on_disconnected)
        markets = [w.market.condition_id for w in self.windows if not w.closed]
        self.socket = UserSocket(self.endpoints.user_ws_url, feed, self.clock, keys, markets)
        self._spawn(self.socket.run(), vital=True)

    async def stop(self, timeout_s: float = 10.0) -> list[str]:
        """Stop quoting, wait for posts on their way, cancel every open order, stop the
        background tasks. Returns the venue ids of the orders that could not be
        cancelled."""
        self.stopping = True
        deadline = time.monotonic() + timeout_s
        while self._jobs and time.monotonic() < deadline:
            await asyncio.wait(set(self._jobs), timeout=max(0.01, deadline - time.monotonic()))
        left = await self.cancel_all()
        if self.socket is not None:
            await self.socket.stop()
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks.clear()
        self._log("real_stop", not_cancelled=left)
        return left

    async def cancel_all(self) -> list[str]:
        """Cancel every order of the account (every window's, and any other resting
        one). Returns the venue ids still open afterwards."""
        for w in self.windows:
            for o in w.live_orders():
                o.cancel_requested = True
                if self.dry_run:
                    w.cancel_done(o, "cancel all")
        if self.dry_run or self.api is None:
            return []
        api = self.api
        try:
            answer = await asyncio.to_thread(api.cancel_all)
            for vid in answer["canceled"]:
                self._cancelled(vid, "cancel all")
            still = [
                _order_summary(r)["venue_order_id"]
                for r in await asyncio.to_thread(api.open_orders)
            ]
        except VenueError as exc:
            self._log("real_error", where="cancel_all", error=str(exc))
            return [
                vid
                for w in self.windows
                for vid in (w.venue_ids.get(o.id) for o in w.live_orders())
                if vid
            ]
        for vid in still:
            self._log(
                "real_order_cancel_failed", venue_order_id=vid, why="still open after cancel all"
            )
        return still

    # ------------------------------------------------------------------ windows
    def window(self, market: MarketSpec, log: EventLog | None = None) -> RealVenue:
        """The real venue of one market window (its events go to `log`)."""
        venue = RealVenue(
            market, self, log=log, clock=self.clock, starting_cash_usdc=self.balance_usdc or 0.0
        )
        self.windows.append(venue)
        with contextlib.suppress(RuntimeError):  # no running loop: prepared on first post
            asyncio.get_running_loop()
            if self.api is not None:
                self._prepare(venue)
            if self.socket is not None:
                self._spawn(self.socket.add_markets([market.condition_id]), vital=True)
        return venue

    def _prepare(self, venue: RealVenue) -> asyncio.Task[tuple[MarketInfo, MarketInfo]]:
        """Fetch tick size, neg risk and minimum size of the window's tokens once.

        The window's own checks take the tick from here; a tick that changes later is
        safe either way: a finer one is refused here (`tick_size`) until the window
        knows it, a coarser one by the venue (REJECTED with its message)."""
        key = venue.market.slug
        task = self._info.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._market_info(venue))
            self._info[key] = task
        return task

    async def _market_info(self, venue: RealVenue) -> tuple[MarketInfo, MarketInfo]:
        api = self.api
        assert api is not None
        m = venue.market
        up, down = await asyncio.gather(
            asyncio.to_thread(api.market_info, m.token_up),
            asyncio.to_thread(api.market_info, m.token_down),
        )
        for token, info in enumerate((up, down)):
            tick = TICKS_MILLI.get(info.tick_size)
            if tick:
                venue.tick_milli[token] = tick
            if info.min_order_size:
                venue.min_order_size = info.min_order_size
        return up, down

    # ------------------------------------------------------------------ the Desk side
    def limit_state(self, venue: RealVenue) -> LimitState:
        live = [w for w in self.windows if not w.closed]
        open_usdc = sum(w.open_notional() for w in live)
        available = None
        if self.balance_usdc is not None:
            available = self.balance_usdc - self.spent_since_poll - open_usdc
        halted = self.halted or ("stopping" if self.stopping else None)
        return LimitState(
            window_notional=venue.held_cost() + venue.open_notional(),
            exposure=sum(w.held_cost() for w in live) + open_usdc,
            available_usdc=available,
            halted=halted,
        )

    def send(self, venue: RealVenue, action: str, order: Order) -> None:
        job: Awaitable[None] = (
            self._post(venue, order) if action == POST else self._cancel(venue, order)
        )
        task: asyncio.Task[None] = asyncio.ensure_future(job)
        self._jobs.add(task)
        task.add_done_callback(self._jobs.discard)

    def bind(self, venue_order_id: str, venue: RealVenue) -> None:
        self._by_vid[venue_order_id] = venue

    def money_moved(self, venue: RealVenue, usdc: float) -> None:
        self.spent_since_poll += usdc
        self._check_loss()

    # ------------------------------------------------------------------ posts and cancels
    async def _post(self, venue: RealVenue, o: Order) -> None:
        async with self._slots:
            try:
                try:
                    info = (await self._prepare(venue))[o.token]
                except Exception:
                    self._info.pop(venue.market.slug, None)  # the next post asks again
                    raise
                if o.cancel_requested and not self.dry_run:
                    venue.post_skipped(o, "cancelled before it was sent")
                    return
                token_id = venue.market.token_up if o.token == 0 else venue.market.token_down
                api = self.api
                assert api is not None
                price, size = o.price / 1000.0, o.size
                if self.dry_run:
                    signed = await asyncio.to_thread(api.create_order, token_id, price, size, info)
                    venue.dry_posted(
                        o, {**order_fields(signed), "post_only": self.limits.post_only}
                    )
                    return
                signed = await asyncio.to_thread(api.create_order, token_id, price, size, info)
                venue.sent(o, self._signed_ns(signed))
                answer = await asyncio.to_thread(api.post_order, signed, self.limits.post_only)
            except VenueError as exc:
                venue.post_failed(o, str(exc))
                return
            except Exception as exc:  # a bug or the client's: the order did not go
                venue.post_failed(o, describe_error(exc))
                return
            venue.posted(o, str(answer["orderID"]), str(answer.get("status") or "live"))

    def _signed_ns(self, signed: Any) -> int:
        """When a signed order was signed, on the venue clock: its own `timestamp` (wall
        ms), the time the venue sees; now when it has none."""
        try:
            ms = int(getattr(signed, "timestamp", 0) or 0)
        except (TypeError, ValueError):
            ms = 0
        return self.clock.venue_ns_at(ms * 1_000_000) if ms > 0 else self.clock.now_ns()

    async def _cancel(self, venue: RealVenue, o: Order, attempts: int = 3) -> None:
        vid = venue.venue_ids.get(o.id)
        api = self.api
        if vid is None or api is None:
            return
        async with self._slots:
            for attempt in range(attempts):
                if attempt == 0:  # when it left: a cancel asked while the post was on its
                    # way waits for its answer, and a cancel may wait for a slot
                    venue.write_event(
                        "real_order_cancel_sent", venue.now_ns, order_id=o.id, venue_order_id=vid
                    )
                try:
                    answer = await asyncio.to_thread(api.cancel, vid)
                except VenueError as exc:
                    why = str(exc)
                    await asyncio.sleep(0.2 * 2**attempt)
                    continue
                if vid in answer["canceled"]:
                    venue.cancel_done(o)
                    return
                why = answer["not_canceled"].get(vid, "not cancelled")
                break  # the venue says why (already filled or gone): its events settle it
        venue.write_event(
            "real_order_cancel_failed", venue.now_ns, order_id=o.id, venue_order_id=vid, why=why
        )

    def _cancelled(self, vid: str, why: str) -> None:
        venue = self._by_vid.get(vid)
        if venue is not None:
            o = venue.by_venue_id.get(vid)
            if o is not None:
                venue.cancel_done(o, why)

    # ------------------------------------------------------------------ user socket
    def _on_events(self, t_ns: int, events: list[UserEvent]) -> None:
        for ev in events:
            for venue in self._route(ev):
                try:
                    venue.apply(ev)
                except Exception as exc:  # noqa: BLE001 - the socket must keep reading
                    # our state may now differ from the venue's: say so, and let the
                    # next reconcile (the venue wins) set it right
                    self._log("real_error", where="apply", error=describe_error(exc))
                    self._spawn(self.reconcile())

    def _route(self, ev: UserEvent) -> list[RealVenue]:
        ids = (
            [leg.venue_order_id for leg in ev.legs]
            if isinstance(ev, TradeEvent)
            else [ev.venue_order_id]
        )
        out: list[RealVenue] = []
        for vid in ids:
            v = self._by_vid.get(vid)
            if v is not None and v not in out:
                out.append(v)
        if not out:  # not bound yet (a post's answer still on its way): by market
            out = [
                w for w in self.windows if w.market.condition_id == ev.condition_id and w.in_flight
            ]
        return out

    def _on_connected(self, t_ns: int, connects: int) -> None:
        self._log("real_socket", state="connected", connects=connects)
        if connects > 1:  # events sent while we were away are lost: ask the REST view
            self._spawn(self.reconcile())

    def _on_disconnected(self, t_ns: int, reason: str) -> None:
        self._log("real_socket", state="disconnected", reason=reason)

    # ------------------------------------------------------------------ reconcile
    async def reconcile(self) -> list[dict[str, Any]]:
        """Compare every window with the venue's open orders and trades; the venue wins.
        Resting orders of the account that no window knows are cancelled."""
        api = self.api
        if api is None or self.dry_run:
            return []
        async with self._reconcile_lock:
            asof = self.clock.now_ns()
            listed = await asyncio.to_thread(api.open_orders)
            raw_trades = await asyncio.to_thread(api.trades, None, self._started_s - 60)
            opens = [e for e in map(parse_user_event, listed) if isinstance(e, OrderEvent)]
            trades = [e for e in map(parse_user_event, raw_trades) if isinstance(e, TradeEvent)]
            diffs: list[dict[str, Any]] = []
            for w in self.windows:
                if w.closed:
                    continue
                cid = w.market.condition_id
                mine = [e for e in opens if e.condition_id == cid]
                got = w.reconcile(mine, [t for t in trades if t.condition_id == cid], asof)
                for d in got:
                    if d["what"] == "order_still_open":
                        o = w.orders[d["order_id"]]
                        self._spawn(self._cancel(w, o))
                diffs.extend(got)
                diffs.extend(await self._check_positions(w))
            diffs.extend(await self._cancel_unknown(api, opens))
            self.reconciles += 1
            return diffs

    async def _check_positions(self, w: RealVenue) -> list[dict[str, Any]]:
        if not any(w.account.pos) and not w.fills:
            return []
        api = self.api
        assert api is not None
        held: dict[int, float] = {}
        for token, token_id in ((0, w.market.token_up), (1, w.market.token_down)):
            try:
                held[token] = (await asyncio.to_thread(api.balance_allowance, token_id))[0]
            except VenueError:
                return []  # the venue does not say: nothing to compare
        return w.check_positions(held)

    async def _cancel_unknown(self, api: ClobApi, opens: list[OrderEvent]) -> list[dict[str, Any]]:
        unknown = [e for e in opens if e.venue_order_id not in self._by_vid]
        if not unknown:
            return []
        diffs = [
            {
                "what": "unknown_order",
                "venue_order_id": e.venue_order_id,
                "market": e.condition_id,
                "price": e.price,
                "size": e.original_size,
            }
            for e in unknown
        ]
        for d in diffs:
            self._log("real_reconcile", **d)
        with contextlib.suppress(VenueError):
            await asyncio.to_thread(api.cancel_orders, [e.venue_order_id for e in unknown])
        return diffs

    # ------------------------------------------------------------------ money
    async def poll_balance(self) -> None:
        api = self.api
        if api is None:
            return
        before = (self.balance_usdc, self.allowance_usdc)
        balance, allowance = await asyncio.to_thread(api.balance_allowance)
        self.balance_usdc, self.allowance_usdc = balance, allowance
        self.spent_since_poll = 0.0
        if before != (balance, allowance):
            self._log("real_balance", balance_usdc=balance, allowance_usdc=allowance)
        self._check_loss()

    def day_pnl(self) -> float:
        """Realized + marked P&L of every window since the UTC day began."""
        total = sum(w.account.pnl() for w in self.windows)
        day = datetime.now(UTC).strftime("%Y-%m-%d")
        if day != self._day:
            self._day, self._day_base_pnl = day, total
        return total - self._day_base_pnl

    def _check_loss(self) -> None:
        if self.halted:
            return
        loss = -self.day_pnl()
        if loss >= self.limits.daily_loss_limit:
            self.halt(
                f"daily loss {loss:.2f} USDC reached PM_DAILY_LOSS_LIMIT={self.limits.daily_loss_limit:g}"
            )

    def halt(self, reason: str) -> None:
        """Stop quoting for good (until restart) and cancel everything."""
        if self.halted:
            return
        self.halted = reason
        self._log("real_halt", reason=reason)
        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop()
            self._spawn(self.cancel_all())

    # ------------------------------------------------------------------ tasks
    async def _heartbeats(self, api: ClobApi) -> None:
        hb_id, failing = "", False
        while True:
            try:
                hb_id = await asyncio.to_thread(api.heartbeat, hb_id)
                failing = False
            except Exception as exc:  # keep beating: a missed beat is not the end
                if not failing:
                    self._log("real_error", where="heartbeat", error=describe_error(exc))
                failing = True
            await asyncio.sleep(self.heartbeat_s)

    async def _every(self, period_s: float, fn: Callable[[], Awaitable[Any]], what: str) -> None:
        while True:
            await asyncio.sleep(period_s)
            try:
                await fn()
            except Exception as exc:  # the next round tries again
                self._log("real_error", where=what, error=describe_error(exc))

    def _spawn(self, coro: Awaitable[Any], *, vital: bool = False) -> None:
        """Run `coro` in the background. A `vital` one (the socket, its subscriptions,
        the heartbeat, the polls) failing halts quoting: without it we trade blind."""
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._tasks.append(task)
        if vital:
            self._vital.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        with contextlib.suppress(ValueError):
            self._tasks.remove(task)
        vital = task in self._vital
        self._vital.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self._log("real_error", where="task", error=describe_error(exc))
            if vital and not self.stopping:
                self.halt(f"a background task failed: {describe_error(exc)}")

    def _log(self, event: str, **fields: Any) -> None:
        if self.log is not None:
            self.log.write(event, self.clock.now_ns(), "", **fields)


def _order_summary(raw: dict[str, Any]) -> dict[str, Any]:
    e = parse_user_event(raw)
    if isinstance(e, OrderEvent):
        return {
            "venue_order_id": e.venue_order_id,
            "market": e.condition_id,
            "asset_id": e.asset_id,
            "side": e.side,
            "price": e.price,
            "size": e.original_size,
            "matched": e.size_matched,
        }
    return {"venue_order_id": str(raw.get("id", ""))}


def _safe(fn: Callable[[], str]) -> str | None:
    try:
        return fn()
    except VenueError:
        return None

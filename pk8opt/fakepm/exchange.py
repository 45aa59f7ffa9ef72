"""The fake venue's matching: orders in, fills, cancels and trade settlement out.

`Exchange` holds the ledger and one `MarketFills` per market it has seen an order for,
and keeps them on the venue clock: a task brings the books of markets with resting
orders forward frame by frame as their times come, and an order or a cancel first
brings its market up to its own moment. What happens is published to the user socket
(`publish(account, market, event)`), in the venue's order: PLACEMENT, each trade's
MATCHED then the order's UPDATE, CANCELLATION; later each trade's MINED and CONFIRMED
(or, for a trade set to fail, RETRYING and FAILED, which undoes it).

At its window end a market's open orders are cancelled by the venue (status INVALID)
and new ones are refused. A client that sent heartbeats and stops for
`heartbeat_timeout_s` (wall time) has its orders cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pk8opt.fakepm.auth import Creds
from pk8opt.fakepm.fills import ASK, BID, EPS, MarketFills
from pk8opt.fakepm.intake import Incoming, Rejected, read_order
from pk8opt.fakepm.ledger import Ledger, VenueOrder, VenueTrade, num, taker_fee
from pk8opt.fakepm.timeline import ServedMarket, Venue
from pk8opt.fakepm.venue_params import VenueParams
from pk8opt.polymarket.endpoints import VenueClock
from pk8opt.recordings.schema import PRICE_SCALE

Publish = Callable[[str, str, dict[str, Any]], None]


@dataclass
class _Market:
    served: ServedMarket
    fills: MarketFills
    end_task: asyncio.Task[None] | None = None


class Exchange:
    def __init__(
        self, venue: Venue, clock: VenueClock, params: VenueParams, publish: Publish
    ) -> None:
        self.venue = venue
        self.clock = clock
        self.params = params
        self.publish = publish
        self.ledger = Ledger(params.balance_usdc)
        self.markets: dict[str, _Market] = {}
        self.fail_next = 0  # the next trades made end RETRYING -> FAILED (a test fault)
        self.heartbeats: dict[str, float] = {}  # api key -> wall time of the last one
        self._hb_tasks: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._walker: asyncio.Task[None] | None = None

    # ---- lifecycle -----------------------------------------------------------------
    def start(self) -> None:
        self._walker = asyncio.create_task(self._walk())

    async def stop(self) -> None:
        tasks = [t for t in (self._walker, *self._tasks, *self._hb_tasks.values()) if t]
        tasks += [m.end_task for m in self.markets.values() if m.end_task is not None]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(BaseException):
                await t

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- markets -------------------------------------------------------------------
    def served(self, asset_id: str) -> ServedMarket | None:
        known = self.venue.tokens.get(asset_id)
        if known is None:
            return None
        return next(
            (m for m in self.venue.markets.values() if m.manifest.condition_id == known[0]), None
        )

    def market(self, asset_id: str) -> _Market | None:
        """The market of a token, its book brought up to now (None: not served here)."""
        served = self.served(asset_id)
        if served is None:
            return None
        cond = served.manifest.condition_id
        if cond not in self.markets:
            m = served.manifest
            tokens = {m.token_up, m.token_down}
            frames = [f for f in self.venue.market_frames if not f.assets.isdisjoint(tokens)]
            p = self.params
            fills = MarketFills(
                cond, (m.token_up, m.token_down), frames, p.queue_frac, p.trade_through,
                p.decrease_fills,
            )  # fmt: skip
            self.markets[cond] = _Market(served, fills)
        self.catch_up(self.clock.now_ns())
        return self.markets[cond]

    def tick(self, market: _Market, token: int) -> Decimal:
        milli = market.fills.tick_milli(token, round(market.served.manifest.tick_size * 1000))
        return Decimal(milli) / PRICE_SCALE

    def fee_schedule(self, served: ServedMarket) -> tuple[float, float, bool]:
        """(rate, exponent, taker_only) of a market: its recorded schedule, zero if fees
        are off."""
        m = served.manifest
        if not m.fees_enabled:
            return 0.0, 1.0, True
        fs = m.fee_schedule
        if fs is None:
            raw = served.gamma.get("feeSchedule") or {}
            return (
                float(raw.get("rate", 0.0)),
                float(raw.get("exponent", 1.0)),
                bool(raw.get("takerOnly", True)),
            )
        return fs.rate, fs.exponent, fs.taker_only

    # ---- time ----------------------------------------------------------------------
    async def _walk(self) -> None:
        """Bring books with resting orders forward as their frames' times come."""
        while True:
            times = [
                t
                for m in self.markets.values()
                if m.fills.resting and (t := m.fills.next_time()) is not None
            ]
            waits: list[asyncio.Task[Any]] = [asyncio.create_task(self._wake.wait())]
            if times:
                waits.append(asyncio.create_task(self.clock.sleep_until_ns(min(times))))
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waits:
                    w.cancel()
            self._wake.clear()
            self.catch_up(self.clock.now_ns())

    def catch_up(self, now_ns: int) -> None:
        for m in list(self.markets.values()):
            for f in m.fills.advance(now_ns):
                o = self.ledger.orders.get(f.order_id)
                if o is not None and o.is_open:
                    self._fill(o, m, float(Decimal(f.price) / PRICE_SCALE), f.size, True, f.t_ns)

    def _fill(
        self, o: VenueOrder, m: _Market, price: float, size: float, maker: bool, t_ns: int
    ) -> VenueTrade:
        size = min(size, o.left)
        trade = self.ledger.fill(o, price, size, maker, self.fee_schedule(m.served), t_ns)
        if self.fail_next > 0:
            self.fail_next -= 1
            trade.fail = True
        now = self.clock.now_ns()
        self.publish(o.account, o.market, Ledger.trade_event(trade, now))
        self.publish(o.account, o.market, Ledger.order_event(o, "UPDATE", now))
        self._spawn(self._settle(trade))
        return trade

    async def _settle(self, trade: VenueTrade) -> None:
        p, o = self.params, trade.order
        steps = ("RETRYING", "FAILED") if trade.fail else ("MINED", "CONFIRMED")
        t = self.clock.now_ns()
        for status, wait_ms in zip(steps, (p.mine_ms, p.confirm_ms), strict=True):
            t += int(wait_ms * 1e6)
            await self.clock.sleep_until_ns(t)
            trade.status, trade.updated_ns = status, self.clock.now_ns()
            if status == "FAILED":
                self.ledger.reverse(trade)
            self.publish(o.account, o.market, Ledger.trade_event(trade, trade.updated_ns))

    async def _close_at_end(self, m: _Market) -> None:
        end_ns = m.served.manifest.window_end_s * 10**9
        await self.clock.sleep_until_ns(end_ns)
        self.catch_up(end_ns)
        for o in self.ledger.open_orders():
            if o.market == m.served.manifest.condition_id:
                self._cancel(o, "INVALID")

    # ---- orders --------------------------------------------------------------------
    def check(self, creds: Creds, body: Any) -> Incoming:
        """What can be checked of a posted order before it meets the book."""
        inc = read_order(
            creds, body, lambda t: self.served(t) is not None, self.params.chain_id,
            self.clock.now_s(),
        )  # fmt: skip
        if inc.id in self.ledger.orders:
            raise Rejected(f"order {inc.id} is invalid. Duplicated.")
        return inc

    def check_market(self, inc: Incoming) -> tuple[_Market, int]:
        """Checks against the market as it stands now: open, tick, minimum size."""
        m = self.market(inc.token)
        assert m is not None  # `check` found it
        manifest = m.served.manifest
        if self.clock.now_ns() >= manifest.window_end_s * 10**9:
            raise Rejected(f"the market is closed: no new orders after its end ({manifest.slug})")
        tok = (manifest.token_up, manifest.token_down).index(inc.token)
        tick = self.tick(m, tok)
        if inc.order_type in ("FOK", "FAK"):  # an amount's price: the tick nearest it
            inc.price = (inc.price / tick).quantize(Decimal(1)) * tick
        if inc.price % tick != 0 or not (tick <= inc.price <= 1 - tick):
            raise Rejected(
                f"order {inc.id} is invalid. Price ({num(float(inc.price))}) breaks minimum "
                f"tick size rule: {tick.normalize()}"
            )
        if inc.order_type in ("GTC", "GTD") and inc.size < manifest.min_order_size - EPS:
            raise Rejected(
                f"order {inc.id} is invalid. Size ({num(inc.size)}) lower than the minimum: "
                f"{num(manifest.min_order_size)}"
            )
        if (
            inc.order_type in ("FOK", "FAK")
            and inc.side == "BUY"
            and inc.size * float(inc.price) < 1
        ):
            raise Rejected(
                f"invalid amount for a marketable BUY order (${num(inc.size * float(inc.price))}), "
                "min size: $1"
            )
        return m, tok

    def place(self, creds: Creds, inc: Incoming) -> dict[str, Any]:
        """The order meets the book now: the post response, or `Rejected`."""
        m, tok = self.check_market(inc)
        if inc.id in self.ledger.orders:  # the same order posted twice at once
            raise Rejected(f"order {inc.id} is invalid. Duplicated.")
        fills = m.fills
        side = BID if inc.side == "BUY" else ASK
        price_milli = int(inc.price * PRICE_SCALE)
        plan = fills.plan_take(tok, side, price_milli, inc.size)
        taken = sum(s for _, s in plan)
        if inc.post_only and plan:
            raise Rejected("invalid post-only order: order crosses book")
        self._check_funds(creds, inc, m, plan)
        if inc.order_type == "FOK" and taken < inc.size - EPS:
            raise Rejected("order couldn't be fully filled. FOK orders are fully filled or killed.")
        if inc.order_type == "FAK" and not plan:
            raise Rejected(
                "no orders found to match with FAK order. FAK orders are partially filled or "
                "killed if no match is found."
            )
        manifest = m.served.manifest
        now = self.clock.now_ns()
        o = VenueOrder(
            id=inc.id, owner=creds.api_key, maker=inc.maker, account=inc.maker.lower(),
            market=manifest.condition_id, asset_id=inc.token, token=tok,
            outcome=("Up", "Down")[tok], side=inc.side, price=float(inc.price), size=inc.size,
            order_type=inc.order_type, expiration=inc.expiration, created_ns=now,
        )  # fmt: skip
        self.ledger.orders[o.id] = o
        self.publish(o.account, o.market, Ledger.order_event(o, "PLACEMENT", now))
        fills.take(tok, side, plan)
        trades = [self._fill(o, m, float(Decimal(p) / PRICE_SCALE), s, False, now) for p, s in plan]
        if o.is_open and inc.order_type in ("FOK", "FAK"):
            self._cancel(o)
        elif o.is_open:
            fills.rest(o.id, tok, side, price_milli, o.left)
            self._wake.set()
            if m.end_task is None:
                m.end_task = asyncio.create_task(self._close_at_end(m))
        if inc.order_type == "GTD" and o.is_open:
            self._spawn(self._expire(o, inc.expiration))
        cash = sum(t.size * t.price for t in trades)
        shares = sum(t.size for t in trades)
        return {
            "success": True,
            "orderID": o.id,
            "errorMsg": None,
            "status": "matched" if trades and not o.is_open else "live",
            "takingAmount": num(shares if o.side == "BUY" else cash) if trades else "",
            "makingAmount": num(cash if o.side == "BUY" else shares) if trades else "",
            "transactionsHashes": [t.tx_hash for t in trades],
            "tradeIDs": [t.id for t in trades],
        }

    def _check_funds(
        self, creds: Creds, inc: Incoming, m: _Market, plan: list[tuple[int, float]]
    ) -> None:
        acct = self.ledger.account(inc.maker)
        key = acct.address.lower()
        if inc.side == "SELL":
            free = acct.tokens.get(inc.token, 0.0) - self.ledger.reserved_shares(key, inc.token)
            if inc.size > free + EPS:
                raise Rejected("not enough balance / allowance")
            return
        rate, exponent, _ = self.fee_schedule(m.served)
        taken = sum(s for _, s in plan)
        need = sum(
            s * p / PRICE_SCALE + taker_fee(s, p / PRICE_SCALE, rate, exponent) for p, s in plan
        )
        if inc.order_type in ("GTC", "GTD"):
            need += (inc.size - taken) * float(inc.price)
        if need > acct.usdc - self.ledger.reserved_usdc(key) + EPS:
            raise Rejected("not enough balance / allowance")

    async def _expire(self, o: VenueOrder, expiration_s: int) -> None:
        await self.clock.sleep_until_ns(expiration_s * 10**9)
        self.catch_up(self.clock.now_ns())
        if o.is_open:
            self._cancel(o)

    # ---- cancels -------------------------------------------------------------------
    def _cancel(self, o: VenueOrder, status: str = "CANCELED") -> bool:
        m = self.markets.get(o.market)
        if m is not None:
            m.fills.remove(o.id)
        if not self.ledger.close(o, status):
            return False
        self.publish(
            o.account, o.market, Ledger.order_event(o, "CANCELLATION", self.clock.now_ns())
        )
        return True

    def cancel(self, account: str, ids: list[str]) -> dict[str, Any]:
        """Cancel `ids` of `account` now (after catching the books up): the venue's
        `{"canceled": [...], "not_canceled": {id: reason}}`."""
        self.catch_up(self.clock.now_ns())
        canceled: list[str] = []
        not_canceled: dict[str, str] = {}
        for oid in dict.fromkeys(ids):
            o = self.ledger.orders.get(oid)
            if o is None or o.account != account.lower():
                not_canceled[oid] = "order not found"
            elif o.status == "MATCHED":
                not_canceled[oid] = "order already matched"
            elif not o.is_open:
                not_canceled[oid] = "order already canceled"
            elif self._cancel(o):
                canceled.append(oid)
        return {"canceled": canceled, "not_canceled": not_canceled}

    def open_ids(self, account: str, market: str = "", asset_id: str = "") -> list[str]:
        return [
            o.id
            for o in self.ledger.open_orders(account.lower())
            if (not market or o.market == market) and (not asset_id or o.asset_id == asset_id)
        ]

    # ---- heartbeats ----------------------------------------------------------------
    def heartbeat(self, creds: Creds) -> None:
        self.ledger.stats.heartbeats += 1
        self.heartbeats[creds.api_key] = time.monotonic()
        timeout = self.params.heartbeat_timeout_s
        task = self._hb_tasks.get(creds.api_key)
        if timeout > 0 and (task is None or task.done()):
            self._hb_tasks[creds.api_key] = asyncio.create_task(self._watch(creds, timeout))

    async def _watch(self, creds: Creds, timeout_s: float) -> None:
        """Cancel the orders of a client whose heartbeats stopped; then disarm."""
        while True:
            late = self.heartbeats[creds.api_key] + timeout_s - time.monotonic()
            if late <= 0:
                break
            await asyncio.sleep(late)
        del self.heartbeats[creds.api_key]
        self.cancel(creds.address, self.open_ids(creds.address))

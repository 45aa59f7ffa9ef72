"""The broker with the windows' RealVenues, against an in-memory exchange standing for
the CLOB's REST calls and a real user socket on loopback: orphans cancelled at start,
a post that fills through socket events, a socket drop healed by the REST reconcile,
the daily loss limit, stop, and a dry run that sends nothing.

(The fake venue of `pk8opt serve` drives the same code end to end through Polymarket's
own client: tests/integration/test_real_venue.py.)"""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from websockets.asyncio.server import serve

from pk8opt.engine.eventlog import EventLog
from pk8opt.engine.market import MarketSpec
from pk8opt.engine.orders import Status
from pk8opt.polymarket.endpoints import Endpoints
from pk8opt.venue.broker import Broker
from pk8opt.venue.client import MarketInfo
from pk8opt.venue.credentials import ApiKeys, Credentials, Secret
from pk8opt.venue.limits import Limits

S = 1_000_000_000
T0 = 1_767_225_600 * S
COND = "0xcond"
SPEC = MarketSpec("btc-updown-15m-1767225600", "BTC", "15m", COND, "111", "222", T0, T0 + 900 * S)
KEY = "0x" + "ab" * 32
API_SECRET = "c3R1Yi1zZWNyZXQtZm9yLXRlc3Rz"
PASSPHRASE = "stub-passphrase-0123"


@dataclass
class Signed:
    tokenId: str
    price: float
    size: float
    signature: str = "0xdeadbeef" * 4


@dataclass
class StubExchange:
    """The REST calls of `ClobApi`, answered from memory (synchronous, like the client)."""

    credentials: Credentials
    open: dict[str, dict[str, Any]] = field(default_factory=dict)
    trades_list: list[dict[str, Any]] = field(default_factory=list)
    balance: float = 100.0
    posts: int = 0
    cancel_alls: int = 0
    refuse_cancel: set[str] = field(default_factory=set)
    held: dict[str, float] = field(default_factory=dict)

    address = "0x0000000000000000000000000000000000000abc"

    def derive_api_keys(self) -> ApiKeys:
        keys = ApiKeys(Secret("stub-key-0001"), Secret(API_SECRET), Secret(PASSPHRASE))
        self.credentials = self.credentials.with_api(keys)
        return keys

    def market_info(self, token_id: str) -> MarketInfo:
        return MarketInfo("0.01", False, 5.0)

    def create_order(self, token_id: str, price: float, size: float, info: MarketInfo) -> Signed:
        return Signed(token_id, price, size)

    def post_order(self, signed: Signed, post_only: bool) -> dict[str, Any]:
        self.posts += 1
        vid = f"0xo{self.posts}"
        self.open[vid] = {
            "id": vid, "market": COND, "asset_id": signed.tokenId, "side": "BUY",
            "price": str(signed.price), "original_size": str(signed.size), "size_matched": "0",
            "status": "LIVE",
        }  # fmt: skip
        return {"success": True, "orderID": vid, "status": "live", "errorMsg": ""}

    def _cancel(self, ids: list[str]) -> dict[str, Any]:
        done = [i for i in ids if i in self.open and i not in self.refuse_cancel]
        for i in done:
            del self.open[i]
        return {"canceled": done, "not_canceled": {i: "refused" for i in ids if i not in done}}

    def cancel(self, vid: str) -> dict[str, Any]:
        return self._cancel([vid])

    def cancel_orders(self, ids: list[str]) -> dict[str, Any]:
        return self._cancel(ids)

    def cancel_all(self) -> dict[str, Any]:
        self.cancel_alls += 1
        return self._cancel(list(self.open))

    def open_orders(self, condition_id: str | None = None) -> list[dict[str, Any]]:
        return list(self.open.values())

    def trades(
        self, condition_id: str | None = None, after_s: int | None = None
    ) -> list[dict[str, Any]]:
        return list(self.trades_list)

    def balance_allowance(self, token_id: str | None = None) -> tuple[float, float | None]:
        if token_id:
            return self.held.get(token_id, 0.0), None
        return self.balance, 1e9

    def heartbeat(self, heartbeat_id: str = "") -> str:
        return "hb"

    def fill(self, vid: str, qty: float, trade_id: str, status: str = "MATCHED") -> dict[str, Any]:
        """Our maker order `vid` trades `qty`: the trade's wire object (also listed)."""
        o = self.open[vid]
        trade = {
            "id": trade_id, "market": COND, "asset_id": o["asset_id"], "status": status,
            "price": o["price"], "size": str(qty), "taker_order_id": "0xsomeone",
            "trader_side": "MAKER", "fee_rate_bps": "0", "timestamp": "1767225700000",
            "maker_orders": [{"order_id": vid, "asset_id": o["asset_id"],
                              "matched_amount": str(qty), "price": o["price"]}],
        }  # fmt: skip
        self.trades_list.append(trade)
        self.held[o["asset_id"]] = self.held.get(o["asset_id"], 0.0) + qty
        return trade


class UserChannel:
    """A loopback `/ws/user`: records subscriptions, pushes frames, drops clients."""

    def __init__(self) -> None:
        self.subscriptions: list[dict[str, Any]] = []
        self.clients: set[Any] = set()

    async def handler(self, ws: Any) -> None:
        self.clients.add(ws)
        try:
            async for msg in ws:
                if msg == "PING":
                    await ws.send("PONG")
                else:
                    self.subscriptions.append(json.loads(msg))
        finally:
            self.clients.discard(ws)

    async def push(self, obj: Any) -> None:
        for ws in list(self.clients):
            await ws.send(json.dumps(obj))

    async def drop(self) -> None:
        for ws in list(self.clients):
            await ws.close()


async def until(cond: Callable[[], bool], timeout_s: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or cond}")
        await asyncio.sleep(0.01)


def make(
    url: str, dry_run: bool = False, limits: Limits | None = None
) -> tuple[Broker, io.StringIO]:
    creds = Credentials(Secret(KEY))
    out = io.StringIO()
    holder: dict[str, StubExchange] = {}

    def factory(host: str, c: Credentials) -> Any:
        holder["x"] = StubExchange(c)
        return holder["x"]

    broker = Broker(
        creds,
        limits or Limits(),
        endpoints=Endpoints(user_ws_url=url),
        dry_run=dry_run,
        log=EventLog(out),
        api_factory=factory,
        heartbeat_s=0.2,
        balance_poll_s=0.2,
        reconcile_s=3600.0,  # only on reconnect here
    )
    return broker, out


def stub(broker: Broker) -> StubExchange:
    assert isinstance(broker.api, StubExchange)
    return broker.api


def lines(out: io.StringIO, event: str) -> list[dict[str, Any]]:
    return [r for r in map(json.loads, out.getvalue().splitlines()) if r["event"] == event]


def run(test: Callable[[UserChannel, str], Any]) -> None:
    async def main() -> None:
        channel = UserChannel()
        async with serve(channel.handler, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            await asyncio.wait_for(test(channel, f"ws://127.0.0.1:{port}/ws/user"), 120)

    asyncio.run(main())


def test_start_fill_drop_reconcile_stop() -> None:
    async def body(channel: UserChannel, url: str) -> None:
        broker, out = make(url)
        orphan = {"id": "0xold", "market": "0xother", "asset_id": "9", "side": "BUY",
                  "price": "0.3", "original_size": "5", "size_matched": "0", "status": "LIVE"}  # fmt: skip

        def factory(host: str, c: Credentials) -> Any:
            x = StubExchange(c)
            x.open["0xold"] = orphan
            return x

        broker._api_factory = factory
        orphans = await broker.start()
        x = stub(broker)
        assert [o["venue_order_id"] for o in orphans] == ["0xold"] and not x.open
        (start,) = lines(out, "real_start")
        assert start["orphans"][0]["venue_order_id"] == "0xold" and start["balance_usdc"] == 100.0
        assert broker.balance_usdc == 100.0 and broker.allowance_usdc == 1e9
        await until(lambda: bool(channel.subscriptions), what="the subscription")
        sub = channel.subscriptions[0]
        assert sub["type"] == "user" and sub["auth"]["secret"] == API_SECRET

        log = io.StringIO()
        venue = broker.window(SPEC, EventLog(log))
        await until(lambda: any(s.get("operation") == "subscribe" for s in channel.subscriptions))
        o = venue.submit(T0, 0, 450, 10.0, "entry")
        await until(lambda: o.status == Status.OPEN, what="the post")
        vid = venue.venue_ids[o.id]
        await channel.push(x.fill(vid, 4.0, "t1"))
        await until(lambda: o.filled == 4.0, what="the fill")
        assert venue.responses.pos == [4.0, 0.0]

        # the socket drops; a trade happens meanwhile; the reconnect's reconcile finds it
        await channel.drop()
        x.fill(vid, 3.0, "t2", "MINED")
        await until(lambda: broker.reconciles >= 1 and o.filled == 7.0, what="the reconcile")
        assert venue.account.pos[0] == x.held["111"] == 7.0
        assert any(r["what"] == "missed_fill" for r in lines(log, "real_reconcile"))

        x.refuse_cancel.add(vid)
        left = await broker.stop()
        assert left == [vid]
        x.refuse_cancel.clear()
        assert x.cancel_alls == 1 and lines(out, "real_stop")[0]["not_cancelled"] == [vid]
        for text in (out.getvalue(), log.getvalue()):
            assert KEY not in text and KEY[2:] not in text and API_SECRET not in text
            assert PASSPHRASE not in text

    run(body)


def test_the_daily_loss_limit_cancels_everything_and_halts() -> None:
    async def body(channel: UserChannel, url: str) -> None:
        broker, out = make(url, limits=Limits(daily_loss_limit=2.0))
        await broker.start()
        x = stub(broker)
        venue = broker.window(SPEC, None)
        held = venue.submit(T0, 0, 500, 10.0)
        resting = venue.submit(T0, 1, 400, 5.0)
        await until(lambda: held.status == Status.OPEN and resting.status == Status.OPEN)
        await channel.push(x.fill(venue.venue_ids[held.id], 10.0, "t1"))
        await until(lambda: held.status == Status.FILLED)
        assert broker.halted is None
        venue.account.equity(0.25, None)  # the trade loop marks Up at 0.25: 2.5 USDC down
        await until(lambda: broker.halted is not None, what="the halt")
        assert "PM_DAILY_LOSS_LIMIT=2" in broker.halted
        await until(lambda: resting.status == Status.CANCELLED, what="cancel all")
        assert x.cancel_alls == 1 and not x.open
        refused = venue.submit(T0 + S, 1, 400, 5.0)
        assert refused.status == Status.REJECTED and refused.reason.startswith("halted: daily loss")
        (halt,) = lines(out, "real_halt")
        assert "daily loss" in halt["reason"]
        await broker.stop()

    run(body)


def test_dry_run_sends_nothing() -> None:
    async def body(channel: UserChannel, url: str) -> None:
        broker, out = make(url, dry_run=True)
        log = io.StringIO()

        def factory(host: str, c: Credentials) -> Any:
            x = StubExchange(c)
            x.open["0xold"] = {"id": "0xold", "market": COND, "price": "0.3", "original_size": "5"}
            return x

        broker._api_factory = factory
        orphans = await broker.start()
        x = stub(broker)
        assert len(orphans) == 1 and "0xold" in x.open  # listed, left alone
        venue = broker.window(SPEC, EventLog(log))
        o = venue.submit(T0, 0, 450, 10.0)
        await until(lambda: o.status == Status.OPEN, what="the dry post")
        (dry,) = lines(log, "real_order_dry_run")
        assert dry["tokenId"] == "111" and dry["post_only"] is True and "signature" not in dry
        venue.cancel(T0 + S, o)
        assert o.status == Status.CANCELLED
        assert await broker.stop() == []
        assert x.posts == 0 and x.cancel_alls == 0 and "0xold" in x.open
        assert not channel.subscriptions  # no socket: nothing rests at the venue

    run(body)


@pytest.mark.parametrize("answer", [{"success": False, "errorMsg": "invalid tick size"}])
def test_a_venue_refusal_rejects_the_order(answer: dict[str, Any]) -> None:
    async def body(channel: UserChannel, url: str) -> None:
        from pk8opt.venue.client import VenueError

        broker, _ = make(url)
        await broker.start()
        x = stub(broker)

        def refuse(signed: Signed, post_only: bool) -> dict[str, Any]:
            raise VenueError(str(answer["errorMsg"]))

        x.post_order = refuse  # type: ignore[method-assign]
        venue = broker.window(SPEC, None)
        o = venue.submit(T0, 0, 450, 10.0)
        await until(lambda: o.status == Status.REJECTED, what="the refusal")
        assert o.reason == "venue: invalid tick size" and o.seen_done
        await broker.stop()

    run(body)

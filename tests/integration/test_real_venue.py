"""Real mode end to end on loopback: the Broker and its RealVenues drive Polymarket's own
client (`py_clob_client_v2`) against the fake venue (`pk8opt.fakepm`: CLOB REST, signed
orders, the user socket, its own fill model on a replayed market).

Covered: orders an earlier run left resting are listed and cancelled at start; a post
rests, fills from the replayed trades and the fills reach positions through the user
socket; a cancel; a user-socket drop during which a fill happens, healed by the
reconcile of the reconnect (positions end equal to the venue's); a trade the chain
fails is taken back; the daily loss limit cancels everything; a dry run posts nothing;
and no log file holds the private key, the API secret or the passphrase.

The venue clock is the test's (`ManualClock`): fills happen when the test moves it past
the replayed trades, never by the wall; every wait polls with a generous timeout.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
from support.venue import (
    COND,
    DOWN,
    SLUG,
    START,
    UP,
    ManualClock,
    Venue,
    book,
    trade,
    venue_session,
    wait_for,
)

from pk8opt.engine.eventlog import EventLog
from pk8opt.engine.market import MarketSpec
from pk8opt.engine.orders import Status
from pk8opt.polymarket.endpoints import Endpoints
from pk8opt.venue.broker import Broker
from pk8opt.venue.credentials import load_credentials
from pk8opt.venue.limits import Limits
from pk8opt.venue.real import REAL_EVENTS

pytestmark = pytest.mark.slow

S = 10**9
SPEC = MarketSpec(SLUG, "BTC", "15m", COND, UP, DOWN, START * S, (START + 900) * S)
# a quiet book, then sellers printing at 0.46 (our bid) now and then
FRAMES = [
    (1.0, book(UP, [("0.45", "100")], [("0.50", "100")])),
    (1.0, book(DOWN, [("0.49", "100")], [("0.54", "100")])),
    (100.0, trade(UP, "0.46", "4")),
    (200.0, trade(UP, "0.46", "3")),
    (300.0, trade(UP, "0.46", "2")),
]
FAST = ["post_latency_ms=0", "cancel_latency_ms=0", "mine_ms=1000", "confirm_ms=1000"]


class Run:
    """One test's fake venue, clock, broker and log files."""

    def __init__(self, tmp: Path, venue: Venue, clock: ManualClock) -> None:
        self.tmp = tmp
        self.v = venue
        self.clock = clock
        self.files: list[Any] = []

    def log(self, name: str) -> EventLog:
        fh = open(self.tmp / name, "a", encoding="utf-8")  # noqa: SIM115
        self.files.append(fh)
        return EventLog(fh)

    def broker(self, dry_run: bool = False, limits: Limits | None = None) -> Broker:
        return Broker(
            load_credentials({"PM_PRIVATE_KEY": self.v.key}),
            limits or Limits(),
            endpoints=Endpoints.resolve(env=self.v.env),
            clock=self.clock,  # type: ignore[arg-type]
            dry_run=dry_run,
            log=self.log("broker.jsonl"),
            heartbeat_s=1.0,
            balance_poll_s=0.5,
            reconcile_s=3600.0,  # on reconnect only: the test decides when views differ
        )

    def open_at_venue(self) -> list[Any]:
        return self.v.clob.ledger.open_orders()

    def venue_shares(self, broker: Broker, token: str) -> float:
        assert broker.api is not None
        return float(self.v.clob.ledger.account(broker.api.address).tokens.get(token, 0.0))

    def events(self, name: str) -> list[dict[str, Any]]:
        import json

        for fh in self.files:
            fh.flush()
        out = []
        for path in sorted(self.tmp.glob("*.jsonl")):
            out += [json.loads(line) for line in path.read_text().splitlines()]
        return [e for e in out if e["event"] == name]

    def close(self) -> None:
        for fh in self.files:
            fh.close()


def run(tmp_path: Path, body: Any, params: list[str] = FAST) -> None:
    session = venue_session(tmp_path / "sessions", FRAMES)

    async def main() -> None:
        clock = ManualClock((START + 10) * S)
        async with Venue([session], clock, params) as v:
            r = Run(tmp_path, v, clock)
            try:
                await asyncio.wait_for(body(r), 180)
            finally:
                r.close()

    handler = logging.FileHandler(tmp_path / "python.log")
    logging.getLogger().addHandler(handler)
    try:
        asyncio.run(main())
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()


def assert_no_secrets(tmp_path: Path, broker: Broker, key: str) -> None:
    """No log file holds a secret; every event written is a known one."""
    import json

    for path in tmp_path.glob("*.jsonl"):
        names = {json.loads(line)["event"] for line in path.read_text().splitlines()}
        assert names <= set(REAL_EVENTS), names - set(REAL_EVENTS)
    api = broker.credentials.api
    assert api is not None
    secrets = [key, key[2:], api.secret.reveal(), api.passphrase.reveal()]
    logs = [p for p in tmp_path.iterdir() if p.is_file()]
    assert any(p.suffix == ".jsonl" for p in logs)
    for path in logs:
        text = path.read_text()
        for s in secrets:
            assert s not in text, f"{path.name} holds a secret"


def test_orphans_fills_cancel_drop_and_reconcile(tmp_path: Path) -> None:
    async def body(r: Run) -> None:
        v, clock = r.v, r.clock
        await v.login()  # an earlier run's order, left resting
        await v.buy(UP, 0.40, 5)
        assert len(r.open_at_venue()) == 1
        broker = r.broker()
        orphans = await broker.start()
        assert [o["price"] for o in orphans] == [0.4] and r.open_at_venue() == []
        assert broker.balance_usdc == pytest.approx(1000.0)
        await wait_for(lambda: broker.socket is not None and broker.socket.connected, "socket")

        venue = broker.window(SPEC, r.log("window.jsonl"))
        o = venue.submit(clock.now_ns(), 0, 460, 10.0, "entry")
        await wait_for(lambda: o.status == Status.OPEN, "the post")
        assert len(r.open_at_venue()) == 1
        await clock.advance_to(100)
        await wait_for(lambda: o.filled == 4.0, "the first fill, by the socket")
        assert venue.responses.pos == [4.0, 0.0] and venue.account.cost[0] == pytest.approx(1.84)
        (fill,) = r.events("real_fill")
        assert fill["venue_order_id"] == venue.venue_ids[o.id] and fill["liquidity"] == "maker"
        assert fill["qty"] == 4.0 and fill["price"] == 0.46 and fill["source"] == "socket"

        # the socket drops and stays away (its address refuses) while the next fill is
        # made: its event is lost; the reconcile of the reconnect finds the fill
        sock = broker.socket
        assert sock is not None
        url, sock.url = sock.url, "ws://127.0.0.1:1/ws/user"
        v.server.drop("user")
        await wait_for(lambda: not sock.connected, "the drop")
        await clock.advance_to(200)
        await wait_for(lambda: r.venue_shares(broker, UP) == 7.0, "the fill at the venue")
        assert o.filled == 4.0
        sock.url = url
        await wait_for(lambda: broker.reconciles >= 1 and o.filled == 7.0, "the reconcile")
        assert venue.account.pos[0] == r.venue_shares(broker, UP) == 7.0
        missed = [e for e in r.events("real_reconcile") if e["what"] == "missed_fill"]
        assert missed and missed[0]["trade_id"]

        venue.cancel(clock.now_ns(), o)
        await wait_for(lambda: o.status == Status.CANCELLED, "the cancel")
        assert r.open_at_venue() == [] and o.seen_done
        await clock.advance_to(300)  # a print at our price: nothing of ours rests there
        assert o.filled == 7.0

        again = venue.submit(clock.now_ns(), 1, 480, 5.0, "entry")
        await wait_for(lambda: again.status == Status.OPEN, "a second post")
        assert await broker.stop() == []
        assert r.open_at_venue() == []
        assert_no_secrets(r.tmp, broker, v.key)

    run(tmp_path, body)


def test_a_failed_trade_is_taken_back(tmp_path: Path) -> None:
    async def body(r: Run) -> None:
        v, clock = r.v, r.clock
        broker = r.broker()
        await broker.start()
        await wait_for(lambda: broker.socket is not None and broker.socket.connected, "socket")
        venue = broker.window(SPEC, r.log("window.jsonl"))
        o = venue.submit(clock.now_ns(), 0, 460, 10.0)
        await wait_for(lambda: o.status == Status.OPEN, "the post")
        v.clob.exchange.fail_next = 1
        await clock.advance_to(100)
        await wait_for(lambda: o.filled == 4.0, "the fill")
        await clock.advance_to(101.5)
        await clock.advance_to(103)
        await wait_for(lambda: o.filled == 0.0, "the failed trade taken back")
        assert venue.account.pos == [0.0, 0.0] and venue.responses.pos == [0.0, 0.0]
        assert r.venue_shares(broker, UP) == 0.0
        (failed,) = r.events("real_trade_failed")
        assert failed["reversed"] == 4.0
        await broker.stop()
        assert_no_secrets(r.tmp, broker, v.key)

    run(tmp_path, body)


def test_the_daily_loss_limit_cancels_everything(tmp_path: Path) -> None:
    async def body(r: Run) -> None:
        clock = r.clock
        broker = r.broker(limits=Limits(daily_loss_limit=1.0))
        await broker.start()
        await wait_for(lambda: broker.socket is not None and broker.socket.connected, "socket")
        venue = broker.window(SPEC, r.log("window.jsonl"))
        held = venue.submit(clock.now_ns(), 0, 460, 10.0)
        other = venue.submit(clock.now_ns(), 1, 400, 5.0)
        await wait_for(lambda: held.live and other.status == Status.OPEN, "the posts")
        await wait_for(lambda: held.status == Status.OPEN, "the posts")
        await clock.advance_to(200)
        await wait_for(lambda: held.filled == 7.0, "the fills")
        assert broker.halted is None
        venue.account.equity(0.2, 0.5)  # the trade loop marks Up at 0.2: 1.82 USDC down
        await wait_for(lambda: broker.halted is not None, "the halt")
        await wait_for(lambda: not r.open_at_venue(), "cancel all at the venue")
        await wait_for(lambda: not held.live and not other.live, "cancels known here")
        refused = venue.submit(clock.now_ns(), 1, 400, 5.0)
        assert refused.status == Status.REJECTED and refused.reason.startswith("halted")
        assert r.events("real_halt")
        assert await broker.stop() == []

    run(tmp_path, body)


def test_dry_run_posts_nothing(tmp_path: Path) -> None:
    async def body(r: Run) -> None:
        v, clock = r.v, r.clock
        await v.login()
        await v.buy(UP, 0.40, 5)  # an earlier order: a dry run lists it, leaves it
        posts_before = v.clob.stats.posts_received
        broker = r.broker(dry_run=True)
        orphans = await broker.start()
        assert len(orphans) == 1 and len(r.open_at_venue()) == 1
        venue = broker.window(SPEC, r.log("window.jsonl"))
        o = venue.submit(clock.now_ns(), 0, 460, 10.0)
        await wait_for(lambda: o.status == Status.OPEN, "the dry post")
        await clock.advance_to(300)
        assert o.filled == 0.0
        (dry,) = r.events("real_order_dry_run")
        assert dry["tokenId"] == UP and "signature" not in dry
        venue.cancel(clock.now_ns(), o)
        assert o.status == Status.CANCELLED
        assert await broker.stop() == []
        assert v.clob.stats.posts_received == posts_before
        assert v.clob.stats.cancels_received == 0 and len(r.open_at_venue()) == 1
        assert_no_secrets(r.tmp, broker, v.key)

    run(tmp_path, body)

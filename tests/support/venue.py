"""The fake venue under test: a small hand-written market, a clock the test moves, and the
real `py_clob_client_v2.ClobClient` pointed at it.

`venue_session` writes one 15-minute session whose market frames are given as
(venue seconds after the window start, frame object); `ManualClock` is a venue clock that
only moves when the test says so, so a fill or a trade's settlement happens exactly when
the test advances past it (the wall never decides); `Venue` runs `FakePolymarket` in the
test's event loop and calls the synchronous client from a worker thread.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from pathlib import Path
from typing import Any

from pk8opt.fakepm.build import ids_for
from pk8opt.fakepm.server import FakePolymarket
from pk8opt.fakepm.timeline import load_venue
from pk8opt.fakepm.venue_params import parse_venue_params
from pk8opt.recordings.manifest import FeeSchedule, Manifest, Resolution, write_manifest
from pk8opt.recordings.raw import FrameWriter
from pk8opt.recordings.session import finish_session

START = 1790658000  # a window start (a multiple of 900)
UP, DOWN, COND = ids_for("BTC", START)
SLUG = f"btc-updown-15m-{START}"
WAIT_S = 30.0  # how long a test waits for something that should happen (a loaded machine)


def book(token: str, bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> dict:
    """A `book` frame; levels given best first, sent worst first as the venue does."""
    return {
        "event_type": "book", "market": COND, "asset_id": token, "timestamp": "0", "hash": "h",
        "bids": [{"price": p, "size": s} for p, s in reversed(bids)],
        "asks": [{"price": p, "size": s} for p, s in reversed(asks)],
    }  # fmt: skip


def trade(token: str, price: str, size: str, side: str = "SELL") -> dict:
    """A `last_trade_price`; `side` is the taker's."""
    return {
        "event_type": "last_trade_price", "market": COND, "asset_id": token, "price": price,
        "size": size, "side": side, "fee_rate_bps": "0", "timestamp": "0",
    }  # fmt: skip


def level(token: str, side: str, price: str, size: str) -> dict:
    """A `price_change` setting one level of `token` (and its mirror on the other token)."""
    other = DOWN if token == UP else UP
    mirror_side = "SELL" if side == "BUY" else "BUY"
    mirror_price = f"{1 - float(price):.3f}".rstrip("0")
    return {
        "event_type": "price_change", "market": COND, "timestamp": "0",
        "price_changes": [
            {"asset_id": token, "price": price, "size": size, "side": side, "hash": "a"},
            {"asset_id": other, "price": mirror_price, "size": size, "side": mirror_side,
             "hash": "b"},
        ],
    }  # fmt: skip


def venue_session(root: Path, frames: list[tuple[float, dict]], fees: bool = True) -> Path:
    m = Manifest(
        slug=SLUG, symbol="BTC", timeframe="15m", condition_id=COND, token_up=UP,
        token_down=DOWN, window_start_s=START, window_end_s=START + 900, tick_size=0.01,
        min_order_size=5.0, fees_enabled=fees,
        fee_schedule=FeeSchedule(rate=0.07, exponent=1.0, taker_only=True, rebate_rate=0.2)
        if fees else None,
    )  # fmt: skip
    folder = root / SLUG
    folder.mkdir(parents=True)
    write_manifest(folder, m)
    w = FrameWriter(folder)
    for offset_s, obj in frames:
        w.write(int((START + offset_s) * 1e9), "market", json.dumps(obj))
    w.close()
    finish_session(folder, m, resolution=Resolution("Up", "gamma", (START + 990) * 10**9))
    return folder


class ManualClock:
    """A venue clock that stands still until `advance`: sleepers wake when it passes them."""

    speed = 1.0
    is_wall = False

    def __init__(self, now_ns: int) -> None:
        self.t = now_ns
        self._moved = asyncio.Event()

    def now_ns(self) -> int:
        return self.t

    def now_s(self) -> float:
        return self.t / 1e9

    def venue_ns_at(self, wall_ns: int) -> int:
        """Any wall time reads as now: this clock follows the test, not the wall."""
        return self.t

    def to_env(self) -> dict[str, str]:
        return {"PK8_CLOCK_VENUE_NS": str(self.t), "PK8_CLOCK_WALL_NS": "0", "PK8_CLOCK_SPEED": "1"}

    async def sleep_until_ns(self, venue_ns: int) -> None:
        while self.t < venue_ns:
            await self._moved.wait()

    async def advance_to(self, venue_s: float) -> None:
        """Move to `venue_s` seconds after the window start; let what was due run."""
        self.t = max(self.t, int((START + venue_s) * 1e9))
        moved, self._moved = self._moved, asyncio.Event()
        moved.set()
        for _ in range(20):  # sleepers wake, catch up and publish
            await asyncio.sleep(0)


class Venue:
    """`FakePolymarket` on loopback plus a real `ClobClient` (with a fresh wallet) on it."""

    def __init__(self, paths: list[Path], clock: Any, params: list[str] = ()) -> None:
        self.server = FakePolymarket(
            load_venue(paths), clock, venue_params=parse_venue_params(list(params))
        )
        self.clock = clock
        self.key = "0x" + secrets.token_hex(32)
        self.client: Any = None

    async def __aenter__(self) -> Venue:
        await self.server.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.server.stop()

    @property
    def env(self) -> dict[str, str]:
        return self.server.env()

    @property
    def clob(self) -> Any:
        return self.server.clob

    async def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a (blocking) client call in a worker thread."""
        return await asyncio.wait_for(asyncio.to_thread(fn, *args, **kwargs), WAIT_S)

    async def login(self) -> Any:
        """A client with API credentials derived from its wallet (L1), as a bot starts."""
        from py_clob_client_v2.client import ClobClient

        self.client = ClobClient(self.env["PK8_CLOB_URL"], chain_id=137, key=self.key,
                                 signature_type=0)  # fmt: skip
        creds = await self.call(self.client.create_or_derive_api_key)
        self.client.set_api_creds(creds)
        return creds

    async def buy(
        self, token: str, price: float, size: float, post_only: bool = True, kind: str = "GTC"
    ) -> dict:
        """create_order + post_order, as the live runner does."""
        from py_clob_client_v2.clob_types import OrderArgsV2

        order = await self.call(
            self.client.create_order, OrderArgsV2(token_id=token, price=price, size=size,
                                                  side="BUY")
        )  # fmt: skip
        return await self.call(self.client.post_order, order, kind, post_only)


async def wait_for(predicate: Any, what: str, timeout: float = WAIT_S) -> None:
    """Poll `predicate` until true; fail naming `what` after `timeout` seconds."""
    try:
        async with asyncio.timeout(timeout):
            while not predicate():
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"waited {timeout:g} s for {what}") from None


class UserSocket:
    """A `/ws/user` connection that collects every event it gets. Entering returns once
    the venue holds the subscription (the venue sends no acknowledgement)."""

    def __init__(self, venue: Venue, creds: Any, markets: list[str] | None = None) -> None:
        self.venue, self.creds, self.markets = venue, creds, markets
        self.url = venue.env["PK8_USER_WS_URL"]
        self.events: list[dict] = []
        self.texts: list[str] = []
        self.ws: Any = None
        self._task: asyncio.Task | None = None

    async def __aenter__(self) -> UserSocket:
        from websockets.asyncio.client import connect

        self.ws = await connect(self.url)
        auth = {"apiKey": self.creds.api_key, "secret": self.creds.api_secret,
                "passphrase": self.creds.api_passphrase}  # fmt: skip
        subs = self.venue.clob.users.subs
        before = len(subs)
        await self.ws.send(
            json.dumps({"auth": auth, "markets": self.markets or [], "type": "user"})
        )
        self._task = asyncio.create_task(self._read())
        await wait_for(lambda: len(subs) > before, "the user socket's subscription")
        return self

    async def _read(self) -> None:
        try:
            async for msg in self.ws:
                try:
                    self.events.append(json.loads(msg))
                except ValueError:
                    self.texts.append(msg)
        except Exception:
            pass

    async def __aexit__(self, *exc: object) -> None:
        await self.ws.close()
        if self._task is not None:
            self._task.cancel()

    def of(self, event_type: str, **match: str) -> list[dict]:
        return [
            e for e in self.events
            if e.get("event_type") == event_type and all(e.get(k) == v for k, v in match.items())
        ]  # fmt: skip

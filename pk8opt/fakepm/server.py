"""The fake Polymarket: Gamma over HTTP and the sockets on one loopback port, the CLOB's
REST API (orders, cancels, balances: `clob.ClobServer`) on a second one.

    GET /markets?slug=...      Gamma markets (a list; resolution shows after the window
    GET /events?slug=...       end + the recorded delay)
    ws  /ws/market             CLOB market channel (subscribe, operation, PING/PONG, arrays,
                               custom features gate best_bid_ask/new_market/market_resolved)
    ws  /live                  live-data socket (subscribe topic + filters, `ping` ignored)
    ws  /ws/user               user channel: our orders' and trades' events (`userws`)
    GET /_clock                the venue clock as PK8_CLOCK_* settings (JSON)
    GET /_fault/drop?socket=market|live|user     cut every connection of that socket
    GET /_fault/garbage?socket=market|live&n=3   send n frames that are not valid JSON
    GET /_fault/mute?on=1|0                      stop / resume answering PING
    GET /_fault/big?socket=market|live&bytes=N   send one frame of N bytes

Frames are replayed verbatim at their recorded venue times on the `VenueClock`. A client
that subscribes to an asset first gets its book as it stands at that moment (every
recorded frame up to then applied, `StandingBooks`), then the frames after it. A client
already streaming gets the book as it stands where its stream has got to, which may be
behind the clock: the frames still to come then follow that book, as on the venue.

Behaviours for tests (attributes of `FakePolymarket`): `gamma_hold` (an
`asyncio.Event`: Gamma answers wait until it is set), `live_backfill` (on subscribe, the
live-data socket first sends the last price before now, as the real one does), and
`ignore_unsubscribe` (the market socket keeps streaming unsubscribed assets).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import msgspec

from pk8opt.fakepm.clob import ClobServer
from pk8opt.fakepm.timeline import StandingBooks, Venue
from pk8opt.fakepm.venue_params import VenueParams
from pk8opt.polymarket.endpoints import VenueClock

_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode
GARBAGE = ("{not json", "\x00\x01garbage", '[{"event_type": ', "<html>502</html>")


@dataclass
class Client:
    id: int
    socket: str
    ws: Any
    assets: set[str] = field(default_factory=set)
    custom: bool = False
    subs: set[tuple[str, str]] = field(default_factory=set)
    task: asyncio.Task[None] | None = None
    at: int = 0  # the first frame of its socket's timeline its stream has not sent yet


class FakePolymarket:
    def __init__(
        self,
        venue: Venue,
        clock: VenueClock,
        host: str = "127.0.0.1",
        port: int = 0,
        keep_sent: bool = False,
        venue_params: VenueParams | None = None,
        clob_port: int = 0,
    ) -> None:
        self.venue = venue
        self.clock = clock
        self.host = host
        self.port = port
        self.clients: dict[int, Client] = {}
        self._ids = itertools.count(1)
        self.mute_pong = False
        self.keep_sent = keep_sent
        self.sent: list[tuple[int, str, int, str]] = []  # (client id, socket, venue t, raw)
        self._server: Any = None
        self._market_times = venue.market_times
        self.books = StandingBooks(venue)
        self._live_times = [f.t for f in venue.live_frames]
        self.gamma_hold: asyncio.Event | None = None
        self.live_backfill = False
        self.ignore_unsubscribe = False
        self.backfills_sent = 0
        # the venue that takes orders: REST on its own port, `/ws/user` on this one
        self.clob = ClobServer(
            venue,
            clock,
            venue_params or VenueParams(),
            host,
            clob_port,
            send=self._send,
            mute=lambda: self.mute_pong,
        )

    # ---- lifecycle -------------------------------------------------------
    async def start(self) -> None:
        from websockets.asyncio.server import serve

        self._server = await serve(
            self._handle,
            self.host,
            self.port,
            process_request=self._http,
            ping_interval=None,
            max_size=None,
            compression=None,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        await self.clob.start()

    async def stop(self) -> None:
        await self.clob.stop()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 3)

    def env(self) -> dict[str, str]:
        base = f"{self.host}:{self.port}"
        out = {
            "PK8_GAMMA_URL": f"http://{base}",
            "PK8_CLOB_WS_URL": f"ws://{base}/ws/market",
            "PK8_LIVE_WS_URL": f"ws://{base}/live",
        }
        out.update(self.clock.to_env())
        out.update(PK8_CLOB_URL=self.clob.url, PK8_USER_WS_URL=f"ws://{base}/ws/user")
        return out

    # ---- faults ------------------------------------------------------------
    def drop(self, socket: str) -> int:
        n = 0
        for c in list(self.clients.values()):
            if c.socket == socket:
                c.ws.transport.abort()
                n += 1
        return n

    async def garbage(self, socket: str, n: int = 3) -> int:
        sent = 0
        for c in list(self.clients.values()):
            if c.socket != socket:
                continue
            for i in range(n):
                await self._send(c, GARBAGE[i % len(GARBAGE)], self.clock.now_ns())
                sent += 1
        return sent

    async def big(self, socket: str, nbytes: int) -> int:
        """Send every client of `socket` one frame of `nbytes` bytes (a JSON string)."""
        raw = '"' + "x" * max(0, nbytes - 2) + '"'
        sent = 0
        for c in list(self.clients.values()):
            if c.socket == socket:
                with contextlib.suppress(Exception):
                    await self._send(c, raw, self.clock.now_ns())
                    sent += 1
        return sent

    # ---- HTTP --------------------------------------------------------------
    async def _http(self, connection: Any, request: Any) -> Any:
        url = urlsplit(request.path)
        if (
            url.path in ("/ws/market", "/live", "/ws/user")
            and "upgrade" in request.headers.get("Connection", "").lower()
        ):
            return None
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if self.gamma_hold is not None and url.path in ("/markets", "/events"):
            await self.gamma_hold.wait()
        status, body = HTTPStatus.OK, cast(Any, None)
        now_s = self.clock.now_s()
        if url.path == "/markets":
            slugs = [s for s in query.get("slug", "").split(",") if s]
            body = [v for s in slugs if (v := self._market_view(s, now_s)) is not None]
        elif url.path == "/events":
            slug = query.get("slug", "")
            view = self._market_view(slug, now_s)
            body = [] if view is None else [self._event(view)]
        elif url.path == "/_clock":
            body = self.clock.to_env() | {"now_ns": str(self.clock.now_ns())}
        elif url.path == "/_fault/drop":
            body = {"dropped": self.drop(query.get("socket", "market"))}
        elif url.path == "/_fault/garbage":
            n = await self.garbage(query.get("socket", "market"), int(query.get("n", "3")))
            body = {"sent": n}
        elif url.path == "/_fault/big":
            body = {"sent": await self.big(query.get("socket", "market"), int(query["bytes"]))}
        elif url.path == "/_fault/mute":
            self.mute_pong = query.get("on", "1") not in ("0", "false")
            body = {"mute": self.mute_pong}
        else:
            status, body = HTTPStatus.NOT_FOUND, {"error": f"no route {url.path}"}
        response = connection.respond(status, _encode(body).decode())
        del response.headers["Content-Type"]
        response.headers["Content-Type"] = "application/json"
        return response

    def _market_view(self, slug: str, now_s: float) -> dict[str, Any] | None:
        market = self.venue.markets.get(slug)
        return None if market is None else market.view(now_s)

    @staticmethod
    def _event(view: dict[str, Any]) -> dict[str, Any]:
        keys = ("slug", "startDate", "endDate", "active", "closed")
        event = {k: view[k] for k in keys if k in view}
        event.update(id=view.get("id"), title=view.get("question"), markets=[view])
        return event

    # ---- sockets -----------------------------------------------------------
    async def _handle(self, ws: Any) -> None:
        path = urlsplit(ws.request.path).path
        socket = {"/ws/market": "market", "/ws/user": "user"}.get(path, "live")
        client = Client(next(self._ids), socket, ws)
        self.clients[client.id] = client
        try:
            async for msg in ws:
                if socket == "market":
                    await self._on_market_msg(client, msg)
                elif socket == "user":
                    await self.clob.users.on_message(client, msg)
                else:
                    await self._on_live_msg(client, msg)
        except Exception:
            pass
        finally:
            self.clients.pop(client.id, None)
            self.clob.users.forget(client)
            if client.task is not None:
                client.task.cancel()

    async def _on_market_msg(self, c: Client, msg: str | bytes) -> None:
        if msg == "PING":
            if not self.mute_pong:
                await c.ws.send("PONG")
            return
        try:
            obj = _decode(msg)
        except msgspec.DecodeError:
            return
        if not isinstance(obj, dict):
            return
        ids = [str(i) for i in obj.get("assets_ids") or ()]
        if obj.get("operation") == "unsubscribe":
            if not self.ignore_unsubscribe:
                c.assets.difference_update(ids)
            return
        if "type" in obj or "custom_feature_enabled" in obj:
            c.custom = bool(obj.get("custom_feature_enabled"))
        new = [i for i in ids if i not in c.assets]
        c.assets.update(new)
        now = self.clock.now_ns()
        if c.task is None:  # the stream starts after `now`
            c.at = self.books.frames_until(now)
        # each new asset's book as it stands where the client's stream goes on, so that
        # the frames it sends next follow from that book: a stream already running may be
        # behind the clock (a busy loop, a slow reader), and a book taken at `now` would be
        # followed by older frames
        times = self._market_times
        as_of = min(now, times[c.at] - 1) if c.at < len(times) else now
        books = [b for i in new if (b := self.books.book(i, c.at, as_of, c.assets)) is not None]
        if books:
            await self._send(c, books[0] if len(books) == 1 else "[" + ",".join(books) + "]", now)
        if c.task is None:
            c.task = asyncio.create_task(self._stream_market(c, now))

    async def _on_live_msg(self, c: Client, msg: str | bytes) -> None:
        try:
            obj = _decode(msg)
        except msgspec.DecodeError:
            return  # `ping`
        if not isinstance(obj, dict):
            return
        unsub = obj.get("action") == "unsubscribe"
        for sub in obj.get("subscriptions") or ():
            if not isinstance(sub, dict) or not sub.get("topic"):
                continue
            for symbol in _filter_symbols(sub.get("filters")):
                key = (str(sub["topic"]), symbol)
                (c.subs.discard if unsub else c.subs.add)(key)
        now = self.clock.now_ns()
        if self.live_backfill and not unsub and c.subs:
            i = bisect.bisect_right(self._live_times, now)
            wanted = [f for f in self.venue.live_frames[:i] if self._live_wanted(c, f)]
            if wanted:
                await self._send(c, wanted[-1].raw, now)
                self.backfills_sent += 1
        if c.task is None and c.subs:
            c.task = asyncio.create_task(self._stream_live(c, now))

    @staticmethod
    def _live_wanted(c: Client, f: Any) -> bool:
        return any(k in c.subs or (k[0], "*") in c.subs for k in f.keys)

    async def _send(self, c: Client, raw: str, t: int) -> None:
        await c.ws.send(raw)
        if self.keep_sent:
            self.sent.append((c.id, c.socket, t, raw))

    async def _stream_market(self, c: Client, start_ns: int) -> None:
        await self._stream(
            c,
            start_ns,
            self.venue.market_frames,
            self._market_times,
            lambda f: (c.custom or not f.custom) and not c.assets.isdisjoint(f.assets),
        )

    async def _stream_live(self, c: Client, start_ns: int) -> None:
        await self._stream(
            c,
            start_ns,
            self.venue.live_frames,
            self._live_times,
            lambda f: self._live_wanted(c, f),
        )

    async def _stream(
        self,
        c: Client,
        start_ns: int,
        frames: Sequence[Any],
        times: Sequence[int],
        wanted: Callable[[Any], bool],
    ) -> None:
        """Send the frames after `start_ns` at their times (on the venue clock) to `c`,
        those it subscribed to; the subscription is read anew for every frame. `c.at`
        follows the stream: a frame counts as sent once it is written (before `send`
        waits for the socket to drain)."""
        i = bisect.bisect_right(times, start_ns)
        c.at = i
        while i < len(frames):
            await self.clock.sleep_until_ns(frames[i].t)
            now = self.clock.now_ns()
            while i < len(frames) and frames[i].t <= now:
                f = frames[i]
                i += 1
                c.at = i
                if wanted(f):
                    await self._send(c, f.raw, f.t)


def _filter_symbols(filters: Any) -> list[str]:
    if not filters:
        return ["*"]
    if isinstance(filters, str):
        try:
            filters = _decode(filters)
        except msgspec.DecodeError:
            return [s.strip() for s in filters.split(",") if s.strip()] or ["*"]
    if isinstance(filters, dict) and filters.get("symbol"):
        return [str(filters["symbol"])]
    return ["*"]

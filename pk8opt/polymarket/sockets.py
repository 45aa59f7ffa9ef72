"""Clients of Polymarket's two public sockets, kept alive whatever the network does.

`MarketSocket` (CLOB `/ws/market`): subscribes asset ids with custom features on, adds
or drops assets on the open socket, sends `PING` every `ping_interval_s` and treats a
missing `PONG` for `stale_after_s` as a dead connection. `LiveSocket` (live-data):
subscribes topics with a symbol filter, sends `ping` every `ping_interval_s` (no answer
comes), and treats `stale_after_s` without any frame as a dead connection.

Both reconnect after a disconnect, an error or a dead heartbeat with exponential backoff
plus jitter, resubscribe everything, and report what happens to a `SocketHandler`:
`on_connected`, `on_frame` (every text frame except `PONG`, with the venue receive time)
and `on_disconnected`. The backoff (0.25 s doubling to 30 s) starts again from the
bottom only after a connection stayed open `stable_after_s` (10 s): a server that
accepts and closes at once meets a growing delay, not a reconnect storm.

Each socket keeps a `Link` (polymarket/links.py) and hands every failed attempt (DNS,
refused, TLS, timeout, HTTP status of the upgrade) to `on_failure` with the time of
the next try. A frame larger than `max_frame_bytes` (16 MiB by default; the biggest
real frames, book snapshots of a busy market, are a few hundred KB) ends the connection
like a drop: it is a gap, and the socket reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import deque
from typing import Any, Protocol

import msgspec

from pk8opt.polymarket.endpoints import VenueClock
from pk8opt.polymarket.links import Link, OnFailure, describe

_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode

MAX_FRAME_BYTES = 16 * 1024 * 1024
STABLE_AFTER_S = 10.0
OPEN_TIMEOUT_S = 10.0

LIVE_TOPICS = {
    # topic -> (subscription type, filter symbol for a pk8opt symbol)
    "crypto_prices": ("update", lambda s: f"{s.lower()}usdt"),
    "crypto_prices_chainlink": ("*", lambda s: f"{s.lower()}/usd"),
}


def frame_assets(obj: Any) -> set[str]:
    """Asset ids a decoded market-socket frame (object or array) speaks of."""
    out: set[str] = set()
    items = obj if isinstance(obj, list) else [obj]
    for item in items:
        if not isinstance(item, dict):
            continue
        if "asset_id" in item:
            out.add(str(item["asset_id"]))
        for key in ("price_changes", "changes"):
            for change in item.get(key) or ():
                if isinstance(change, dict) and "asset_id" in change:
                    out.add(str(change["asset_id"]))
        for key in ("assets_ids", "clob_token_ids"):
            ids = item.get(key)
            if isinstance(ids, list):
                out.update(str(i) for i in ids)
    return out


def live_subscriptions(symbols: list[str], topics: tuple[str, ...] = tuple(LIVE_TOPICS)) -> str:
    subs = []
    for symbol in symbols:
        for topic in topics:
            sub_type, name = LIVE_TOPICS[topic]
            subs.append(
                {
                    "topic": topic,
                    "type": sub_type,
                    "filters": _encode({"symbol": name(symbol)}).decode(),
                }
            )
    return _encode({"action": "subscribe", "subscriptions": subs}).decode()


class SocketHandler(Protocol):
    def on_connected(self, sock: ReconnectingSocket, t_ns: int) -> None: ...
    def on_frame(self, sock: ReconnectingSocket, t_ns: int, raw: str) -> None: ...
    def on_disconnected(self, sock: ReconnectingSocket, t_ns: int, reason: str) -> None: ...


class ReconnectingSocket:
    kind = "socket"
    ping_text = "PING"

    def __init__(
        self,
        url: str,
        handler: SocketHandler,
        clock: VenueClock,
        ping_interval_s: float = 10.0,
        stale_after_s: float = 30.0,
        backoff_s: float = 0.25,
        max_backoff_s: float = 30.0,
        *,
        max_frame_bytes: int = MAX_FRAME_BYTES,
        stable_after_s: float = STABLE_AFTER_S,
        open_timeout_s: float = OPEN_TIMEOUT_S,
        on_failure: OnFailure | None = None,
    ) -> None:
        self.url = url
        self.handler = handler
        self.clock = clock
        self.ping_interval_s = ping_interval_s
        self.stale_after_s = stale_after_s
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.max_frame_bytes = max_frame_bytes
        self.stable_after_s = stable_after_s
        self.open_timeout_s = open_timeout_s
        self.on_failure = on_failure
        self.link = Link(self.kind, url)
        self.oversized = 0  # frames refused for being larger than max_frame_bytes
        self.delays: deque[float] = deque(maxlen=64)  # backoff before each reconnect (s)
        self._ws: Any = None
        self._stopped = False
        self._last_alive = time.monotonic()
        self._stale = False
        self.connects = 0
        self.disconnects = 0

    @property
    def stopped(self) -> bool:
        return self._stopped

    @property
    def connected(self) -> bool:
        return self._ws is not None

    def subscribe_messages(self) -> list[str]:
        raise NotImplementedError

    async def ready(self) -> None:
        """Wait until there is something to subscribe."""

    def _alive_on(self, raw: str) -> bool:
        return True

    async def send(self, text: str) -> bool:
        ws = self._ws
        if ws is None:
            return False
        try:
            await ws.send(text)
        except Exception:  # the reader sees the broken connection and reconnects
            return False
        return True

    async def stop(self) -> None:
        self._stopped = True
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()

    async def run(self) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed, WebSocketException

        delay = self.backoff_s
        while not self._stopped:
            await self.ready()
            if self._stopped:
                break
            reason = "closed by server"
            opened_at: float | None = None
            try:
                async with connect(
                    self.url,
                    ping_interval=None,
                    max_size=self.max_frame_bytes,
                    open_timeout=self.open_timeout_s,
                    close_timeout=2,
                    compression=None,
                ) as ws:
                    for msg in self.subscribe_messages():
                        await ws.send(msg)
                    self._ws = ws
                    opened_at = time.monotonic()
                    self.connects += 1
                    self._last_alive = time.monotonic()
                    self._stale = False
                    self.link.ok()
                    self.handler.on_connected(self, self.clock.now_ns())
                    pinger = asyncio.create_task(self._ping_loop(ws))
                    try:
                        async for data in ws:
                            if isinstance(data, str):
                                raw = data
                            else:
                                raw = bytes(data).decode("utf-8", "replace")
                            if self._alive_on(raw):
                                self._last_alive = time.monotonic()
                            if raw == "PONG":
                                continue
                            self.handler.on_frame(self, self.clock.now_ns(), raw)
                    finally:
                        pinger.cancel()
                        if pinger.done() and not pinger.cancelled() and pinger.exception():
                            reason = str(pinger.exception())
                        elif self._stale:
                            reason = "missing heartbeat"
            except ConnectionClosed as exc:
                if exc.sent is not None and exc.sent.code == 1009:
                    self.oversized += 1
                    reason = (
                        f"a frame larger than max_size ({self.max_frame_bytes} bytes) was refused"
                    )
                elif self._stale:
                    reason = "missing heartbeat"
                else:
                    reason = describe(exc)
            except (OSError, TimeoutError, WebSocketException) as exc:
                reason = "missing heartbeat" if self._stale else describe(exc, self.open_timeout_s)
            self._ws = None
            if self._stopped:
                reason = "stopped"
            # the backoff starts again only after a connection that held for a while
            if opened_at is not None and time.monotonic() - opened_at >= self.stable_after_s:
                delay = self.backoff_s
            wait = delay * (0.5 + random.random())
            if opened_at is not None:
                self.disconnects += 1
                self.link.lost(reason, None if self._stopped else wait)
                self.handler.on_disconnected(self, self.clock.now_ns(), reason)
            if self._stopped:
                break
            if opened_at is None:  # a failed attempt: the handler hears it at once
                failure = self.link.failed(reason, wait)
                if self.on_failure is not None:
                    self.on_failure(failure)
            self.delays.append(delay)
            await asyncio.sleep(wait)
            delay = min(delay * 2, self.max_backoff_s)

    async def _ping_loop(self, ws: Any) -> None:
        while True:
            await asyncio.sleep(self.ping_interval_s)
            if time.monotonic() - self._last_alive > self.stale_after_s:
                self._stale = True
                await ws.close(code=4000, reason="missing heartbeat")
                return
            await ws.send(self.ping_text)


class MarketSocket(ReconnectingSocket):
    """The CLOB market channel; liveness is the `PONG` answer to our `PING`."""

    kind = "market"
    ping_text = "PING"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.assets: list[str] = []
        self._has_assets = asyncio.Event()

    async def ready(self) -> None:
        await self._has_assets.wait()

    def _alive_on(self, raw: str) -> bool:
        return raw == "PONG"

    def subscribe_messages(self) -> list[str]:
        msg = {"assets_ids": list(self.assets), "type": "market", "custom_feature_enabled": True}
        return [_encode(msg).decode()]

    async def add_assets(self, ids: list[str]) -> None:
        new = [i for i in ids if i not in self.assets]
        if not new:
            return
        self.assets.extend(new)
        self._has_assets.set()
        await self.send(_encode({"assets_ids": new, "operation": "subscribe"}).decode())

    async def remove_assets(self, ids: list[str]) -> None:
        gone = [i for i in ids if i in self.assets]
        if not gone:
            return
        self.assets = [a for a in self.assets if a not in gone]
        await self.send(_encode({"assets_ids": gone, "operation": "unsubscribe"}).decode())


class LiveSocket(ReconnectingSocket):
    """The live-data socket; it never answers `ping`, so liveness is any frame."""

    kind = "live"
    ping_text = "ping"

    def __init__(self, *args: Any, symbols: list[str], **kwargs: Any) -> None:
        kwargs.setdefault("ping_interval_s", 5.0)
        kwargs.setdefault("stale_after_s", 30.0)
        super().__init__(*args, **kwargs)
        self.symbols = symbols

    def subscribe_messages(self) -> list[str]:
        return [live_subscriptions(self.symbols)]

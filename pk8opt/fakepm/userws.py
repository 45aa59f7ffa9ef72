"""The user socket (`ws /ws/user`): our orders' and trades' events, as the venue sends them.

A client subscribes with `{"auth": {"apiKey", "secret", "passphrase"}, "markets":
[condition ids], "type": "user"}` (no markets, or an empty list: all of them) and may
then add or drop markets with `{"markets": [...], "operation": "subscribe"|"unsubscribe"}`.
Wrong credentials close the socket (1008, the venue's 401 message). `PING` gets `PONG`
(unless the server is muted, as on the market socket).

Events reach every authenticated connection of the account they belong to, for the
markets it follows, one JSON object per frame, in the order the venue made them (one
queue and one sending task per connection).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from pk8opt.fakepm.auth import Creds
from pk8opt.polymarket.endpoints import VenueClock

_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode
Send = Callable[[Any, str, int], Awaitable[None]]


@dataclass
class _Sub:
    client: Any  # server.Client: `.id`, `.ws`
    account: str = ""  # lower-case address, once authenticated
    markets: set[str] = field(default_factory=set)  # empty: every market
    queue: asyncio.Queue[tuple[str, int]] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None


class UserSockets:
    def __init__(
        self,
        keys: dict[str, Creds],
        clock: VenueClock,
        send: Send | None = None,
        mute: Callable[[], bool] = lambda: False,
    ) -> None:
        self.keys = keys
        self.clock = clock
        self._send = send
        self.mute = mute
        self.subs: dict[int, _Sub] = {}
        self.sent: list[dict[str, Any]] = []  # every event published, for tests

    async def on_message(self, client: Any, msg: str | bytes) -> None:
        if msg == "PING":
            if not self.mute():
                await client.ws.send("PONG")
            return
        try:
            obj = _decode(msg)
        except msgspec.DecodeError:
            return
        if not isinstance(obj, dict):
            return
        sub = self.subs.get(client.id)
        auth = obj.get("auth")
        if auth is not None or sub is None:
            creds = self._creds(auth)
            if creds is None:
                await client.ws.close(1008, "Unauthorized/Invalid api key")
                return
            if sub is None:
                sub = self.subs[client.id] = _Sub(client)
                sub.task = asyncio.create_task(self._pump(sub))
            sub.account = creds.address.lower()
        markets = [str(m) for m in obj.get("markets") or ()]
        if obj.get("operation") == "unsubscribe":
            sub.markets.difference_update(markets)
        elif obj.get("operation") == "subscribe":
            sub.markets.update(markets)
        else:
            sub.markets = set(markets)

    def _creds(self, auth: Any) -> Creds | None:
        if not isinstance(auth, dict):
            return None
        creds = self.keys.get(str(auth.get("apiKey", "")))
        if creds is None:
            return None
        if auth.get("secret") != creds.secret or auth.get("passphrase") != creds.passphrase:
            return None
        return creds

    def forget(self, client: Any) -> None:
        sub = self.subs.pop(client.id, None)
        if sub is not None and sub.task is not None:
            sub.task.cancel()

    def publish(self, account: str, market: str, event: dict[str, Any]) -> None:
        self.sent.append(event)
        raw = _encode(event).decode()
        now = self.clock.now_ns()
        for sub in self.subs.values():
            if sub.account == account.lower() and (not sub.markets or market in sub.markets):
                sub.queue.put_nowait((raw, now))

    async def _pump(self, sub: _Sub) -> None:
        while True:
            raw, t = await sub.queue.get()
            try:
                if self._send is not None:
                    await self._send(sub.client, raw, t)
                else:
                    await sub.client.ws.send(raw)
            except Exception:
                return  # the connection is gone: `forget` follows

    async def stop(self) -> None:
        tasks = [s.task for s in self.subs.values() if s.task is not None]
        self.subs.clear()
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(BaseException):
                await t

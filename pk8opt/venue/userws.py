"""The CLOB user channel (`/ws/user`): our own orders and trades, as they happen.

Subscribing: on every (re)connect the socket sends
`{"auth": {"apiKey", "secret", "passphrase"}, "markets": [condition ids], "type": "user"}`;
markets added later go on the open socket as `{"markets": [...], "operation":
"subscribe"}`. Liveness is the `PONG` answer to the `PING` sent every 10 s, as on the
market channel (`pk8opt.polymarket.sockets`, whose reconnect-with-backoff this reuses).

Frames (PROTOCOL.md "Order lifecycle"; samples in fixtures/polymarket/user_ws/) are one
object or an array of objects, prices and sizes strings (numbers accepted), and the
`event_type` tag is sometimes absent (then an order is known by `original_size`, a trade
by `taker_order_id`):

- `order`: `type` PLACEMENT (resting: `status` LIVE), UPDATE (`size_matched` grew),
  CANCELLATION (`status` CANCELED, INVALID, or `CANCELED_<why>` for a killed FOK).
- `trade`: `status` MATCHED -> MINED -> CONFIRMED, or RETRYING -> FAILED. The taker's
  order is `taker_order_id` (`size` at `price`); each maker's is an entry of
  `maker_orders` (`matched_amount` at its own `price`, on its own `asset_id`: a maker
  may be on the other token of the market).

`parse_user_frame` turns a frame into `OrderEvent`s and `TradeEvent`s (the project's own
small structs); nothing past this module sees a Polymarket dict. Which legs of a trade
are ours is decided by whoever knows our order ids (`RealVenue`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

import msgspec

from pk8opt.polymarket.endpoints import VenueClock
from pk8opt.polymarket.sockets import ReconnectingSocket, SocketHandler
from pk8opt.venue.credentials import ApiKeys

_decode_any = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode

TRADE_COUNTED = ("MATCHED", "MINED", "CONFIRMED", "RETRYING")  # a fill, until FAILED
TRADE_FAILED = "FAILED"

Num = str | float  # the wire sends strings; numbers are accepted


# ------------------------------------------------------------------------- domain events
class OrderEvent(msgspec.Struct, frozen=True):
    """One `order` message: what the venue says of one of our orders now."""

    venue_order_id: str
    condition_id: str
    asset_id: str
    kind: str  # PLACEMENT | UPDATE | CANCELLATION
    status: str  # LIVE, MATCHED, CANCELED, INVALID, CANCELED_<why>...
    side: str
    price: float
    original_size: float
    size_matched: float
    venue_ms: int

    @property
    def done(self) -> bool:
        """The order can no longer fill (cancelled by us or by the venue)."""
        s = self.status.upper()
        return self.kind == "CANCELLATION" or s.startswith("CANCEL") or s == "INVALID"


class Leg(msgspec.Struct, frozen=True):
    """One order's part of a trade: `size` shares of `asset_id` at `price`."""

    venue_order_id: str
    asset_id: str
    price: float
    size: float
    maker: bool


class TradeEvent(msgspec.Struct, frozen=True):
    """One `trade` message: a match and where its settlement stands (`status`)."""

    trade_id: str
    condition_id: str
    status: str  # MATCHED | MINED | CONFIRMED | RETRYING | FAILED
    legs: tuple[Leg, ...]  # the taker's first, then each maker's
    fee_rate_bps: float
    venue_ms: int

    @property
    def failed(self) -> bool:
        return self.status.upper() == TRADE_FAILED


UserEvent = OrderEvent | TradeEvent


# ------------------------------------------------------------------------- wire schemas
class _MakerOrder(msgspec.Struct):
    order_id: str = ""
    asset_id: str = ""
    matched_amount: Num = "0"
    price: Num = "0"


class _OrderMsg(msgspec.Struct):
    id: str
    asset_id: str = ""
    market: str = ""
    type: str = ""
    status: str = ""
    side: str = "BUY"
    price: Num = "0"
    original_size: Num = "0"
    size_matched: Num = "0"
    timestamp: Num = "0"


class _TradeMsg(msgspec.Struct):
    id: str
    asset_id: str = ""
    market: str = ""
    status: str = ""
    price: Num = "0"
    size: Num = "0"
    taker_order_id: str = ""
    trader_side: str = ""
    fee_rate_bps: Num = "0"
    maker_orders: list[_MakerOrder] | None = None
    timestamp: Num = "0"
    match_time: Num = ""


def _num(x: Num | None) -> float:
    if x is None or x == "":
        return 0.0
    try:
        return float(x)
    except ValueError:
        return 0.0


def _ms(x: Num | None) -> int:
    """Unix milliseconds from the wire: ms or s (by size), or an ISO 8601 time."""
    if x is None or x == "":
        return 0
    try:
        v = float(x)
    except ValueError:
        try:
            return int(datetime.fromisoformat(str(x).replace("Z", "+00:00")).timestamp() * 1000)
        except ValueError:
            return 0
    return int(v if v > 1e11 else v * 1000)


def _order(item: dict[str, Any]) -> OrderEvent:
    m = msgspec.convert(item, _OrderMsg)
    return OrderEvent(
        venue_order_id=m.id,
        condition_id=m.market,
        asset_id=m.asset_id,
        kind=m.type.upper(),
        status=m.status,
        side=m.side.upper(),
        price=_num(m.price),
        original_size=_num(m.original_size),
        size_matched=_num(m.size_matched),
        venue_ms=_ms(m.timestamp),
    )


def _trade(item: dict[str, Any]) -> TradeEvent:
    m = msgspec.convert(item, _TradeMsg)
    legs = []
    if m.taker_order_id:
        legs.append(Leg(m.taker_order_id, m.asset_id, _num(m.price), _num(m.size), False))
    for mo in m.maker_orders or ():
        if mo.order_id:
            legs.append(
                Leg(mo.order_id, mo.asset_id, _num(mo.price), _num(mo.matched_amount), True)
            )
    return TradeEvent(
        trade_id=m.id,
        condition_id=m.market,
        status=m.status.upper(),
        legs=tuple(legs),
        fee_rate_bps=_num(m.fee_rate_bps),
        venue_ms=_ms(m.timestamp) or _ms(m.match_time),
    )


def _kind(item: dict[str, Any]) -> str:
    kind = str(item.get("event_type") or "").lower()
    if kind:
        return kind
    if "taker_order_id" in item or "maker_orders" in item:
        return "trade"
    if "original_size" in item or "size_matched" in item:
        return "order"
    return ""


def parse_user_event(item: Any) -> UserEvent | None:
    """One decoded object as an event; None for anything else (an acknowledgement,
    an error object, an event type this project does not use)."""
    if not isinstance(item, dict):
        return None
    kind = _kind(item)
    try:
        if kind == "order":
            return _order(item)
        if kind == "trade":
            return _trade(item)
    except msgspec.ValidationError:
        return None
    return None


def parse_user_frame(text: str | bytes) -> list[UserEvent]:
    """Every event of one text frame (an object or an array of them). Non-JSON text
    (`PONG`, a server notice) and objects that are not events give nothing."""
    try:
        obj = _decode_any(text)
    except msgspec.DecodeError:
        return []
    items = obj if isinstance(obj, list) else [obj]
    out = []
    for item in items:
        ev = parse_user_event(item)
        if ev is not None:
            out.append(ev)
    return out


# ------------------------------------------------------------------------- the socket
def subscribe_message(api: ApiKeys, markets: list[str]) -> str:
    """The first message on a user-channel connection (it carries the credentials:
    never logged)."""
    auth = {
        "apiKey": api.key.reveal(),
        "secret": api.secret.reveal(),
        "passphrase": api.passphrase.reveal(),
    }
    return _encode({"auth": auth, "markets": markets, "type": "user"}).decode()


class UserSocket(ReconnectingSocket):
    """The user channel for a set of markets, kept connected (see
    `pk8opt.polymarket.sockets.ReconnectingSocket` for the backoff and heartbeat).

    The handler hears `on_connected` after every (re)connect (the broker reconciles
    then: events sent while the socket was down are lost), `on_frame` for each frame,
    `on_disconnected` with the reason."""

    kind = "user"
    ping_text = "PING"

    def __init__(
        self,
        url: str,
        handler: SocketHandler,
        clock: VenueClock,
        api: ApiKeys,
        markets: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(url, handler, clock, **kwargs)
        self._api = api
        self.markets: list[str] = list(markets or [])

    def _alive_on(self, raw: str) -> bool:
        return True  # any frame (PONG or an event) shows the connection is alive

    def subscribe_messages(self) -> list[str]:
        return [subscribe_message(self._api, list(self.markets))]

    async def add_markets(self, condition_ids: list[str]) -> None:
        new = [c for c in condition_ids if c and c not in self.markets]
        if not new:
            return
        self.markets.extend(new)
        await self.send(_encode({"markets": new, "operation": "subscribe"}).decode())


class UserFeed:
    """A `SocketHandler` that parses each frame and hands the events on: the glue
    between `UserSocket` and whoever applies the events."""

    def __init__(
        self,
        on_events: Callable[[int, list[UserEvent]], None],
        on_connected: Callable[[int, int], None],
        on_disconnected: Callable[[int, str], None],
    ) -> None:
        self._on_events = on_events
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        self.frames = 0

    def on_connected(self, sock: ReconnectingSocket, t_ns: int) -> None:
        self._on_connected(t_ns, sock.connects)

    def on_frame(self, sock: ReconnectingSocket, t_ns: int, raw: str) -> None:
        self.frames += 1
        events = parse_user_frame(raw)
        if events:
            self._on_events(t_ns, events)

    def on_disconnected(self, sock: ReconnectingSocket, t_ns: int, reason: str) -> None:
        self._on_disconnected(t_ns, reason)


async def run_socket(sock: UserSocket) -> None:
    """Run `sock` until it is stopped (a task the broker owns)."""
    try:
        await sock.run()
    except asyncio.CancelledError:
        await sock.stop()
        raise

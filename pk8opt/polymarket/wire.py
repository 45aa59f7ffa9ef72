"""Polymarket's socket frames in, small project-own events out.

This module is the edge: the market socket's and the live-data socket's frames are
decoded here (msgspec, typed) and turned at once into the events below. Nothing past
this module sees a Polymarket-shaped object.

Every variant of the wire is accepted (see PROTOCOL.md): a frame is one object or an
array of objects; books may lack `event_type` (recognised by `bids`/`asks` or
`buys`/`sells`); `price_change` comes as `price_changes[]` (current), `{asset_id,
changes[]}` or a flat single change; prices, sizes and timestamps are strings (numbers
are accepted too). Non-JSON text (`PONG`, `NO NEW ASSETS`) and unknown event types are
returned as `Problem` events so the caller can count them.

Prices become integers on the 1/1000 grid (`price_milli`); book levels come out best
first (the wire sends them worst first).
"""

from __future__ import annotations

from typing import Union, cast

import msgspec

BID, ASK, NO_SIDE = 0, 1, -1
NO_PRICE = -1

# Live-data sources (same codes as recordings.schema.Underlying).
BINANCE, CHAINLINK, TWAP = 0, 1, 2
LIVE_TOPICS = {
    "crypto_prices": BINANCE,
    "crypto_prices_chainlink": CHAINLINK,
    "crypto_prices_twap_sixty": TWAP,
}

# ---------------------------------------------------------------------------------------
# Domain events


class BookSnapshot(msgspec.Struct, gc=False):
    """A full book of one token, columnar, best level first (prices in milli)."""

    asset_id: str
    exch_ms: int
    bid_prices: list[int]
    bid_sizes: list[float]
    ask_prices: list[int]
    ask_sizes: list[float]
    tick_milli: int = 0  # the book's `tick_size` when sent, else 0

    @property
    def bids(self) -> list[tuple[int, float]]:
        """(price_milli, size) pairs, best (highest) first."""
        return list(zip(self.bid_prices, self.bid_sizes, strict=True))

    @property
    def asks(self) -> list[tuple[int, float]]:
        """(price_milli, size) pairs, best (lowest) first."""
        return list(zip(self.ask_prices, self.ask_sizes, strict=True))


class LevelUpdate(msgspec.Struct, gc=False):
    """One entry of a `price_change`: (side, price) now holds `size` in total."""

    asset_id: str
    exch_ms: int
    side: int
    price: int
    size: float
    venue_bid: int = NO_PRICE  # the venue's best bid after this entry, when sent
    venue_ask: int = NO_PRICE


class Trade(msgspec.Struct, gc=False):
    """A print (`last_trade_price`); `side` is the taker's (BID = taker bought)."""

    asset_id: str
    exch_ms: int
    side: int
    price: int
    size: float


class TickSizeChange(msgspec.Struct, gc=False):
    asset_id: str
    exch_ms: int
    tick_milli: int


class BestBidAsk(msgspec.Struct, gc=False):
    asset_id: str
    exch_ms: int
    bid: int
    ask: int


class NewMarket(msgspec.Struct, gc=False):
    market: str
    exch_ms: int
    slug: str
    asset_ids: list[str]


class MarketResolved(msgspec.Struct, gc=False):
    market: str
    exch_ms: int
    winning_asset_id: str
    winning_outcome: str
    asset_ids: list[str]


class PricePoint(msgspec.Struct, gc=False):
    """One underlying price from the live-data socket."""

    source: int  # BINANCE | CHAINLINK | TWAP
    symbol: str  # as sent: "btcusdt", "btc/usd"
    exch_ms: int
    value: float


class Problem(msgspec.Struct, gc=False):
    """Something that is not data: `kind` is text | unknown_event | malformed |
    other_topic | live_status | empty; `detail` a short excerpt for the report."""

    kind: str
    detail: str = ""


MarketEvent = Union[  # noqa: UP007
    BookSnapshot,
    LevelUpdate,
    Trade,
    TickSizeChange,
    BestBidAsk,
    NewMarket,
    MarketResolved,
    Problem,
]

# ---------------------------------------------------------------------------------------
# Wire schemas (private): one permissive struct per socket


class _Level(msgspec.Struct, gc=False):
    price: float
    size: float


class _Change(msgspec.Struct, gc=False):
    price: float
    side: str
    size: float = 0.0
    asset_id: str | None = None
    best_bid: float | None = None
    best_ask: float | None = None


class _MarketMsg(msgspec.Struct):
    event_type: str | None = None
    asset_id: str | None = None
    market: str | None = None
    timestamp: int | None = None
    bids: list[_Level] | None = None
    asks: list[_Level] | None = None
    buys: list[_Level] | None = None
    sells: list[_Level] | None = None
    tick_size: float | None = None
    price_changes: list[_Change] | None = None
    changes: list[_Change] | None = None
    price: float | None = None
    side: str | None = None
    size: float | None = None
    best_bid: float | None = None
    best_ask: float | None = None
    new_tick_size: float | None = None
    winning_asset_id: str | None = None
    winning_outcome: str | None = None
    assets_ids: list[str] | None = None
    slug: str | None = None


# strict=False: the wire's strings ("0.523", "1790658661234") decode straight to numbers
_market_decoder = msgspec.json.Decoder(_MarketMsg | list[_MarketMsg], strict=False)
_any_decoder = msgspec.json.Decoder()


def price_milli(value: str | float) -> int:
    """`"0.523"` or 0.523 -> 523."""
    return int(float(value) * 1000 + 0.5)


def _opt_milli(value: float | None) -> int:
    return NO_PRICE if value is None else int(value * 1000 + 0.5)


def _ts(value: int | None) -> int:
    return 0 if value is None else int(value)


_SIDES = {"BUY": BID, "SELL": ASK, "buy": BID, "sell": ASK, "BID": BID, "ASK": ASK}


def _levels(levels: list[_Level] | None) -> tuple[list[int], list[float]]:
    """Prices (milli) and sizes, best first (the wire sends worst first)."""
    if not levels:
        return [], []
    levels = levels[::-1]
    return [int(lv.price * 1000 + 0.5) for lv in levels], [lv.size for lv in levels]


def _changes(msg: _MarketMsg, changes: list[_Change], ts: int, out: list[MarketEvent]) -> None:
    for ch in changes:
        side = _SIDES.get(ch.side)
        asset = ch.asset_id or msg.asset_id
        if side is None or asset is None:
            out.append(Problem("malformed", f"price_change entry {ch.side!r} {asset!r}"))
            continue
        out.append(
            LevelUpdate(
                asset,
                ts,
                side,
                int(ch.price * 1000 + 0.5),
                ch.size,
                NO_PRICE if ch.best_bid is None else int(ch.best_bid * 1000 + 0.5),
                NO_PRICE if ch.best_ask is None else int(ch.best_ask * 1000 + 0.5),
            )
        )


def _infer_type(msg: _MarketMsg) -> str:
    if (
        msg.bids is not None
        or msg.asks is not None
        or msg.buys is not None
        or msg.sells is not None
    ):
        return "book"
    if msg.price_changes is not None or msg.changes is not None:
        return "price_change"
    if msg.new_tick_size is not None:
        return "tick_size_change"
    if msg.winning_asset_id is not None:
        return "market_resolved"
    if msg.price is not None and msg.side is not None:
        return "last_trade_price"
    if msg.best_bid is not None or msg.best_ask is not None:
        return "best_bid_ask"
    return ""


def _convert(msg: _MarketMsg, out: list[MarketEvent]) -> None:
    et = msg.event_type or _infer_type(msg)
    ts = 0 if msg.timestamp is None else msg.timestamp
    if et == "price_change":
        changes = msg.price_changes
        if changes is not None:
            # the hot path (most frames): inlined `_changes`
            append = out.append
            for ch in changes:
                side = _SIDES.get(ch.side)
                asset = ch.asset_id
                if side is None or asset is None:
                    _changes(msg, [ch], ts, out)
                    continue
                bb, ba = ch.best_bid, ch.best_ask
                append(
                    LevelUpdate(
                        asset,
                        ts,
                        side,
                        int(ch.price * 1000 + 0.5),
                        ch.size,
                        NO_PRICE if bb is None else int(bb * 1000 + 0.5),
                        NO_PRICE if ba is None else int(ba * 1000 + 0.5),
                    )
                )
        elif msg.changes is not None:
            _changes(msg, msg.changes, ts, out)
        elif msg.price is not None and msg.side is not None:
            flat = _Change(
                msg.price, msg.side, msg.size or 0.0, msg.asset_id, msg.best_bid, msg.best_ask
            )
            _changes(msg, [flat], ts, out)
        else:
            out.append(Problem("malformed", "price_change without changes"))
    elif et == "book":
        if msg.asset_id is None:
            out.append(Problem("malformed", "book without asset_id"))
            return
        bids = msg.bids if msg.bids is not None else msg.buys
        asks = msg.asks if msg.asks is not None else msg.sells
        tick = price_milli(msg.tick_size) if msg.tick_size is not None else 0
        bp, bs = _levels(bids)
        ap, as_ = _levels(asks)
        out.append(BookSnapshot(msg.asset_id, ts, bp, bs, ap, as_, tick))
    elif et == "last_trade_price":
        side = _SIDES.get(msg.side or "", NO_SIDE)
        if msg.asset_id is None or msg.price is None:
            out.append(Problem("malformed", "last_trade_price without asset_id/price"))
            return
        out.append(Trade(msg.asset_id, ts, side, price_milli(msg.price), msg.size or 0.0))
    elif et == "tick_size_change":
        if msg.asset_id is None or msg.new_tick_size is None:
            out.append(Problem("malformed", "tick_size_change without asset_id/new_tick_size"))
            return
        out.append(TickSizeChange(msg.asset_id, ts, price_milli(msg.new_tick_size)))
    elif et == "best_bid_ask":
        if msg.asset_id is None:
            out.append(Problem("malformed", "best_bid_ask without asset_id"))
            return
        out.append(BestBidAsk(msg.asset_id, ts, _opt_milli(msg.best_bid), _opt_milli(msg.best_ask)))
    elif et == "market_resolved":
        out.append(
            MarketResolved(
                msg.market or "",
                ts,
                msg.winning_asset_id or "",
                msg.winning_outcome or "",
                list(msg.assets_ids or ()),
            )
        )
    elif et == "new_market":
        out.append(NewMarket(msg.market or "", ts, msg.slug or "", list(msg.assets_ids or ())))
    else:
        out.append(Problem("unknown_event", et or "object without event_type"))


def _slow_market(text: str | bytes) -> list[MarketEvent]:
    """Element by element, so one malformed element spoils only itself."""
    try:
        obj = _any_decoder.decode(text)
    except msgspec.DecodeError:
        return [_not_json(text)]
    items = obj if isinstance(obj, list) else [obj]
    out: list[MarketEvent] = []
    for item in items:
        try:
            msg = msgspec.convert(item, _MarketMsg, strict=False)
        except msgspec.ValidationError as exc:
            out.append(Problem("malformed", str(exc)))
            continue
        try:
            _convert(msg, out)
        except (ValueError, TypeError, OverflowError) as exc:
            out.append(Problem("malformed", str(exc)))
    return out


def _excerpt(text: str | bytes, n: int = 60) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return text[:n]


def _not_json(text: str | bytes) -> Problem:
    """Plain text (`PONG`) is harmless; broken JSON is not."""
    head = text.lstrip()[:1]
    if head in ("{", "[", b"{", b"["):
        return Problem("malformed", f"invalid JSON: {_excerpt(text)}")
    return Problem("text", _excerpt(text))


def parse_market_frame(text: str | bytes) -> list[MarketEvent]:
    """One text frame of the CLOB market socket -> its events, in wire order."""
    try:
        decoded = _market_decoder.decode(text)
    except msgspec.ValidationError:
        return _slow_market(text)
    except msgspec.DecodeError:
        return [_not_json(text)]
    out: list[MarketEvent] = []
    try:
        if isinstance(decoded, list):
            for msg in decoded:
                _convert(msg, out)
        else:
            _convert(decoded, out)
    except (ValueError, TypeError, OverflowError):
        return _slow_market(text)
    return out


def _best_bid_ask_into(
    msg: _MarketMsg,
    tok: int,
    t_ns: int,
    frame: int,
    columns: tuple,
    bba_kind: int,
    out: list[MarketEvent],
) -> None:
    """One `best_bid_ask` of a session's token: a row through `columns`, or a problem."""
    bb, ba = msg.best_bid, msg.best_ask
    try:
        vb = NO_PRICE if bb is None else int(bb * 1000 + 0.5)
        va = NO_PRICE if ba is None else int(ba * 1000 + 0.5)
    except (ValueError, OverflowError) as exc:
        out.append(Problem("malformed", str(exc)))
        return
    a_local, a_exch, a_frame, a_kind, a_token, a_side, a_price, a_size, a_vbid, a_vask = columns
    a_local(t_ns)
    a_exch(0 if msg.timestamp is None else msg.timestamp)
    a_frame(frame)
    a_kind(bba_kind)
    a_token(tok)
    a_side(NO_SIDE)
    a_price(NO_PRICE)
    a_size(0.0)
    a_vbid(vb)
    a_vask(va)


def parse_market_frame_into(
    text: str | bytes,
    t_ns: int,
    frame: int,
    tokens: dict[str, int],
    columns: tuple,
    level_kind: int,
    bba_kind: int,
) -> list[MarketEvent]:
    """The normalizer's fast path of `parse_market_frame`.

    `price_change` entries and `best_bid_ask` messages of the assets in `tokens` (asset
    id -> token index) become rows at once (kinds `level_kind`, `bba_kind`), through
    `columns`: ten `append` functions for (local_ns, exch_ms, frame, kind, token, side,
    price_milli, size, venue_bid, venue_ask). Every other event (other assets' included)
    is returned as by `parse_market_frame`.
    """
    try:
        decoded = _market_decoder.decode(text)
    except msgspec.ValidationError:
        return _slow_market(text)
    except msgspec.DecodeError:
        return [_not_json(text)]
    a_local, a_exch, a_frame, a_kind, a_token, a_side, a_price, a_size, a_vbid, a_vask = columns
    sides = _SIDES
    out: list[MarketEvent] = []
    msgs = cast("tuple[_MarketMsg, ...]", decoded if type(decoded) is list else (decoded,))
    for msg in msgs:
        changes = msg.price_changes
        et = msg.event_type
        if et == "best_bid_ask":
            tok = tokens.get(msg.asset_id)  # type: ignore[arg-type,unused-ignore]
            if tok is not None:
                _best_bid_ask_into(msg, tok, t_ns, frame, columns, bba_kind, out)
                continue
        if changes is None or (et is not None and et != "price_change"):
            try:
                _convert(msg, out)
            except (ValueError, TypeError, OverflowError) as exc:
                out.append(Problem("malformed", str(exc)))
            continue
        ts = 0 if msg.timestamp is None else msg.timestamp
        for ch in changes:
            tok = tokens.get(ch.asset_id)  # type: ignore[arg-type,unused-ignore]
            side = sides.get(ch.side)
            if tok is None or side is None:
                _changes(msg, [ch], ts, out)
                continue
            bb, ba = ch.best_bid, ch.best_ask
            try:
                price = int(ch.price * 1000 + 0.5)
                vb = NO_PRICE if bb is None else int(bb * 1000 + 0.5)
                va = NO_PRICE if ba is None else int(ba * 1000 + 0.5)
            except (ValueError, OverflowError) as exc:
                out.append(Problem("malformed", str(exc)))
                continue
            a_local(t_ns)
            a_exch(ts)
            a_frame(frame)
            a_kind(level_kind)
            a_token(tok)
            a_side(side)
            a_price(price)
            a_size(ch.size)
            a_vbid(vb)
            a_vask(va)
    return out


# ---------------------------------------------------------------------------------------
# Live-data socket


class _Point(msgspec.Struct):
    timestamp: int | None = None
    value: float | None = None


class _Payload(msgspec.Struct):
    symbol: str | None = None
    timestamp: int | None = None
    value: float | None = None
    data: list[_Point] | None = None


class _LiveMsg(msgspec.Struct):
    topic: str | None = None
    type: str | None = None
    timestamp: int | None = None
    payload: _Payload | None = None
    statusCode: int | None = None  # noqa: N815 (wire name)


_live_decoder = msgspec.json.Decoder(_LiveMsg | list[_LiveMsg], strict=False)
LiveEvent = PricePoint | Problem


def _live_convert(msg: _LiveMsg, out: list[LiveEvent]) -> None:
    if msg.statusCode is not None:
        out.append(Problem("live_status", f"statusCode {msg.statusCode}"))
        return
    if msg.topic is None:
        out.append(Problem("empty"))
        return
    source = LIVE_TOPICS.get(msg.topic)
    if source is None:
        out.append(Problem("other_topic", msg.topic))
        return
    p = msg.payload
    if p is None:
        out.append(Problem("malformed", f"{msg.topic} without payload"))
        return
    symbol = p.symbol or ""
    if p.data is not None:
        for pt in p.data:
            if pt.value is not None and pt.timestamp is not None:
                out.append(PricePoint(source, symbol, int(pt.timestamp), float(pt.value)))
    elif p.value is not None:
        ts = p.timestamp if p.timestamp is not None else msg.timestamp
        out.append(PricePoint(source, symbol, int(ts or 0), float(p.value)))
    else:
        out.append(Problem("malformed", f"{msg.topic} payload without value"))


def parse_live_frame(text: str | bytes) -> list[LiveEvent]:
    """One text frame of the live-data socket -> its price points (and problems)."""
    if not text or (isinstance(text, str) and not text.strip()):
        return [Problem("empty")]
    try:
        decoded = _live_decoder.decode(text)
    except msgspec.ValidationError as exc:
        return [Problem("malformed", str(exc))]
    except msgspec.DecodeError:
        return [_not_json(text)]
    out: list[LiveEvent] = []
    try:
        msgs = cast("tuple[_LiveMsg, ...]", decoded if type(decoded) is list else (decoded,))
        for msg in msgs:
            _live_convert(msg, out)
    except (ValueError, TypeError) as exc:
        out.append(Problem("malformed", str(exc)))
    return out

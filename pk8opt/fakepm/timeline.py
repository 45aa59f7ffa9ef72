"""What the fake Polymarket serves: recorded sessions turned into sorted timelines.

Market frames carry the asset ids they speak of (a frame with none, such as a text
frame, belongs to the tokens of the session it was recorded in); live frames carry
their `(topic, symbol)`. A frame that two overlapping sessions both hold (the rollover
minute) is served once.

`StandingBooks` gives the book of a token as it stands part-way through the market
frames: the recorded snapshots and level updates before a given frame, applied on the
rules of the project's own book (`recordings.book.MarketBook`: a level reaching through
the other side takes what it crosses, a token with no snapshot of its own follows the
other one mirrored). A client that subscribes after the first snapshot gets the book as
it stands where its stream of frames goes on.
"""

from __future__ import annotations

import bisect
import hashlib
import math
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from pk8opt.errors import DataSelectionError
from pk8opt.polymarket.sockets import LIVE_TOPICS, frame_assets
from pk8opt.polymarket.wire import (
    ASK,
    BID,
    BookSnapshot,
    LevelUpdate,
    TickSizeChange,
    parse_market_frame,
)
from pk8opt.recordings.book import MarketBook
from pk8opt.recordings.catalog import report_skipped, usable_sessions
from pk8opt.recordings.manifest import Manifest
from pk8opt.recordings.raw import frames_path, read_frames
from pk8opt.recordings.schema import PRICE_SCALE, Kind
from pk8opt.recordings.values import MAX_SIZE

_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode
CUSTOM_EVENTS = frozenset({"best_bid_ask", "new_market", "market_resolved"})
DEFAULT_RESOLUTION_DELAY_S = 90.0
LISTING_LEAD_S = 86400


@dataclass
class MarketFrame:
    t: int
    raw: str
    assets: frozenset[str]
    custom: bool  # only for clients with custom_feature_enabled


@dataclass
class LiveFrame:
    t: int
    raw: str
    keys: frozenset[tuple[str, str]]  # (topic, filter symbol)


@dataclass
class ServedMarket:
    manifest: Manifest
    gamma: dict[str, Any]
    resolution_delay_s: float

    def view(self, now_s: float) -> dict[str, Any] | None:
        """The market as Gamma shows it at venue time `now_s` (None before its listing)."""
        m = self.manifest
        if now_s < m.window_start_s - LISTING_LEAD_S:
            return None
        out = dict(self.gamma)
        outcome = m.resolution.outcome
        if outcome in ("Up", "Down") and now_s >= m.window_end_s + self.resolution_delay_s:
            out.update(
                closed=True,
                active=True,
                acceptingOrders=False,
                outcomePrices='["1", "0"]' if outcome == "Up" else '["0", "1"]',
            )
        else:
            out.update(closed=False, acceptingOrders=now_s < m.window_end_s + 90)
        return out


@dataclass
class Venue:
    markets: dict[str, ServedMarket] = field(default_factory=dict)
    market_frames: list[MarketFrame] = field(default_factory=list)
    live_frames: list[LiveFrame] = field(default_factory=list)
    # asset id -> (condition id, (Up token, Down token)) of its market, from the manifests
    tokens: dict[str, tuple[str, tuple[str, str]]] = field(default_factory=dict)

    @property
    def market_times(self) -> list[int]:
        return [f.t for f in self.market_frames]

    @property
    def first_ns(self) -> int:
        times = [f.t for f in self.market_frames[:1] + self.live_frames[:1]]
        if times:
            return min(times)
        return min(m.manifest.window_start_s for m in self.markets.values()) * 10**9


def _iso(t_s: int) -> str:
    return datetime.fromtimestamp(t_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def synth_gamma(m: Manifest) -> dict[str, Any]:
    """A Gamma market object for a session that holds no recorded Gamma response."""
    out: dict[str, Any] = {
        "id": str(abs(hash(m.slug)) % 10**7),
        "question": f"{m.symbol} Up or Down ({m.timeframe})",
        "conditionId": m.condition_id,
        "slug": m.slug,
        "clobTokenIds": _encode([m.token_up, m.token_down]).decode(),
        "outcomes": '["Up", "Down"]',
        "outcomePrices": '["0.5", "0.5"]',
        "startDate": _iso(m.window_start_s - LISTING_LEAD_S),
        "eventStartTime": _iso(m.window_start_s),
        "endDate": _iso(m.window_end_s),
        "active": True,
        "closed": False,
        "acceptingOrders": True,
        "enableOrderBook": True,
        "orderPriceMinTickSize": m.tick_size,
        "orderMinSize": m.min_order_size,
        "feesEnabled": m.fees_enabled,
    }
    if m.fee_schedule is not None:
        fs = m.fee_schedule
        out["feeSchedule"] = {
            "exponent": fs.exponent,
            "rate": fs.rate,
            "takerOnly": fs.taker_only,
            "rebateRate": fs.rebate_rate,
        }
    return out


def _recorded_gamma(body: str, slug: str) -> dict[str, Any] | None:
    try:
        data = _decode(body)
    except msgspec.DecodeError:
        return None
    for item in data if isinstance(data, list) else [data]:
        if not isinstance(item, dict):
            continue
        for market in item.get("markets") or [item]:
            if isinstance(market, dict) and market.get("slug") == slug:
                return market
    return None


def _live_keys(obj: Any, symbol: str) -> frozenset[tuple[str, str]]:
    if isinstance(obj, dict) and obj.get("topic"):
        payload = obj.get("payload")
        sym = payload.get("symbol") if isinstance(payload, dict) else None
        if sym:
            return frozenset({(str(obj["topic"]), str(sym))})
    return frozenset((topic, name(symbol)) for topic, (_, name) in LIVE_TOPICS.items())


def load_venue(paths: list[str | Path]) -> Venue:
    """Every session under `paths`, as timelines ready to serve."""
    manifests, skipped = usable_sessions(paths)
    report_skipped(skipped)  # an unreadable session: one line, the others are served
    if not manifests:
        raise DataSelectionError(f"{', '.join(map(str, paths))}: no session folders found")
    venue = Venue()
    market: dict[tuple[int, str], MarketFrame] = {}
    live: dict[tuple[int, str], LiveFrame] = {}
    for d, manifest in manifests.items():
        path = frames_path(d)
        frames = read_frames(path)[0] if path else []
        gamma = None
        tokens = frozenset({manifest.token_up, manifest.token_down})
        for f in frames:
            if f.ch == "gamma" and gamma is None:
                gamma = _recorded_gamma(f.raw, manifest.slug)
            elif f.ch == "market":
                if f.raw == "PONG":  # answers the recording client's PING, not ours
                    continue
                try:
                    obj = _decode(f.raw)
                except msgspec.DecodeError:
                    obj = None
                assets = frozenset(frame_assets(obj)) or tokens
                items = obj if isinstance(obj, list) else [obj]
                custom = bool(items) and all(
                    isinstance(i, dict) and i.get("event_type") in CUSTOM_EVENTS for i in items
                )
                key = (f.t, f.raw)
                if key in market:
                    market[key].assets |= assets
                else:
                    market[key] = MarketFrame(f.t, f.raw, assets, custom)
            elif f.ch == "live":
                try:
                    obj = _decode(f.raw)
                except msgspec.DecodeError:
                    obj = None
                key = (f.t, f.raw)
                keys = _live_keys(obj, manifest.symbol)
                if key in live:
                    live[key].keys |= keys
                else:
                    live[key] = LiveFrame(f.t, f.raw, keys)
        known = manifest.resolution.known_at_ns
        delay = (
            known / 1e9 - manifest.window_end_s
            if known and known / 1e9 > manifest.window_end_s
            else DEFAULT_RESOLUTION_DELAY_S
        )
        venue.markets[manifest.slug] = ServedMarket(manifest, gamma or synth_gamma(manifest), delay)
        pair = (manifest.token_up, manifest.token_down)
        for token in pair:
            venue.tokens[token] = (manifest.condition_id, pair)
    venue.market_frames = sorted(market.values(), key=lambda f: f.t)
    venue.live_frames = sorted(live.values(), key=lambda f: f.t)
    return venue


_RESET, _LEVEL = int(Kind.BOOK_RESET), int(Kind.LEVEL)


def _price_text(milli: int) -> str:
    """523 -> "0.523", 500 -> "0.5": a price as the wire writes it."""
    return f"{milli / PRICE_SCALE:.3f}".rstrip("0").rstrip(".")


def _size_text(size: float) -> str:
    text = repr(size)
    return text[:-2] if text.endswith(".0") else text


def _level_ok(price: int, size: float) -> bool:
    """A level a market can hold (what the normalizer keeps, `recordings.values`)."""
    return 0 < price < PRICE_SCALE and math.isfinite(size) and 0 <= size <= MAX_SIZE


class _MarketState:
    """One market's books, brought forward through its frames as the clock goes."""

    def __init__(self, condition_id: str, tokens: tuple[str, str]) -> None:
        self.condition_id = condition_id
        self.tokens = tokens  # (Up, Down)
        self.book = MarketBook()
        self.ticks: list[int | None] = [None, None]  # tick sizes the venue sent (milli)
        self.next = 0  # index of the first market frame not yet applied
        self.frames = 0

    def apply(self, raw: str) -> None:
        self.frames += 1
        book, frame = self.book, self.frames
        for ev in parse_market_frame(raw):
            if not isinstance(ev, BookSnapshot | LevelUpdate | TickSizeChange):
                continue  # trades, best bid/ask, resolution, text: no level changes
            if ev.asset_id not in self.tokens:
                continue  # the other market of a rollover
            tok = self.tokens.index(ev.asset_id)
            if isinstance(ev, BookSnapshot):
                book.apply(_RESET, tok, -1, -1, 0.0, frame)
                for side, levels in ((BID, ev.bids), (ASK, ev.asks)):
                    for price, size in levels:
                        if _level_ok(price, size):
                            book.apply(_LEVEL, tok, side, price, size, frame)
                if ev.tick_milli:
                    self.ticks[tok] = ev.tick_milli
            elif isinstance(ev, LevelUpdate):
                if _level_ok(ev.price, ev.size):
                    book.apply(_LEVEL, tok, ev.side, ev.price, ev.size, frame)
            elif isinstance(ev, TickSizeChange):
                self.ticks[tok] = ev.tick_milli

    def snapshot(self, tok: int, now_ns: int) -> str | None:
        """The `book` message of token `tok` as it stands (None before any snapshot)."""
        if self.book.stale[tok]:
            return None
        tb = self.book[tok]
        bids = [
            {"price": _price_text(p), "size": _size_text(s)} for p, s in sorted(tb.bids.items())
        ]
        asks = [
            {"price": _price_text(p), "size": _size_text(s)}
            for p, s in sorted(tb.asks.items(), reverse=True)
        ]  # worst first, as the venue sends them: the best bid and ask come last
        levels = _encode([bids, asks])
        msg: dict[str, Any] = {
            "market": self.condition_id,
            "asset_id": self.tokens[tok],
            "timestamp": str(now_ns // 10**6),
            "hash": hashlib.sha1(levels).hexdigest(),
            "bids": bids,
            "asks": asks,
        }
        tick = self.ticks[tok] if self.ticks[tok] is not None else self.ticks[1 - tok]
        if tick:
            msg["tick_size"] = _price_text(tick)
        msg["event_type"] = "book"
        return _encode(msg).decode()


class StandingBooks:
    """The books of a venue as they stand part-way through its market frames, for clients
    that subscribe late.

    A client's stream sends it the market frames in order from some index on (for a new
    client, the first after the moment it subscribes; for one already streaming, the
    first its stream has not sent yet, which may be behind the clock). The book it gets
    is the one every frame before that index makes, so that book and the frames that
    follow give the venue's book. Each market's books are brought forward through its
    frames as the index goes (asking for an earlier index starts that market again)."""

    def __init__(self, venue: Venue) -> None:
        self.venue = venue
        self._markets: dict[str, _MarketState] = {}
        self._times = venue.market_times

    def frames_until(self, now_ns: int) -> int:
        """How many market frames the venue has sent by venue time `now_ns`."""
        return bisect.bisect_right(self._times, now_ns)

    def book(self, asset: str, upto: int, now_ns: int, held: Collection[str] = ()) -> str | None:
        """The `book` message of `asset` once the first `upto` market frames are applied,
        stamped `now_ns`. None for an asset no served market holds, before its market's
        first snapshot, and for a token that has had no snapshot of its own when the
        other token of its market is among `held` (the assets the client follows): its
        book is then the other's mirrored, which the client gets, and it goes on
        following that book's snapshots as the recorded clients did."""
        known = self.venue.tokens.get(asset)
        if known is None:
            return None
        condition_id, pair = known
        state = self._markets.get(condition_id)
        if state is None or upto < state.next:
            state = self._markets[condition_id] = _MarketState(condition_id, pair)
        frames = self.venue.market_frames
        tokens = set(pair)
        for i in range(state.next, min(upto, len(frames))):
            f = frames[i]
            if not f.assets.isdisjoint(tokens) and not f.custom:
                state.apply(f.raw)
        state.next = min(upto, len(frames))
        tok = pair.index(asset)
        if state.book.mirror[tok] and pair[1 - tok] in held:
            return None
        return state.snapshot(tok, now_ns)

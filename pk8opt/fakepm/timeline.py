"""What the fake Polymarket serves: recorded sessions turned into sorted timelines.

Market frames carry the asset ids they speak of (a frame with none, such as a text
frame, belongs to the tokens of the session it was recorded in); live frames carry
their `(topic, symbol)`. A frame that two overlapping sessions both hold (the rollover
minute) is served once.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from pk8opt.errors import DataSelectionError
from pk8opt.polymarket.sockets import LIVE_TOPICS, frame_assets
from pk8opt.recordings.catalog import report_skipped, usable_sessions
from pk8opt.recordings.manifest import Manifest
from pk8opt.recordings.raw import frames_path, read_frames

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
    books: dict[str, list[tuple[int, str]]] = field(default_factory=dict)

    @property
    def market_times(self) -> list[int]:
        return [f.t for f in self.market_frames]

    @property
    def first_ns(self) -> int:
        times = [f.t for f in self.market_frames[:1] + self.live_frames[:1]]
        if times:
            return min(times)
        return min(m.manifest.window_start_s for m in self.markets.values()) * 10**9

    def latest_book(self, asset: str, now_ns: int) -> str | None:
        books = self.books.get(asset)
        if not books:
            return None
        i = bisect.bisect_right([t for t, _ in books], now_ns)
        return books[i - 1][1] if i else None


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


def _book_elements(obj: Any, raw: str) -> list[tuple[str, str]]:
    if isinstance(obj, dict):
        is_book = obj.get("event_type") == "book" or ("event_type" not in obj and "bids" in obj)
        return [(str(obj["asset_id"]), raw)] if is_book and "asset_id" in obj else []
    out = []
    for item in obj if isinstance(obj, list) else ():
        if isinstance(item, dict):
            out += _book_elements(item, _encode(item).decode())
    return out


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
                for asset, book_raw in _book_elements(obj, f.raw):
                    venue.books.setdefault(asset, []).append((f.t, book_raw))
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
    venue.market_frames = sorted(market.values(), key=lambda f: f.t)
    venue.live_frames = sorted(live.values(), key=lambda f: f.t)
    for books in venue.books.values():
        books.sort(key=lambda b: b[0])
    return venue

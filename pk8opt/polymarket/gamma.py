"""Gamma, Polymarket's market-discovery API: find a market by slug, read its resolution.

Gamma encodes `clobTokenIds`, `outcomes` and `outcomePrices` as JSON strings inside the
JSON; `eventStartTime` is the window start (`startDate` is the listing time) and
`endDate` the window end. Errors and timeouts are retried with exponential backoff.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import msgspec

from pk8opt.errors import ConnectionFailed
from pk8opt.recordings.manifest import FeeSchedule, Manifest, Outcome

_decode = msgspec.json.Decoder().decode


@dataclass(frozen=True)
class MarketInfo:
    """What the recorder needs of one Gamma market."""

    slug: str
    condition_id: str
    token_up: str
    token_down: str
    window_start_s: int
    window_end_s: int
    tick_size: float = 0.01
    min_order_size: float = 5.0
    fees_enabled: bool = False
    fee_schedule: FeeSchedule | None = None
    closed: bool = False
    outcome_prices: tuple[float, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def tokens(self) -> tuple[str, str]:
        return (self.token_up, self.token_down)

    def outcome(self) -> Outcome | None:
        """`Up`/`Down` once Gamma shows the market closed with a 1/0 price, else None."""
        if not self.closed or len(self.outcome_prices) != 2:
            return None
        up, down = self.outcome_prices
        if up >= 0.99 and down <= 0.01:
            return "Up"
        if down >= 0.99 and up <= 0.01:
            return "Down"
        return None

    def manifest(self, symbol: str, timeframe: str) -> Manifest:
        return Manifest(
            slug=self.slug,
            symbol=symbol,
            timeframe=timeframe,
            condition_id=self.condition_id,
            token_up=self.token_up,
            token_down=self.token_down,
            window_start_s=self.window_start_s,
            window_end_s=self.window_end_s,
            tick_size=self.tick_size,
            min_order_size=self.min_order_size,
            fees_enabled=self.fees_enabled,
            fee_schedule=self.fee_schedule,
        )


def _json_list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, str) and value.strip():
        out = _decode(value)
        if isinstance(out, list):
            return out
    return []


def _iso_s(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def parse_market(obj: dict[str, Any], timeframe_s: int | None = None) -> MarketInfo:
    """One Gamma market object -> MarketInfo. Raises ValueError if a needed field is missing."""
    tokens = [str(t) for t in _json_list(obj.get("clobTokenIds"))]
    outcomes = [str(o) for o in _json_list(obj.get("outcomes"))]
    if len(tokens) != 2:
        raise ValueError(f"market {obj.get('slug')!r}: clobTokenIds has {len(tokens)} tokens")
    up_idx = outcomes.index("Up") if "Up" in outcomes else 0
    end_s = _iso_s(str(obj["endDate"]))
    if obj.get("eventStartTime"):
        start_s = _iso_s(str(obj["eventStartTime"]))
    elif timeframe_s:
        start_s = end_s - timeframe_s
    else:
        raise ValueError(f"market {obj.get('slug')!r}: no eventStartTime")
    prices = tuple(float(p) for p in _json_list(obj.get("outcomePrices")))
    if up_idx == 1 and len(prices) == 2:
        prices = (prices[1], prices[0])
    fs = obj.get("feeSchedule")
    fee_schedule = None
    if isinstance(fs, dict):
        fee_schedule = FeeSchedule(
            rate=float(fs.get("rate", 0.0)),
            exponent=float(fs.get("exponent", 1.0)),
            taker_only=bool(fs.get("takerOnly", True)),
            rebate_rate=float(fs.get("rebateRate", 0.0)),
        )
    return MarketInfo(
        slug=str(obj.get("slug", "")),
        condition_id=str(obj.get("conditionId", "")),
        token_up=tokens[up_idx],
        token_down=tokens[1 - up_idx],
        window_start_s=start_s,
        window_end_s=end_s,
        tick_size=float(obj.get("orderPriceMinTickSize") or 0.01),
        min_order_size=float(obj.get("orderMinSize") or 5.0),
        fees_enabled=bool(obj.get("feesEnabled", False)),
        fee_schedule=fee_schedule,
        closed=bool(obj.get("closed", False)),
        outcome_prices=prices,
        raw=obj,
    )


@dataclass
class GammaReply:
    """A market (or None if Gamma has none by that slug) and the response as received."""

    market: MarketInfo | None
    url: str
    body: str


class GammaClient:
    def __init__(
        self,
        base_url: str,
        timeout_s: float = 10.0,
        retries: int = 5,
        backoff_s: float = 0.5,
        max_backoff_s: float = 20.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self._http = httpx.AsyncClient(timeout=timeout_s, headers={"User-Agent": "pk8opt"})
        self.errors = 0

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _get(self, path: str, params: dict[str, str]) -> tuple[str, str]:
        url = f"{self.base_url}{path}"
        delay = self.backoff_s
        last: Exception | None = None
        for _ in range(self.retries + 1):
            try:
                resp = await self._http.get(url, params=params)
                if resp.status_code < 500 and resp.status_code != 429:
                    resp.raise_for_status()
                    return str(resp.url), resp.text
                last = httpx.HTTPStatusError(
                    f"HTTP {resp.status_code}", request=resp.request, response=resp
                )
            except (httpx.TransportError, httpx.HTTPStatusError) as exc:
                last = exc
                if isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code < 500:
                    raise ConnectionFailed(f"{url}: {exc}") from None
            self.errors += 1
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, self.max_backoff_s)
        raise ConnectionFailed(f"{url}?{params}: no answer after {self.retries + 1} tries ({last})")

    async def market_by_slug(self, slug: str, timeframe_s: int | None = None) -> GammaReply:
        """`GET /markets?slug=`; falls back to `GET /events?slug=` when that list is empty."""
        url, body = await self._get("/markets", {"slug": slug})
        found = _pick(_decode(body), slug, timeframe_s)
        if found is None:
            url, body = await self._get("/events", {"slug": slug})
            found = _pick(_decode(body), slug, timeframe_s)
        return GammaReply(found, url, body)


def _pick(data: Any, slug: str, timeframe_s: int | None) -> MarketInfo | None:
    items = data if isinstance(data, list) else [data]
    for item in items:
        if not isinstance(item, dict):
            continue
        candidates = item.get("markets") if isinstance(item.get("markets"), list) else [item]
        for market in candidates:
            if isinstance(market, dict) and market.get("slug") in (slug, None):
                try:
                    return parse_market(market, timeframe_s)
                except (ValueError, KeyError, msgspec.DecodeError):
                    continue
        if item.get("slug") == slug and isinstance(item.get("markets"), list):
            for market in item["markets"]:
                try:
                    return parse_market(market, timeframe_s)
                except (ValueError, KeyError, msgspec.DecodeError):
                    continue
    return None

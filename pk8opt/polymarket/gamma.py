"""Gamma, Polymarket's market-discovery API: find a market by slug, read its resolution.

Gamma encodes `clobTokenIds`, `outcomes` and `outcomePrices` as JSON strings inside the
JSON; `eventStartTime` is the window start (`startDate` is the listing time) and
`endDate` the window end.

A failed attempt is a transport error (DNS, refused, TLS, timeout), an HTTP error
status, an answer that is not JSON, or an answer that does not match what was asked
(another slug, another window, another condition: `GammaMismatch`). Each one goes to
`on_failure` at once, with the cause in words and the time of the next try, and moves
the client's backoff (0.5 s doubling to 20 s, kept across calls, reset by a good
answer). A call makes up to `retries + 1` attempts before raising `ConnectionFailed`;
with `retries=0` (the recorder) it makes one, and `ready()` says when the backoff
allows the next.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import msgspec

from pk8opt.errors import ConnectionFailed
from pk8opt.polymarket.fees import FeeSchedule, Outcome
from pk8opt.polymarket.links import Link, OnFailure, describe
from pk8opt.polymarket.slugs import parse_slug

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


class GammaMismatch(ConnectionFailed):
    """Gamma answered about something else than what was asked."""


class GammaClient:
    def __init__(
        self,
        base_url: str,
        timeout_s: float = 10.0,
        retries: int = 5,
        backoff_s: float = 0.5,
        max_backoff_s: float = 20.0,
        on_failure: OnFailure | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.on_failure = on_failure
        self.link = Link("gamma", self.base_url)
        self._http = httpx.AsyncClient(timeout=timeout_s, headers={"User-Agent": "pk8opt"})
        self._delay = backoff_s
        self._next_try = 0.0  # monotonic
        self.errors = 0

    async def aclose(self) -> None:
        await self._http.aclose()

    def ready(self) -> bool:
        """True when the backoff after the last failure has run out."""
        return time.monotonic() >= self._next_try

    def _failed(self, cause: str) -> float:
        """Count a failed attempt, tell `on_failure`; return the wait before the next."""
        self.errors += 1
        wait = self._delay * (0.5 + random.random())
        self._delay = min(self._delay * 2, self.max_backoff_s)
        self._next_try = time.monotonic() + wait
        failure = self.link.failed(cause, wait)
        if self.on_failure is not None:
            self.on_failure(failure)
        return wait

    def _succeeded(self) -> None:
        self._delay = self.backoff_s
        self._next_try = 0.0
        self.link.ok()

    async def _attempt(self, url: str, params: dict[str, str]) -> tuple[str, str, Any]:
        """One GET: `(url, body, decoded JSON)`; raises `ConnectionFailed` with the cause."""
        try:
            resp = await self._http.get(url, params=params)
        except httpx.HTTPError as exc:
            raise ConnectionFailed(describe(exc, self.timeout_s)) from None
        if resp.status_code >= 400:
            phrase = resp.reason_phrase or ""
            raise ConnectionFailed(f"HTTP {resp.status_code} {phrase}".strip())
        try:
            data = _decode(resp.content)
        except msgspec.DecodeError:
            head = resp.text[:60].replace("\n", " ")
            raise ConnectionFailed(f"answer is not JSON ({head!r})") from None
        return str(resp.url), resp.text, data

    async def _get(self, path: str, params: dict[str, str], check: Any = None) -> Any:
        url = f"{self.base_url}{path}"
        cause = ""
        for attempt in range(self.retries + 1):
            if attempt:
                await asyncio.sleep(max(0.0, self._next_try - time.monotonic()))
            try:
                got = await self._attempt(url, params)
                out = check(got) if check is not None else got
            except ConnectionFailed as exc:
                cause = str(exc)
                self._failed(cause)
                if isinstance(exc, GammaMismatch) and attempt == self.retries:
                    raise
                continue
            self._succeeded()
            return out
        tries = f"{self.retries + 1} tries" if self.retries else "1 try"
        raise ConnectionFailed(f"{url}: {cause} (no answer after {tries})")

    async def market_by_slug(
        self, slug: str, timeframe_s: int | None = None, condition_id: str | None = None
    ) -> GammaReply:
        """`GET /markets?slug=`; falls back to `GET /events?slug=` when that list is empty.

        The market must be the one asked for: its slug, its window (from the slug, when
        `timeframe_s` is given) and, when given, its condition id; otherwise the attempt
        fails with `GammaMismatch` and nothing of that answer is used."""

        def check(got: tuple[str, str, Any]) -> GammaReply:
            url, body, data = got
            found = _pick(data, slug, timeframe_s)
            if found is not None:
                _check_market(found, slug, timeframe_s, condition_id)
            else:
                others = sorted(_slugs_in(data) - {slug})
                if others:
                    raise GammaMismatch(f"answer for {slug} names other markets: {others[:3]}")
            return GammaReply(found, url, body)

        reply = await self._get("/markets", {"slug": slug}, check)
        if reply.market is None:
            reply = await self._get("/events", {"slug": slug}, check)
        return reply


def _check_market(
    m: MarketInfo, slug: str, timeframe_s: int | None, condition_id: str | None
) -> None:
    wrong: list[str] = []
    if m.slug != slug:
        wrong.append(f"slug {m.slug!r}")
    if timeframe_s:
        try:
            _, _, start = parse_slug(slug)
        except ValueError:
            start = m.window_start_s
        if (m.window_start_s, m.window_end_s) != (start, start + timeframe_s):
            wrong.append(f"window {m.window_start_s}..{m.window_end_s}")
    if condition_id and m.condition_id != condition_id:
        wrong.append(f"condition {m.condition_id!r}")
    if wrong:
        raise GammaMismatch(f"answer for {slug} names {', '.join(wrong)}")


def _pick(data: Any, slug: str, timeframe_s: int | None) -> MarketInfo | None:
    items = data if isinstance(data, list) else [data]
    for item in items:
        if not isinstance(item, dict):
            continue
        markets = item.get("markets")
        candidates: list[Any] = markets if isinstance(markets, list) else [item]
        for market in candidates:
            if isinstance(market, dict) and market.get("slug") == slug:
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


def _slugs_in(data: Any) -> set[str]:
    """The slugs of the markets (and their events) in a Gamma answer."""
    out: set[str] = set()
    for item in data if isinstance(data, list) else [data]:
        if not isinstance(item, dict):
            continue
        markets = item.get("markets")
        for market in markets if isinstance(markets, list) else [item]:
            if isinstance(market, dict) and isinstance(market.get("slug"), str):
                out.add(market["slug"])
    return out

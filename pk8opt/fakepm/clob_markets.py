"""The fake venue's market data on the CLOB REST API: no authentication, the replay's
view of each market (its book, tick size, fees) as the client asks for it.

    GET /tick-size /neg-risk /fee-rate ?token_id=      {"minimum_tick_size": 0.01} ...
    GET /book?token_id=                                 the book, levels worst first
    GET /markets/{cid}  /clob-markets/{cid}  /markets-by-token/{tid}

The fee rate is the market's recorded `feeSchedule` rate in basis points, as a string
(`{"base_fee": "700"}` for 0.07; "0" for a market without fees).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from aiohttp import web

from pk8opt.fakepm.exchange import Exchange
from pk8opt.fakepm.intake import Rejected
from pk8opt.fakepm.timeline import Venue
from pk8opt.polymarket.endpoints import VenueClock


class MarketRoutes:
    def __init__(self, exchange: Exchange, venue: Venue, clock: VenueClock) -> None:
        self.exchange = exchange
        self.venue = venue
        self.clock = clock

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/tick-size", self._tick_size),
            web.get("/neg-risk", self._neg_risk),
            web.get("/fee-rate", self._fee_rate),
            web.get("/book", self._book),
            web.get("/markets/{cid}", self._market),
            web.get("/clob-markets/{cid}", self._clob_market),
            web.get("/markets-by-token/{tid}", self._market_by_token),
        ]

    def served(self, request: web.Request, token: str | None = None) -> Any:
        token = token if token is not None else request.query.get("token_id", "")
        if not token:
            raise Rejected("Invalid token id")
        served = self.exchange.served(token)
        if served is None:
            raise Rejected("market not found", 404)
        return served

    def tick_of(self, token: str) -> float:
        m = self.exchange.market(token)
        assert m is not None
        manifest = m.served.manifest
        return float(self.exchange.tick(m, (manifest.token_up, manifest.token_down).index(token)))

    async def _tick_size(self, request: web.Request) -> web.Response:
        self.served(request)
        return web.json_response({"minimum_tick_size": self.tick_of(request.query["token_id"])})

    async def _neg_risk(self, request: web.Request) -> web.Response:
        self.served(request)
        return web.json_response({"neg_risk": False})

    async def _fee_rate(self, request: web.Request) -> web.Response:
        rate, _, _ = self.exchange.fee_schedule(self.served(request))
        return web.json_response({"base_fee": str(round(rate * 10_000))})

    async def _book(self, request: web.Request) -> web.Response:
        served = self.served(request)
        token = request.query["token_id"]
        m = self.exchange.market(token)
        assert m is not None
        tok = (served.manifest.token_up, served.manifest.token_down).index(token)
        fills, now = m.fills, self.clock.now_ns()

        def side(levels: list[tuple[int, float]]) -> list[dict[str, str]]:
            # worst first, best last, as the venue lists them
            return [{"price": f"{p / 1000:g}", "size": f"{s:g}"} for p, s in reversed(levels)]

        bids, asks = side(fills.levels(tok, 0)), side(fills.levels(tok, 1))
        digest = hashlib.sha1(json.dumps([bids, asks]).encode()).hexdigest()
        return web.json_response(
            {
                "market": served.manifest.condition_id,
                "asset_id": token,
                "hash": digest,
                "timestamp": str(now // 10**6),
                "bids": bids,
                "asks": asks,
                "min_order_size": f"{served.manifest.min_order_size:g}",
                "tick_size": f"{self.tick_of(token):g}",
                "neg_risk": False,
            }
        )

    def _served_by_condition(self, cid: str) -> Any:
        for served in self.venue.markets.values():
            if served.manifest.condition_id == cid:
                return served
        raise Rejected("market not found", 404)

    async def _market(self, request: web.Request) -> web.Response:
        served = self._served_by_condition(request.match_info["cid"])
        m = served.manifest
        rate, _, _ = self.exchange.fee_schedule(served)
        closed = self.clock.now_s() >= m.window_end_s
        tokens = [
            {"token_id": t, "outcome": name, "price": 0.5, "winner": False}
            for t, name in ((m.token_up, "Up"), (m.token_down, "Down"))
        ]
        return web.json_response(
            {
                "condition_id": m.condition_id,
                "question": served.gamma.get("question", m.slug),
                "market_slug": m.slug,
                "tokens": tokens,
                "minimum_tick_size": self.tick_of(m.token_up),
                "minimum_order_size": m.min_order_size,
                "accepting_orders": not closed,
                "active": True,
                "closed": closed,
                "end_date_iso": served.gamma.get("endDate"),
                "neg_risk": False,
                "enable_order_book": True,
                "maker_base_fee": 0,
                "taker_base_fee": round(rate * 10_000),
            }
        )

    async def _clob_market(self, request: web.Request) -> web.Response:
        served = self._served_by_condition(request.match_info["cid"])
        m = served.manifest
        rate, exponent, taker_only = self.exchange.fee_schedule(served)
        return web.json_response(
            {
                "c": m.condition_id,
                "t": [{"t": m.token_up, "o": "Up"}, {"t": m.token_down, "o": "Down"}],
                "mts": self.tick_of(m.token_up),
                "mos": m.min_order_size,
                "nr": False,
                "fd": {"r": rate, "e": exponent, "to": taker_only},
            }
        )

    async def _market_by_token(self, request: web.Request) -> web.Response:
        m = self.served(request, request.match_info["tid"]).manifest
        return web.json_response(
            {
                "condition_id": m.condition_id,
                "primary_token_id": m.token_up,
                "secondary_token_id": m.token_down,
            }
        )

"""The fake venue's CLOB REST API: what `py_clob_client_v2.ClobClient` calls, on loopback.

It runs on a second port (aiohttp, in serve's own event loop: the websockets server on
the first port answers GET only). Paths, methods, payloads and answers are the
venue's; errors are `{"error": "..."}` with the venue's status (400, 401, 404).

    GET    /ok /time /version                          probes (time: venue clock seconds)
    POST   /auth/api-key  GET /auth/derive-api-key     L1: API key of the signing wallet
    GET    /auth/api-keys /auth/ban-status/closed-only L2
    GET    /tick-size /neg-risk /fee-rate ?token_id=   market data (`clob_markets`)
    GET    /book?token_id=  /markets/{cid}  /clob-markets/{cid}  /markets-by-token/{tid}
    POST   /order  /orders                             post (single; a batch of up to 15)
    DELETE /order  /orders  /cancel-all  /cancel-market-orders
    GET    /data/order/{id}  /data/orders  /data/trades  (paginated: next_cursor)
    GET    /balance-allowance  /balance-allowance/update  ?asset_type=&token_id=
    POST   /v1/heartbeats                              arms the heartbeat timeout
    GET    /_stats                                     counters (tests, tooling)
    GET    /_fault/fail-trades?n=1                     the next n trades end FAILED

Every L2 call is checked as the venue checks it (`auth`): a wrong key, passphrase,
address, stale timestamp or HMAC is a 401. The matching itself is `exchange.Exchange`.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from pk8opt.fakepm.auth import (
    EXCHANGE_V2,
    NEG_RISK_EXCHANGE_V2,
    Creds,
    derive_creds,
    hmac_ok,
    l1_signer,
)
from pk8opt.fakepm.clob_markets import MarketRoutes
from pk8opt.fakepm.exchange import Exchange
from pk8opt.fakepm.intake import Incoming, Rejected
from pk8opt.fakepm.ledger import Ledger, VenueStats
from pk8opt.fakepm.timeline import Venue
from pk8opt.fakepm.userws import UserSockets
from pk8opt.fakepm.venue_params import VenueParams
from pk8opt.polymarket.endpoints import VenueClock

END_CURSOR = "LTE="  # base64 of "-1"
MAX_BATCH = 15
SIGNED_WITHIN_NS = 10 * 10**9  # a post's latency counts from its signing time this recent
STALE_S = 300  # a signed request older (or newer) than this is refused
NEG_RISK_ADAPTER = "0xd91E80cF2E7be2e162c6513ceD06f1dD0dA35296"
MAX_ALLOWANCE = str(2**256 - 1)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _cursor(offset: int) -> str:
    return base64.b64encode(str(offset).encode()).decode()


def _offset(cursor: str) -> int:
    try:
        return max(0, int(base64.b64decode(cursor or "MA==").decode()))
    except (ValueError, binascii.Error):
        raise Rejected("invalid order params payload") from None


class ClobServer:
    def __init__(
        self,
        venue: Venue,
        clock: VenueClock,
        params: VenueParams,
        host: str = "127.0.0.1",
        port: int = 0,
        send: Callable[[Any, str, int], Awaitable[None]] | None = None,
        mute: Callable[[], bool] = lambda: False,
    ) -> None:
        self.venue = venue
        self.clock = clock
        self.params = params
        self.host = host
        self.port = port
        self.keys: dict[str, Creds] = {}  # api key -> its creds
        self._created: set[tuple[str, int]] = set()
        self._heartbeat_ids: dict[str, str] = {}
        self.users = UserSockets(self.keys, clock, send, mute)
        self.exchange = Exchange(venue, clock, params, self.users.publish)
        self.markets = MarketRoutes(self.exchange, venue, clock)
        self.page_size = 100
        self._runner: web.AppRunner | None = None

    @property
    def stats(self) -> VenueStats:
        return self.exchange.ledger.stats

    @property
    def ledger(self) -> Ledger:
        return self.exchange.ledger

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # ---- lifecycle -----------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application(middlewares=[self._errors])
        get, post, delete = web.get, web.post, web.delete
        app.add_routes(
            [
                get("/ok", self._ok),
                get("/time", self._time),
                get("/version", self._version),
                post("/auth/api-key", self._create_key),
                get("/auth/derive-api-key", self._derive_key),
                get("/auth/api-keys", self._api_keys),
                get("/auth/ban-status/closed-only", self._closed_only),
                *self.markets.routes(),
                post("/order", self._post_order),
                post("/orders", self._post_orders),
                delete("/order", self._cancel),
                delete("/orders", self._cancel_orders),
                delete("/cancel-all", self._cancel_all),
                delete("/cancel-market-orders", self._cancel_market),
                get("/data/order/{id}", self._get_order),
                get("/data/orders", self._get_orders),
                get("/data/trades", self._get_trades),
                get("/balance-allowance", self._balance),
                get("/balance-allowance/update", self._balance),
                post("/v1/heartbeats", self._heartbeat),
                post("/heartbeats", self._heartbeat),
                get("/_stats", self._stats),
                get("/_fault/fail-trades", self._fail_trades),
            ]
        )
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = getattr(site, "_server", None)
        if server is not None and server.sockets:
            self.port = server.sockets[0].getsockname()[1]
        self.exchange.start()

    async def stop(self) -> None:
        await self.exchange.stop()
        await self.users.stop()
        if self._runner is not None:
            with contextlib.suppress(Exception):
                await self._runner.cleanup()
            self._runner = None

    # ---- plumbing ------------------------------------------------------------------
    @web.middleware
    async def _errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except Rejected as exc:
            return web.json_response({"error": str(exc)}, status=exc.status)
        except web.HTTPException as exc:
            return web.json_response({"error": exc.reason}, status=exc.status)

    def _fresh(self, timestamp: str) -> bool:
        try:
            ts = int(timestamp)
        except ValueError:
            return False
        return min(abs(ts - time.time()), abs(ts - self.clock.now_s())) <= STALE_S

    async def _l2(self, request: web.Request) -> tuple[Creds, str]:
        """The caller's creds and the body, or a 401 as the venue gives it."""
        body = await request.text()
        h = request.headers
        creds = self.keys.get(h.get("POLY_API_KEY", ""))
        ok = (
            creds is not None
            and h.get("POLY_PASSPHRASE") == creds.passphrase
            and h.get("POLY_ADDRESS", "").lower() == creds.address.lower()
            and self._fresh(h.get("POLY_TIMESTAMP", ""))
            and hmac_ok(
                creds,
                h.get("POLY_SIGNATURE", ""),
                h.get("POLY_TIMESTAMP", ""),
                request.method,
                request.path,
                body,
            )
        )
        if not ok or creds is None:
            self.stats.auth_failures += 1
            raise Rejected("Unauthorized/Invalid api key", 401)
        return creds, body

    def _l1(self, request: web.Request) -> tuple[str, int]:
        h = request.headers
        address, timestamp = h.get("POLY_ADDRESS", ""), h.get("POLY_TIMESTAMP", "")
        try:
            nonce = int(h.get("POLY_NONCE") or 0)
        except ValueError:
            nonce = -1
        signer = ""
        if nonce >= 0 and self._fresh(timestamp):
            signer = l1_signer(
                address, h.get("POLY_SIGNATURE", ""), timestamp, nonce, self.params.chain_id
            )
        if not signer or signer.lower() != address.lower():
            self.stats.auth_failures += 1
            raise Rejected("Invalid L1 Request headers", 401)
        return signer, nonce

    async def _delay(self, ms: float) -> None:
        if ms > 0:
            await self.clock.sleep_until_ns(self.clock.now_ns() + int(ms * 1e6))

    async def _post_delay(self, incoming: Incoming) -> None:
        """Wait until `post_latency_ms` after the order was signed, on the venue clock.

        Counted from the order's own signing time, not from its arrival: on an
        accelerated clock every wall millisecond the client spends signing and sending is
        `--speed` venue milliseconds, which a venue at full speed would not see."""
        now = self.clock.now_ns()
        start = self.clock.venue_ns_at(incoming.signed_ms * 1_000_000)
        if not now - SIGNED_WITHIN_NS <= start <= now:
            start = now  # no timestamp, or a client clock far off: from arrival
        due = start + int(self.params.post_latency_ms * 1e6)
        if due < now:
            self.stats.posts_late += 1
        await self.clock.sleep_until_ns(due)

    @staticmethod
    def _json(body: str) -> Any:
        try:
            return json.loads(body) if body else None
        except ValueError:
            raise Rejected("Invalid order payload") from None

    # ---- probes and keys -----------------------------------------------------------
    async def _ok(self, request: web.Request) -> web.Response:
        return web.json_response("OK")

    async def _time(self, request: web.Request) -> web.Response:
        return web.json_response(int(self.clock.now_s()))

    async def _version(self, request: web.Request) -> web.Response:
        return web.json_response({"version": 2})

    def _register(self, address: str, nonce: int) -> Creds:
        creds = derive_creds(address, nonce)
        self.keys[creds.api_key] = creds
        self._created.add((address.lower(), nonce))
        self.ledger.account(address)
        return creds

    async def _create_key(self, request: web.Request) -> web.Response:
        address, nonce = self._l1(request)
        if (address.lower(), nonce) in self._created:
            raise Rejected("Could not create api key")
        return web.json_response(self._register(address, nonce).as_json())

    async def _derive_key(self, request: web.Request) -> web.Response:
        address, nonce = self._l1(request)
        return web.json_response(self._register(address, nonce).as_json())

    async def _api_keys(self, request: web.Request) -> web.Response:
        creds, _ = await self._l2(request)
        mine = [k for k, c in self.keys.items() if c.address.lower() == creds.address.lower()]
        return web.json_response({"apiKeys": mine})

    async def _closed_only(self, request: web.Request) -> web.Response:
        await self._l2(request)
        return web.json_response({"closed_only": False})

    # ---- orders --------------------------------------------------------------------
    async def _place(self, creds: Creds, payload: Any) -> dict[str, Any]:
        try:
            incoming = self.exchange.check(creds, payload)
            await self._post_delay(incoming)
            out = self.exchange.place(creds, incoming)
        except Rejected as exc:
            self.stats.posts_rejected += 1
            self.stats.rejections[str(exc)] += 1
            raise
        self.stats.posts_accepted += 1
        return out

    async def _post_order(self, request: web.Request) -> web.Response:
        self.stats.posts_received += 1
        creds, body = await self._l2(request)
        return web.json_response(await self._place(creds, self._json(body)))

    async def _post_orders(self, request: web.Request) -> web.Response:
        creds, body = await self._l2(request)
        payloads = self._json(body)
        if not isinstance(payloads, list):
            raise Rejected("Invalid order payload")
        if len(payloads) > MAX_BATCH:
            raise Rejected(f"Too many orders in payload: {len(payloads)}, max allowed: {MAX_BATCH}")
        self.stats.posts_received += len(payloads)
        out = []
        for payload in payloads:
            try:
                out.append(await self._place(creds, payload))
            except Rejected as exc:
                out.append(
                    {"success": False, "errorMsg": str(exc), "orderID": "", "status": "",
                     "takingAmount": "", "makingAmount": ""}
                )  # fmt: skip
        return web.json_response(out)

    async def _cancel_ids(self, creds: Creds, ids: list[str]) -> web.Response:
        self.stats.cancels_received += 1
        await self._delay(self.params.cancel_latency_ms)
        return web.json_response(self.exchange.cancel(creds.address, ids))

    async def _cancel(self, request: web.Request) -> web.Response:
        creds, body = await self._l2(request)
        payload = self._json(body)
        if not isinstance(payload, dict) or not isinstance(payload.get("orderID"), str):
            raise Rejected("Invalid order payload")
        return await self._cancel_ids(creds, [payload["orderID"]])

    async def _cancel_orders(self, request: web.Request) -> web.Response:
        creds, body = await self._l2(request)
        ids = self._json(body)
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise Rejected("Invalid order payload")
        return await self._cancel_ids(creds, ids)

    async def _cancel_all(self, request: web.Request) -> web.Response:
        creds, _ = await self._l2(request)
        return await self._cancel_ids(creds, self.exchange.open_ids(creds.address))

    async def _cancel_market(self, request: web.Request) -> web.Response:
        creds, body = await self._l2(request)
        payload = self._json(body) or {}
        if not isinstance(payload, dict):
            raise Rejected("Invalid order payload")
        ids = self.exchange.open_ids(
            creds.address, str(payload.get("market") or ""), str(payload.get("asset_id") or "")
        )
        return await self._cancel_ids(creds, ids)

    # ---- queries -------------------------------------------------------------------
    def _page(self, request: web.Request, rows: list[dict[str, Any]]) -> web.Response:
        start = _offset(request.query.get("next_cursor", "MA=="))
        data = rows[start : start + self.page_size]
        end = start + self.page_size
        return web.json_response(
            {
                "data": data,
                "next_cursor": _cursor(end) if end < len(rows) else END_CURSOR,
                "limit": self.page_size,
                "count": len(data),
            }
        )

    async def _get_order(self, request: web.Request) -> web.Response:
        creds, _ = await self._l2(request)
        o = self.ledger.orders.get(request.match_info["id"])
        if o is None or o.account != creds.address.lower():
            raise Rejected("order not found", 404)
        return web.json_response(Ledger.order_json(o))

    async def _get_orders(self, request: web.Request) -> web.Response:
        creds, _ = await self._l2(request)
        self.exchange.catch_up(self.clock.now_ns())
        q = request.query
        rows = [
            Ledger.order_json(o)
            for o in self.ledger.open_orders(creds.address.lower())
            if (not q.get("id") or o.id == q["id"])
            and (not q.get("market") or o.market == q["market"])
            and (not q.get("asset_id") or o.asset_id == q["asset_id"])
        ]
        return self._page(request, rows)

    async def _get_trades(self, request: web.Request) -> web.Response:
        creds, _ = await self._l2(request)
        q = request.query
        try:
            after, before = int(q.get("after") or 0), int(q.get("before") or 0)
        except ValueError:
            raise Rejected("Invalid trade params payload") from None
        rows = [
            Ledger.trade_json(t)
            for t in self.ledger.trades.values()
            if t.order.account == creds.address.lower()
            and (not q.get("id") or t.id == q["id"])
            and (not q.get("market") or t.order.market == q["market"])
            and (not q.get("asset_id") or t.order.asset_id == q["asset_id"])
            and (not q.get("maker_address") or t.order.maker.lower() == q["maker_address"].lower())
            and (not after or t.match_ns // 10**9 >= after)
            and (not before or t.match_ns // 10**9 <= before)
        ]
        return self._page(request, rows)

    async def _balance(self, request: web.Request) -> web.Response:
        creds, _ = await self._l2(request)
        acct = self.ledger.account(creds.address)
        kind = request.query.get("asset_type", "COLLATERAL").upper()
        if kind == "COLLATERAL":
            amount = acct.usdc
        elif kind == "CONDITIONAL":
            token = request.query.get("token_id", "")
            if not token:
                raise Rejected("Invalid token id")
            amount = acct.tokens.get(token, 0.0)
        else:
            raise Rejected("Invalid asset type")
        spenders = (EXCHANGE_V2, NEG_RISK_EXCHANGE_V2, NEG_RISK_ADAPTER)
        return web.json_response(
            {
                "balance": str(max(0, round(amount * 1e6))),
                "allowances": dict.fromkeys(spenders, MAX_ALLOWANCE),
            }
        )

    async def _heartbeat(self, request: web.Request) -> web.Response:
        creds, _ = await self._l2(request)
        self.exchange.heartbeat(creds)
        hb = self._heartbeat_ids.setdefault(creds.api_key, str(uuid.uuid4()))
        return web.json_response({"status": "ok", "heartbeat_id": hb})

    # ---- for tests -----------------------------------------------------------------
    async def _stats(self, request: web.Request) -> web.Response:
        out: dict[str, Any] = {
            f.name: getattr(self.stats, f.name) for f in dataclasses.fields(self.stats)
        }
        out["rejections"] = dict(self.stats.rejections)
        out["open_orders"] = len(self.ledger.open_orders())
        # every account's USDC and shares by token id, as the venue holds them
        out["accounts"] = {
            a.address.lower(): {"usdc": a.usdc, "tokens": dict(a.tokens), "fees": a.fees_usdc}
            for a in self.ledger.accounts.values()
        }
        return web.json_response(out)

    async def _fail_trades(self, request: web.Request) -> web.Response:
        self.exchange.fail_next += int(request.query.get("n", "1"))
        return web.json_response({"fail_next": self.exchange.fail_next})

"""The fake venue takes orders: Polymarket's own client (`py_clob_client_v2.ClobClient`)
against `FakePolymarket` on loopback, the user socket over a real websocket.

The market is hand-written (tests/support/venue.py): the Up book bids 0.46 x 50 and
0.45 x 100, asks 0.50 x 40 and 0.52 x 100; sells of 30 (with the level falling to 20) and
10 trade at 0.46 at 30 s and 40 s into the window. The venue clock moves only when a test
moves it, so every fill and settlement happens where the test puts it.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from support.paths import FIXTURES
from support.venue import (
    COND,
    DOWN,
    START,
    UP,
    ManualClock,
    UserSocket,
    Venue,
    book,
    level,
    trade,
    venue_session,
    wait_for,
)

FAST = ["post_latency_ms=0", "cancel_latency_ms=0"]


def _fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def market(tmp_path: Path) -> Path:
    venue_session(
        tmp_path,
        [
            (10, book(UP, [("0.46", "50"), ("0.45", "100")], [("0.50", "40"), ("0.52", "100")])),
            (30, trade(UP, "0.46", "30")),
            (30, level(UP, "BUY", "0.46", "20")),
            (40, trade(UP, "0.46", "10")),
        ],
    )
    return tmp_path


def _clock(at_s: float = 15) -> ManualClock:
    return ManualClock(int((START + at_s) * 1e9))


async def _balance(v: Venue, token: str | None = None) -> str:
    from py_clob_client_v2.clob_types import BalanceAllowanceParams

    params = BalanceAllowanceParams(asset_type="CONDITIONAL" if token else "COLLATERAL")
    params.token_id = token
    return (await v.call(v.client.get_balance_allowance, params))["balance"]


async def _error(v: Venue, coro) -> tuple[int, str]:
    """The status and `error` of a call the venue refuses."""
    from py_clob_client_v2.exceptions import PolyApiException

    with pytest.raises(PolyApiException) as info:
        await coro
    return info.value.status_code, info.value.error_msg["error"]


def test_an_order_rests_fills_as_the_replay_trades_and_settles(market: Path) -> None:
    async def main() -> None:
        clock = _clock()
        async with Venue([market], clock, [*FAST, "queue_frac=0.5"]) as v:
            creds = await v.login()
            c = v.client
            assert await v.call(c.get_tick_size, UP) == "0.01"
            assert await v.call(c.get_neg_risk, UP) is False
            assert await v.call(c.get_fee_rate_bps, UP) == "700"  # feeSchedule rate 0.07
            assert await v.call(c.get_ok) == "OK"
            shown = await v.call(c.get_order_book, UP)
            assert set(_fixture("clob_http/clob_book_response.json")) <= set(shown)
            assert shown["bids"][-1] == {"price": "0.46", "size": "50"}  # best last
            assert shown["asks"][-1] == {"price": "0.5", "size": "40"}
            async with UserSocket(v, creds, [COND]) as us:
                posted = await v.buy(UP, 0.46, 10)  # post-only, behind 25 of the 50 shown
                assert set(_fixture("clob_http/http_order_response_ok.json")) <= set(posted)
                assert posted["success"] is True and posted["status"] == "live"
                oid = posted["orderID"]
                (shown,) = await v.call(c.get_open_orders)
                assert (shown["id"], shown["price"], shown["original_size"]) == (oid, "0.46", "10")
                await wait_for(lambda: us.of("order", type="PLACEMENT"), "PLACEMENT")
                (placed,) = us.of("order", type="PLACEMENT")
                assert set(placed) == set(_fixture("user_ws/ws_user_order_msg.json"))
                assert (placed["id"], placed["status"], placed["size_matched"]) == (
                    oid,
                    "LIVE",
                    "0",
                )

                await clock.advance_to(31)  # 30 sold at 0.46: 25 ahead, then 5 to us
                await wait_for(lambda: us.of("order", type="UPDATE"), "the first fill")
                (first,) = us.of("trade")
                assert set(_fixture("user_ws/ws_user_trade_msg.json")) <= set(first)
                assert (first["status"], first["trader_side"], first["size"]) == (
                    "MATCHED", "MAKER", "5"
                )  # fmt: skip
                assert first["maker_orders"][0]["order_id"] == oid
                assert first["maker_orders"][0]["owner"] == creds.api_key
                (update,) = us.of("order", type="UPDATE")
                assert (update["size_matched"], update["status"]) == ("5", "LIVE")
                assert update["associate_trades"] == [first["id"]]

                await clock.advance_to(41)  # 10 more sold there: the last 5 are ours
                await wait_for(lambda: len(us.of("order", type="UPDATE")) == 2, "the second fill")
                assert us.of("order", type="UPDATE")[-1]["status"] == "MATCHED"
                assert await v.call(c.get_open_orders) == []
                for at in (44, 48):
                    await clock.advance_to(at)
                await wait_for(lambda: len(us.of("trade", status="CONFIRMED")) == 2, "settled")
                for t in {e["id"] for e in us.of("trade")}:
                    steps = [e["status"] for e in us.of("trade", id=t)]
                    assert steps == ["MATCHED", "MINED", "CONFIRMED"]
            assert await _balance(v) == "995400000"  # 1000 - 10 x 0.46, makers pay no fee
            assert await _balance(v, UP) == "10000000"
            trades = await v.call(c.get_trades)
            assert [t["status"] for t in trades] == ["CONFIRMED", "CONFIRMED"]
            assert sum(float(t["size"]) for t in trades) == 10
            assert v.clob.stats.posts_received == 1 and v.clob.stats.fills == 2

    asyncio.run(main())


def test_a_crossing_order_takes_the_book_and_pays_the_taker_fee(market: Path) -> None:
    async def main() -> None:
        async with Venue([market], _clock(), FAST) as v:
            creds = await v.login()
            async with UserSocket(v, creds) as us:
                first = await v.buy(UP, 0.50, 10, post_only=False)
                assert first["status"] == "matched" and len(first["transactionsHashes"]) == 1
                assert (first["takingAmount"], first["makingAmount"]) == ("10", "5")
                await wait_for(lambda: us.of("trade"), "the taker trade")
                (t,) = us.of("trade")
                assert (t["trader_side"], t["fee_rate_bps"], t["price"]) == ("TAKER", "700", "0.5")
                assert t["taker_order_id"] == first["orderID"]
                # 30 of the 40 shown at 0.50 are left: the rest of a 35 rests at 0.50
                second = await v.buy(UP, 0.50, 35, post_only=False)
                assert (second["status"], second["takingAmount"]) == ("live", "30")
            # 10 x 0.5 + fee 10 x 0.07 x 0.5 x 0.5, then 30 x 0.5 + fee 0.525
            assert await _balance(v) == "979300000"
            (rest,) = await v.call(v.client.get_open_orders)
            assert (rest["size_matched"], rest["original_size"]) == ("30", "35")

    asyncio.run(main())


def test_market_orders_fill_or_are_killed(market: Path) -> None:
    async def main() -> None:
        from py_clob_client_v2.clob_types import MarketOrderArgsV2

        async with Venue([market], _clock(), FAST) as v:
            await v.login()
            c = v.client

            async def market_buy(usdc: float, price: float = 0) -> dict:
                args = MarketOrderArgsV2(token_id=UP, amount=usdc, side="BUY", price=price)
                order = await v.call(c.create_market_order, args)  # asks /book for a price
                return await v.call(c.post_order, order, "FOK")

            first = await market_buy(10)
            assert (first["status"], first["takingAmount"], first["makingAmount"]) == (
                "matched", "20", "10"
            )  # fmt: skip
            # 7 / 0.52 shares: 13.4615, at a price just off the tick; the 20 left at 0.50 first
            second = await market_buy(7, 0.52)
            assert (second["status"], second["takingAmount"]) == ("matched", "13.4615")
            status, error = await _error(v, market_buy(500, 0.52))  # 106.5 shares to be had
            assert status == 400 and "FOK orders are fully filled or killed" in error
            assert await v.call(c.get_open_orders) == []

    asyncio.run(main())


def test_cancels_free_the_orders_and_say_what_they_did(market: Path) -> None:
    async def main() -> None:
        from py_clob_client_v2.clob_types import OrderMarketCancelParams, OrderPayload

        async with Venue([market], _clock(), FAST) as v:
            creds = await v.login()
            c = v.client
            async with UserSocket(v, creds) as us:
                ids = [(await v.buy(UP, p, 5))["orderID"] for p in (0.40, 0.41, 0.42, 0.43)]
                ids.append((await v.buy(DOWN, 0.30, 5))["orderID"])
                one = await v.call(c.cancel_order, OrderPayload(orderID=ids[0]))
                assert set(one) == set(_fixture("clob_http/http_cancel_response_ok.json"))
                assert one == {"canceled": [ids[0]], "not_canceled": {}}
                again = await v.call(c.cancel_order, OrderPayload(orderID=ids[0]))
                assert again == {"canceled": [], "not_canceled": {ids[0]: "order already canceled"}}
                two = await v.call(c.cancel_orders, [ids[1], "0xnope"])
                assert two == {"canceled": [ids[1]], "not_canceled": {"0xnope": "order not found"}}
                by_market = await v.call(
                    c.cancel_market_orders, OrderMarketCancelParams(asset_id=DOWN)
                )
                assert by_market["canceled"] == [ids[4]]
                rest = await v.call(c.cancel_all)
                assert sorted(rest["canceled"]) == sorted(ids[2:4])
                await wait_for(lambda: len(us.of("order", type="CANCELLATION")) == 5, "5 cancels")
                assert {e["status"] for e in us.of("order", type="CANCELLATION")} == {"CANCELED"}
            assert await v.call(c.get_open_orders) == []
            # nothing is reserved any more: the whole balance can back one order
            assert (await v.buy(UP, 0.40, 2500))["status"] == "live"
            assert v.clob.stats.cancels_received == 5 and v.clob.stats.orders_cancelled == 5

    asyncio.run(main())


def test_the_venue_refuses_what_the_real_one_refuses(market: Path) -> None:
    async def main() -> None:
        from py_clob_client_v2.clob_types import CreateOrderOptions, OrderArgsV2

        clock = _clock()
        async with Venue([market], clock, FAST) as v:
            await v.login()
            c = v.client
            off_tick = c.builder.build_order(
                OrderArgsV2(token_id=UP, price=0.455, size=10, side="BUY"),
                CreateOrderOptions(tick_size="0.001", neg_risk=False),
            )
            status, error = await _error(v, v.call(c.post_order, off_tick))
            assert status == 400 and "breaks minimum tick size rule: 0.01" in error
            status, error = await _error(v, v.buy(UP, 0.45, 3))
            assert status == 400 and "Size (3) lower than the minimum: 5" in error
            status, error = await _error(v, v.buy(UP, 0.50, 10))  # post-only at the ask
            assert (status, error) == (400, "invalid post-only order: order crosses book")
            assert (await v.buy(UP, 0.45, 2000))["status"] == "live"  # 900 of 1000 reserved
            once = await v.call(c.create_order, OrderArgsV2(token_id=UP, price=0.4, size=5,
                                                             side="BUY"))  # fmt: skip
            assert (await v.call(c.post_order, once))["success"] is True
            status, error = await _error(v, v.call(c.post_order, once))
            assert status == 400 and error.endswith("is invalid. Duplicated.")
            once.makerAmount = str(int(once.makerAmount) - 10_000)  # not what was signed
            status, error = await _error(v, v.call(c.post_order, once))
            assert (status, error) == (400, "invalid signature")
            status, error = await _error(v, v.buy(UP, 0.45, 300))  # 135 more: too much
            assert (status, error) == (400, "not enough balance / allowance")
            unknown = c.builder.build_order(  # the client would ask the tick size first
                OrderArgsV2(token_id="123", price=0.4, size=10, side="BUY"),
                CreateOrderOptions(tick_size="0.01", neg_risk=False),
            )
            status, error = await _error(v, v.call(c.post_order, unknown))
            assert status == 400 and "no market trades token '123'" in error
            async with UserSocket(v, v.client.creds) as us:
                await clock.advance_to(900)  # the window ends: the venue cancels what rests
                await wait_for(lambda: us.of("order", type="CANCELLATION"), "the end's cancel")
                assert us.of("order", type="CANCELLATION")[0]["status"] == "INVALID"
            status, error = await _error(v, v.buy(UP, 0.45, 10))
            assert status == 400 and error.startswith("the market is closed")
            stats = v.clob.stats
            assert (stats.posts_received, stats.posts_rejected, stats.posts_accepted) == (10, 8, 2)
            assert stats.rejections["not enough balance / allowance"] == 1

    asyncio.run(main())


def test_a_bad_signature_or_key_is_a_401(market: Path) -> None:
    async def main() -> None:
        from py_clob_client_v2.client import ClobClient
        from py_clob_client_v2.clob_types import ApiCreds

        async with Venue([market], _clock(), FAST) as v:
            creds = await v.login()
            url = v.env["PK8_CLOB_URL"]
            wrong = [
                ApiCreds(creds.api_key, "A" * 43 + "=", creds.api_passphrase),  # HMAC
                ApiCreds(creds.api_key, creds.api_secret, "nope"),
                ApiCreds("00000000-0000-0000-0000-000000000000", creds.api_secret, "x"),
            ]
            for bad in wrong:
                client = ClobClient(url, chain_id=137, key=v.key, creds=bad, signature_type=0)
                status, error = await _error(v, v.call(client.get_open_orders))
                assert (status, error) == (401, "Unauthorized/Invalid api key")
            # the L1 signature of one wallet does not get another's key
            other = ClobClient(url, chain_id=137, key="0x" + "11" * 32)
            headers = other._l1_headers()
            headers["POLY_ADDRESS"] = v.client.get_address()
            async with httpx.AsyncClient() as http:
                r = await http.get(f"{url}/auth/derive-api-key", headers=headers)
            assert (r.status_code, r.json()) == (401, {"error": "Invalid L1 Request headers"})
            # a tampered body: the HMAC was made for another one
            signed = v.client._l2_headers("DELETE", "/order", serialized_body='{"orderID":"0xa"}')
            async with httpx.AsyncClient() as http:
                r = await http.request(
                    "DELETE", f"{url}/order", headers=signed, content='{"orderID":"0xb"}'
                )
            assert r.status_code == 401
            assert v.clob.stats.auth_failures == 5 and v.clob.stats.cancels_received == 0
            # the user socket closes on credentials that are not a key's
            from websockets.asyncio.client import connect

            async with connect(v.env["PK8_USER_WS_URL"]) as ws:
                auth = {"apiKey": creds.api_key, "secret": "x", "passphrase": "y"}
                await ws.send(json.dumps({"auth": auth, "type": "user"}))
                await asyncio.wait_for(ws.wait_closed(), 30)
                assert ws.close_code == 1008

    asyncio.run(main())


def test_heartbeats_that_stop_cancel_the_orders(market: Path) -> None:
    async def main() -> None:
        params = [*FAST, "heartbeat_timeout_s=0.5"]
        async with Venue([market], _clock(), params) as v:
            creds = await v.login()
            async with UserSocket(v, creds) as us:
                oid = (await v.buy(UP, 0.45, 10))["orderID"]
                assert not v.clob.exchange.heartbeats  # not armed before the first one
                answer = await v.call(v.client.post_heartbeat, "")
                assert answer["status"] == "ok" and answer["heartbeat_id"]
                await wait_for(lambda: us.of("order", type="CANCELLATION"), "the timeout")
                assert us.of("order", type="CANCELLATION")[0]["id"] == oid
            assert await v.call(v.client.get_open_orders) == []
            assert v.clob.stats.heartbeats == 1

    asyncio.run(main())


def test_a_failed_trade_goes_retrying_then_failed_and_is_undone(market: Path) -> None:
    async def main() -> None:
        clock = _clock()
        async with Venue([market], clock, FAST) as v:
            creds = await v.login()
            async with httpx.AsyncClient() as http:
                r = await http.get(f"{v.env['PK8_CLOB_URL']}/_fault/fail-trades?n=1")
            assert r.json() == {"fail_next": 1}
            async with UserSocket(v, creds) as us:
                await v.buy(UP, 0.50, 10, post_only=False)
                assert await _balance(v) == "994825000"
                assert await _balance(v, UP) == "10000000"
                for at in (18, 21):
                    await clock.advance_to(at)
                await wait_for(lambda: us.of("trade", status="FAILED"), "FAILED")
                assert [e["status"] for e in us.of("trade")] == ["MATCHED", "RETRYING", "FAILED"]
            assert await _balance(v) == "1000000000"  # cost and fee back
            assert await _balance(v, UP) == "0"
            (t,) = await v.call(v.client.get_trades)
            assert t["status"] == "FAILED"
            assert v.clob.stats.trades_failed == 1

    asyncio.run(main())


def test_user_socket_pongs_filters_markets_and_can_be_dropped(market: Path) -> None:
    async def main() -> None:
        async with Venue([market], _clock(), FAST) as v:
            creds = await v.login()
            url = v.env["PK8_USER_WS_URL"]
            async with UserSocket(v, creds) as every, UserSocket(v, creds, ["0xother"]) as few:
                await every.ws.send("PING")
                await wait_for(lambda: every.texts == ["PONG"], "PONG")
                first = (await v.buy(UP, 0.45, 5))["orderID"]
                await wait_for(lambda: every.of("order", id=first), "the first PLACEMENT")
                await few.ws.send(json.dumps({"markets": [COND], "operation": "subscribe"}))
                subs = v.clob.users.subs.values()
                await wait_for(lambda: any(COND in s.markets for s in subs), "the added market")
                second = (await v.buy(UP, 0.44, 5))["orderID"]
                await wait_for(lambda: few.events, "the second PLACEMENT")
                assert [e["id"] for e in few.events] == [second]  # the first was filtered
                async with httpx.AsyncClient() as http:
                    base = url.replace("ws://", "http://").removesuffix("/ws/user")
                    r = await http.get(f"{base}/_fault/drop?socket=user")
                assert r.json() == {"dropped": 2}
                await asyncio.wait_for(every.ws.wait_closed(), 30)

    asyncio.run(main())


def test_open_orders_and_trades_come_in_pages(market: Path) -> None:
    async def main() -> None:
        from py_clob_client_v2.clob_types import OpenOrderParams

        async with Venue([market], _clock(), FAST) as v:
            await v.login()
            v.clob.page_size = 2
            ids = [(await v.buy(UP, p, 5))["orderID"] for p in (0.40, 0.41, 0.42, 0.43, 0.44)]
            assert [o["id"] for o in await v.call(v.client.get_open_orders)] == ids
            first = await v.call(v.client.get_open_orders, None, True)
            assert len(first) == 2
            (one,) = await v.call(v.client.get_open_orders, OpenOrderParams(id=ids[3]))
            assert one["price"] == "0.43"
            for _ in range(3):
                await v.buy(UP, 0.52, 5, post_only=False)
            assert len(await v.call(v.client.get_trades)) == 3
            assert (await v.call(v.client.get_order, ids[0]))["status"] == "LIVE"

    asyncio.run(main())


def test_serve_venue_params_and_exit_summary(tmp_path: Path) -> None:
    """`serve` in real time (speed 20): a resting order fills when the replay trades
    through its price, and the summary at exit says so."""
    venue_session(
        tmp_path,
        [
            (10, book(UP, [("0.46", "50")], [("0.50", "40")])),
            # through our 0.45: ours first. Later ones too, in case a loaded machine posts
            # the order after the first (each is 5 s on the wall at speed 20)
            *((at, trade(UP, "0.44", "20")) for at in (210, 310, 410, 510)),
        ],
    )

    async def main() -> list[str]:
        from py_clob_client_v2.client import ClobClient

        from pk8opt.fakepm.serve import serve_async

        lines: list[str] = []
        stop = asyncio.Event()
        params = [*FAST, "balance_usdc=50"]
        task = asyncio.create_task(
            serve_async([tmp_path], 0, 20.0, True, faults=[], print_fn=lines.append, stop=stop,
                        venue_params=params)
        )  # fmt: skip
        await wait_for(lambda: any("PK8_CLOB_URL" in x for x in lines), "the export lines")
        env = dict(x.removeprefix("export ").split("=", 1) for x in lines if "export" in x)
        assert env["PK8_USER_WS_URL"].endswith("/ws/user")
        client = ClobClient(env["PK8_CLOB_URL"], chain_id=137, key="0x" + "22" * 32)
        client.set_api_creds(await asyncio.to_thread(client.create_or_derive_api_key))
        from py_clob_client_v2.clob_types import OrderArgsV2

        order = await asyncio.to_thread(
            client.create_order, OrderArgsV2(token_id=UP, price=0.45, size=10, side="BUY")
        )
        await asyncio.to_thread(client.post_order, order, "GTC", True)

        async def traded() -> list:
            return await asyncio.to_thread(client.get_trades)

        async with asyncio.timeout(60):
            while not await traded():
                await asyncio.sleep(0.2)
        stop.set()
        await task
        return lines

    lines = asyncio.run(main())
    summary = [x for x in lines if x.startswith("# venue:")]
    assert summary and "1 order(s) received (0 rejected), 1 filled" in summary[0], lines
    assert any("MATCHED" in x and "0.45" in x for x in lines), lines


def test_serve_lists_its_venue_params_and_refuses_a_bad_one(market: Path) -> None:
    import subprocess
    import sys

    from typer.testing import CliRunner

    from pk8opt.cli import app
    from pk8opt.fakepm.venue_params import VenueParams, venue_params_help

    text = CliRunner().invoke(app, ["serve", "--help"], env={"COLUMNS": "200"}).output
    assert "--venue-param" in text and "--clob-port" in text
    for line in venue_params_help().splitlines():
        assert line in text, line  # name, default and meaning
    assert len(venue_params_help().splitlines()) == len(VenueParams.__dataclass_fields__)
    for item, says in (
        ("bogus=1", "expected NAME=VALUE with NAME one of: post_latency_ms, "),
        ("queue_frac=2", "--venue-param queue_frac='2': must be <= 1 (valid names: "),
    ):
        r = subprocess.run(
            [sys.executable, "-m", "pk8opt.cli", "serve", str(market), "--port", "0",
             "--venue-param", item],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert r.returncode == 1, (r.stdout, r.stderr)
        errors = [x for x in r.stderr.splitlines() if x.startswith("error:")]
        assert len(errors) == 1 and says in errors[0], r.stderr
        assert "Traceback" not in r.stderr and "export" not in r.stdout

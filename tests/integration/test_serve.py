"""The fake Polymarket over real loopback sockets: Gamma, market socket, live-data socket."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
from support.sessions import START, custom_session
from websockets.asyncio.client import connect

from pk8opt.fakepm.build import fixture_session, ids_for
from pk8opt.fakepm.server import FakePolymarket
from pk8opt.fakepm.timeline import load_venue
from pk8opt.polymarket.endpoints import VenueClock


async def _server(paths: list[Path], venue_now_ns: int | None = None, speed: float = 10.0):
    venue = load_venue(paths)
    anchor = venue.first_ns - 10**9 if venue_now_ns is None else venue_now_ns
    server = FakePolymarket(venue, VenueClock(anchor, time.time_ns(), speed), keep_sent=True)
    await server.start()
    return server


async def _collect(ws, seconds: float) -> list[str]:
    out = []
    try:
        async with asyncio.timeout(seconds):
            async for msg in ws:
                out.append(msg)
    except TimeoutError:
        pass
    return out


def test_gamma_shows_resolution_only_after_window_end(tmp_path: Path, fixtures_dir: Path) -> None:
    fixture_session(tmp_path, fixtures_dir, "BTC", START, "5m", span_s=20, resolution_delay_s=45)
    slug = f"btc-updown-5m-{START}"

    async def ask(venue_now_s: float, path: str) -> list:
        server = await _server([tmp_path], int(venue_now_s * 1e9), speed=1.0)
        try:
            async with httpx.AsyncClient() as http:
                r = await http.get(f"{server.env()['PK8_GAMMA_URL']}{path}")
                assert r.headers["content-type"] == "application/json"
                return r.json()
        finally:
            await server.stop()

    (during,) = asyncio.run(ask(START + 100, f"/markets?slug={slug}"))
    assert during["closed"] is False and during["eventStartTime"] == "2026-09-29T05:00:00Z"
    assert len(json.loads(during["clobTokenIds"])) == 2
    (early,) = asyncio.run(ask(START + 300 + 40, f"/markets?slug={slug}"))
    assert early["closed"] is False
    (after,) = asyncio.run(ask(START + 300 + 46, f"/markets?slug={slug}"))
    assert after["closed"] is True and json.loads(after["outcomePrices"]) == ["1", "0"]
    (event,) = asyncio.run(ask(START + 400, f"/events?slug={slug}"))
    assert event["markets"][0]["slug"] == slug and event["markets"][0]["closed"] is True
    # a client whose own clock is now asks for today's window: no such market here
    from pk8opt.polymarket.slugs import slug_for, window_start

    today = slug_for("BTC", "5m", window_start(time.time(), "5m"))
    assert asyncio.run(ask(time.time(), f"/markets?slug={today}")) == []


def test_market_socket_honours_custom_features_and_unsubscribe(
    tmp_path: Path, fixtures_dir: Path
) -> None:
    _, up, down = custom_session(tmp_path, fixtures_dir)

    async def main(custom: bool) -> list[str]:
        server = await _server([tmp_path])
        try:
            async with connect(server.env()["PK8_CLOB_WS_URL"]) as ws:
                msg = {"assets_ids": [up, down], "type": "market"}
                if custom:
                    msg["custom_feature_enabled"] = True
                await ws.send(json.dumps(msg))
                await ws.send("PING")
                return await _collect(ws, 0.8)
        finally:
            await server.stop()

    plain = asyncio.run(main(False))
    assert plain[0] == "PONG"
    kinds = [json.loads(m)["event_type"] for m in plain[1:]]
    assert kinds == ["book", "price_change"]
    custom = asyncio.run(main(True))
    kinds = [json.loads(m)["event_type"] for m in custom[1:]]
    assert kinds == ["book", "best_bid_ask", "market_resolved", "price_change"]

    async def unsubscribed() -> list[str]:
        server = await _server([tmp_path])
        try:
            async with connect(server.env()["PK8_CLOB_WS_URL"]) as ws:
                await ws.send(json.dumps({"assets_ids": [up], "type": "market"}))
                await ws.send(json.dumps({"assets_ids": [up], "operation": "unsubscribe"}))
                await ws.send(json.dumps({"assets_ids": [down], "operation": "subscribe"}))
                return await _collect(ws, 0.8)
        finally:
            await server.stop()

    # only the Down token's price_change: the Up book is no longer wanted
    assert [json.loads(m)["event_type"] for m in asyncio.run(unsubscribed())] == ["price_change"]


def test_live_socket_filters_by_topic_and_symbol(tmp_path: Path, fixtures_dir: Path) -> None:
    fixture_session(tmp_path, fixtures_dir, "BTC", START, "5m", span_s=20, live_tail_s=-270)

    async def main() -> list[str]:
        server = await _server([tmp_path], speed=20.0)
        try:
            async with connect(server.env()["PK8_LIVE_WS_URL"]) as ws:
                sub = {
                    "topic": "crypto_prices_chainlink",
                    "type": "*",
                    "filters": '{"symbol":"btc/usd"}',
                }
                await ws.send(json.dumps({"action": "subscribe", "subscriptions": [sub]}))
                await ws.send("ping")
                return await _collect(ws, 1.0)
        finally:
            await server.stop()

    frames = [json.loads(m) for m in asyncio.run(main())]
    assert len(frames) > 5
    assert {(f["topic"], f["payload"]["symbol"]) for f in frames} == {
        ("crypto_prices_chainlink", "btc/usd")
    }


def test_faults_mute_and_garbage(tmp_path: Path, fixtures_dir: Path) -> None:
    fixture_session(tmp_path, fixtures_dir, "BTC", START, "5m", span_s=20)
    up, _, _ = ids_for("BTC", START)

    async def main() -> tuple[list[str], dict]:
        server = await _server([tmp_path], venue_now_ns=(START + 400) * 10**9)
        try:
            gamma = server.env()["PK8_GAMMA_URL"]
            async with connect(server.env()["PK8_CLOB_WS_URL"]) as ws, httpx.AsyncClient() as http:
                await ws.send(json.dumps({"assets_ids": [up], "type": "market"}))
                assert (await http.get(f"{gamma}/_fault/mute?on=1")).json() == {"mute": True}
                await ws.send("PING")
                r = (await http.get(f"{gamma}/_fault/garbage?socket=market&n=2")).json()
                got = await _collect(ws, 0.5)
                clock = (await http.get(f"{gamma}/_clock")).json()
                return got, r | clock
        finally:
            await server.stop()

    got, info = asyncio.run(main())
    # the late subscriber gets the latest book first, no PONG, then the garbage
    assert json.loads(got[0])["event_type"] == "book"
    assert "PONG" not in got and len(got) == 3 and info["sent"] == 2
    assert info["PK8_CLOCK_SPEED"] == "10"

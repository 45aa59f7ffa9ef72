"""Gamma market parsing on real captured objects, and the client's retries over HTTP."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from pk8opt.errors import ConnectionFailed
from pk8opt.polymarket.endpoints import Endpoints, VenueClock
from pk8opt.polymarket.gamma import GammaClient, parse_market
from pk8opt.recordings.manifest import manifest_of


def test_parse_real_15m_market(fixtures_dir: Path) -> None:
    obj = json.loads(
        (fixtures_dir / "gamma/gamma_market_btc-updown-15m-1767200400_2025-12-31.json").read_text()
    )
    m = parse_market(obj)
    assert m.slug == "btc-updown-15m-1767200400"
    assert m.window_start_s == 1767200400 and m.window_end_s == 1767200400 + 900
    assert m.token_up.startswith("88518485") and m.token_down.startswith("10181859")
    assert m.tick_size == 0.01 and m.min_order_size == 5
    assert not m.closed and m.outcome() is None
    manifest = manifest_of(m, "BTC", "15m")
    assert manifest.condition_id == obj["conditionId"] and manifest.status == "recording"


def test_parse_fee_schedule_and_resolution(fixtures_dir: Path) -> None:
    obj = json.loads((fixtures_dir / "gamma/gamma_market_crypto_twap.json").read_text())
    m = parse_market(obj)
    assert m.fee_schedule is not None and m.fee_schedule.rate == 0.07
    assert m.window_end_s - m.window_start_s == 300
    closed = dict(obj, closed=True, outcomePrices='["0", "1"]')
    assert parse_market(closed).outcome() == "Down"
    closed = dict(obj, closed=True, outcomePrices='["1", "0"]')
    assert parse_market(closed).outcome() == "Up"


def test_outcomes_in_other_order_map_up_and_down(fixtures_dir: Path) -> None:
    obj = json.loads((fixtures_dir / "gamma/gamma_market_crypto_twap.json").read_text())
    flipped = dict(obj, outcomes='["Down", "Up"]', closed=True, outcomePrices='["0", "1"]')
    m = parse_market(flipped)
    assert m.token_up.startswith("38034349") and m.outcome() == "Up"


def test_endpoints_from_env_and_options() -> None:
    e = Endpoints.resolve(env={})
    assert e.gamma_url == "https://gamma-api.polymarket.com"
    assert e.clob_ws_url == "wss://ws-subscriptions-clob.polymarket.com/ws/market"
    assert e.live_ws_url == "wss://ws-live-data.polymarket.com"
    e = Endpoints.resolve(
        gamma_url="http://a/", env={"PK8_GAMMA_URL": "http://b", "PK8_LIVE_WS_URL": "ws://c"}
    )
    assert (e.gamma_url, e.live_ws_url) == ("http://a", "ws://c")


def test_venue_clock_runs_fast_from_its_anchor() -> None:
    clock = VenueClock.from_env(
        {"PK8_CLOCK_VENUE_NS": "1000000000000", "PK8_CLOCK_WALL_NS": "0", "PK8_CLOCK_SPEED": "10"}
    )
    assert clock.wall_ns_at(1000000000000 + 10_000) == 1_000
    assert VenueClock.from_env({}).is_wall


def _mock_gamma(responses: list[httpx.Response]) -> GammaClient:
    client = GammaClient("http://gamma.test", backoff_s=0.001, retries=3)
    calls = iter(responses)
    client._http = httpx.AsyncClient(transport=httpx.MockTransport(lambda req: next(calls)))
    return client


def test_gamma_retries_errors_then_answers(fixtures_dir: Path) -> None:
    body = (
        fixtures_dir / "gamma/gamma_market_btc-updown-15m-1767200400_2025-12-31.json"
    ).read_text()
    client = _mock_gamma(
        [httpx.Response(502), httpx.Response(429), httpx.Response(200, text=f"[{body}]")]
    )
    reply = asyncio.run(client.market_by_slug("btc-updown-15m-1767200400"))
    assert reply.market is not None and reply.market.slug == "btc-updown-15m-1767200400"
    assert client.errors == 2 and reply.body == f"[{body}]"


def test_gamma_falls_back_to_events_and_gives_up_cleanly(fixtures_dir: Path) -> None:
    market = json.loads((fixtures_dir / "gamma/gamma_market_crypto_twap.json").read_text())
    event = [{"slug": market["slug"], "markets": [market]}]
    client = _mock_gamma([httpx.Response(200, text="[]"), httpx.Response(200, json=event)])
    reply = asyncio.run(client.market_by_slug(market["slug"]))
    assert reply.market is not None and "/events" in reply.url
    client = _mock_gamma([httpx.Response(503)] * 4)
    with pytest.raises(ConnectionFailed, match="no answer after 4 tries"):
        asyncio.run(client.market_by_slug("x"))


def test_an_answer_that_is_not_json_is_a_failed_attempt_with_backoff() -> None:
    from pk8opt.polymarket.links import Failure

    failures: list[Failure] = []
    client = GammaClient("http://gamma.test", retries=0, backoff_s=0.5, on_failure=failures.append)
    client._http = httpx.AsyncClient(
        transport=httpx.MockTransport(lambda req: httpx.Response(200, text="<html>oops</html>"))
    )
    for _ in range(3):
        with pytest.raises(ConnectionFailed, match="not JSON"):
            asyncio.run(client.market_by_slug("btc-updown-15m-1767200400"))
    assert [f.attempt for f in failures] == [1, 2, 3]
    assert all(f.cause == "answer is not JSON ('<html>oops</html>')" for f in failures)
    # the wait before the next try doubles (0.5 s, 1 s, 2 s, times a jitter of 0.5..1.5)
    waits = [f.next_try_in_s or 0.0 for f in failures]
    for wait, base in zip(waits, (0.5, 1.0, 2.0), strict=True):
        assert 0.5 * base <= wait <= 1.5 * base
    assert not client.ready() and client.link.last_error == failures[-1].cause


@pytest.mark.parametrize(
    ("change", "asked", "what"),
    [
        ({"slug": "btc-updown-15m-1767201300"}, {}, "other markets"),
        ({"endDate": "2025-12-31T17:30:00Z"}, {}, "window"),
        ({}, {"condition_id": "0xother"}, "condition"),
    ],
)
def test_an_answer_about_another_market_is_a_mismatch(
    fixtures_dir: Path, change: dict, asked: dict, what: str
) -> None:
    from pk8opt.polymarket.gamma import GammaMismatch

    slug = "btc-updown-15m-1767200400"
    obj = json.loads((fixtures_dir / f"gamma/gamma_market_{slug}_2025-12-31.json").read_text())
    obj.update(change)
    client = _mock_gamma([httpx.Response(200, json=[obj])] * 2)
    client.retries = 0
    with pytest.raises(GammaMismatch, match=what):
        asyncio.run(client.market_by_slug(slug, 900, **asked))
    assert client.errors == 1 and not client.link.ever_ok

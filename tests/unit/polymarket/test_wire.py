from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.paths import FIXTURES

from pk8opt.polymarket.wire import (
    ASK,
    BID,
    BINANCE,
    CHAINLINK,
    TWAP,
    BestBidAsk,
    BookSnapshot,
    LevelUpdate,
    MarketResolved,
    NewMarket,
    PricePoint,
    Problem,
    TickSizeChange,
    Trade,
    parse_live_frame,
    parse_market_frame,
)

UP = "76670567130917723816490572615540605537878462672464291990940067659127658071111"
DOWN = "54179564009642723353355316176091991063553046330768303687769988635499280029688"


def _frames_of(path: Path) -> list[str]:
    """A fixture file's frames: .jsonl one per line; .json one frame (object or array)."""
    text = path.read_text()
    if path.suffix == ".jsonl":
        return [line for line in text.splitlines() if line.strip()]
    return [text]


def _files(sub: str) -> list[Path]:
    return sorted((FIXTURES / sub).glob("*.json*")) if FIXTURES.exists() else []


@pytest.mark.parametrize("path", _files("market_ws"), ids=lambda p: p.name)
def test_every_market_fixture_parses_into_events(path):
    events = [e for frame in _frames_of(path) for e in parse_market_frame(frame)]
    assert events
    problems = [e for e in events if isinstance(e, Problem)]
    assert problems == []


@pytest.mark.parametrize("path", _files("rtds"), ids=lambda p: p.name)
def test_every_live_fixture_parses(path):
    events = [e for frame in _frames_of(path) for e in parse_live_frame(frame)]
    assert any(isinstance(e, PricePoint) for e in events)
    for e in events:
        if isinstance(e, Problem):
            assert e.kind in ("other_topic", "live_status", "empty"), e


def test_fixture_folders_are_there(fixtures_dir):
    assert len(_files("market_ws")) >= 20 and len(_files("rtds")) >= 5


def test_book_without_event_type_comes_out_best_first(fixtures_dir):
    (book,) = parse_market_frame((fixtures_dir / "market_ws/ws_book_snapshot.json").read_text())
    assert isinstance(book, BookSnapshot)
    assert book.bids == [(500, 200.0), (490, 350.0), (480, 500.0)]
    assert book.asks == [(510, 150.0), (520, 250.0), (530, 400.0)]
    assert book.exch_ms == 1703875200000


def test_buys_sells_book_and_array_frame():
    frame = json.dumps(
        [
            {"asset_id": UP, "buys": [{"price": "0.4", "size": "5"}], "sells": []},
            {"event_type": "book", "asset_id": DOWN, "bids": [], "asks": [], "tick_size": "0.001"},
        ]
    )
    a, b = parse_market_frame(frame)
    assert isinstance(a, BookSnapshot) and a.bids == [(400, 5.0)] and a.asks == []
    assert isinstance(b, BookSnapshot) and b.asset_id == DOWN and b.tick_milli == 1


def test_price_change_current_schema_carries_venue_best(fixtures_dir):
    events = parse_market_frame((fixtures_dir / "market_ws/ws_quotes.json").read_text())
    assert events[0] == LevelUpdate(
        "71321045679252212594626385532706912750332728571942532289631379312455583992563",
        1703875201000,
        BID,
        510,
        150.0,
        510,
        520,
    )
    assert events[1].side == ASK and events[1].venue_bid == 480


def test_price_change_older_forms():
    flat = {"event_type": "price_change", "asset_id": UP, "price": "0.514", "side": "SELL",
            "size": "21574.08", "timestamp": "1723967931411"}  # fmt: skip
    (e,) = parse_market_frame(json.dumps(flat))
    assert (e.asset_id, e.side, e.price, e.size, e.venue_bid) == (UP, ASK, 514, 21574.08, -1)
    nested = {"event_type": "price_change", "asset_id": UP, "timestamp": "1",
              "changes": [{"price": "0.5", "side": "BUY", "size": "0"},
                          {"price": "0.6", "side": "SELL", "size": "7"}]}  # fmt: skip
    a, b = parse_market_frame(json.dumps(nested))
    assert (a.asset_id, a.side, a.price, a.size) == (UP, BID, 500, 0.0)
    assert (b.side, b.price, b.size) == (ASK, 600, 7.0)


def test_trade_tick_bba_resolved_new_market(fixtures_dir):
    d = fixtures_dir / "market_ws"
    (t,) = parse_market_frame((d / "ws_market_last_trade_msg.json").read_text())
    assert isinstance(t, Trade) and (t.side, t.price, t.size) == (BID, 510, 25.0)
    (k,) = parse_market_frame((d / "legacy_tick_size_change.json").read_text())
    assert isinstance(k, TickSizeChange) and k.tick_milli == 1
    (q,) = parse_market_frame((d / "ws_market_best_bid_ask_msg.json").read_text())
    assert isinstance(q, BestBidAsk) and (q.bid, q.ask) == (730, 770)
    (r,) = parse_market_frame((d / "ws_market_resolved_msg.json").read_text())
    assert isinstance(r, MarketResolved) and r.winning_outcome == "Yes"
    assert r.winning_asset_id == r.asset_ids[0]
    (n,) = parse_market_frame((d / "ws_market_new_market_msg.json").read_text())
    assert isinstance(n, NewMarket) and len(n.asset_ids) == 2


@pytest.mark.parametrize("text", ["PONG", "NO NEW ASSETS", ""])
def test_text_frames_are_counted_not_raised(text):
    (p,) = parse_market_frame(text)
    assert isinstance(p, Problem) and p.kind == "text"


def test_unknown_and_malformed_are_problems_and_good_neighbours_survive():
    (u,) = parse_market_frame('{"event_type":"brand_new_thing","asset_id":"1"}')
    assert u == Problem("unknown_event", "brand_new_thing")
    (m,) = parse_market_frame('{"event_type":"book","asset_id":')
    assert m.kind == "malformed"
    frame = json.dumps(
        [
            {"event_type": "last_trade_price", "asset_id": UP, "price": "abc", "side": "BUY"},
            {"event_type": "last_trade_price", "asset_id": UP, "price": "0.5", "side": "BUY",
             "size": "3"},
        ]
    )  # fmt: skip
    bad, good = parse_market_frame(frame)
    assert bad.kind == "malformed"
    assert isinstance(good, Trade) and good.price == 500


def test_live_frames(fixtures_dir):
    d = fixtures_dir / "rtds"
    points = parse_live_frame((d / "rtds_crypto_prices_subscribe.json").read_text())
    assert [p.exch_ms for p in points] == [1780726209000, 1780726210000, 1780726211000]
    assert all(p.source == BINANCE and p.symbol == "btcusdt" for p in points)
    (tw,) = parse_live_frame((d / "rtds_crypto_twap_sixty_update.json").read_text())
    assert tw.source == TWAP and tw.value == 64997.81
    lines = (d / "rtds_frames_2026-09-05_polyoxide_spec.jsonl").read_text().splitlines()
    (cl,) = parse_live_frame(lines[1])
    assert cl.source == CHAINLINK and cl.symbol == "btc/usd" and cl.exch_ms == 1788600388000
    assert parse_live_frame("{}") == [Problem("empty")]
    assert parse_live_frame("") == [Problem("empty")]
    (st,) = parse_live_frame(lines[-1])
    assert st.kind == "live_status"
    assert parse_live_frame("pong")[0].kind == "text"

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pk8opt.polymarket.wire import BookSnapshot, LevelUpdate, parse_market_frame
from pk8opt.recordings.book import MarketBook, TokenBook
from pk8opt.recordings.schema import ASK, BID, NO_PRICE, Kind

BURST = "market_ws/ws_market_price_change_crossing_burst"
UP = "76670567130917723816490572615540605537878462672464291990940067659127658071111"
DOWN = "54179564009642723353355316176091991063553046330768303687769988635499280029688"


def _burst_frames(fixtures_dir, suffix):
    path = fixtures_dir / f"{BURST}{suffix}"
    if suffix == ".json":
        return [json.dumps(f) for f in json.loads(path.read_text())]
    return [line for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("suffix", [".json", ".frames.jsonl"])
def test_book_reproduces_venue_best_after_every_price_change_entry(fixtures_dir, suffix):
    """Acceptance: the real capture, replayed, gives the venue's best bid/ask after each
    entry of each price_change, for both tokens (the Down token, which had no snapshot of
    its own, follows the Up book mirrored)."""
    book = MarketBook()
    token = {UP: 0, DOWN: 1}
    checked = 0
    for frame in _burst_frames(fixtures_dir, suffix):
        for ev in parse_market_frame(frame):
            if isinstance(ev, BookSnapshot):
                t = token[ev.asset_id]
                book.apply(int(Kind.BOOK_RESET), t, -1, NO_PRICE, 0.0)
                for p, s in ev.bids:
                    book.apply(int(Kind.LEVEL), t, BID, p, s)
                for p, s in ev.asks:
                    book.apply(int(Kind.LEVEL), t, ASK, p, s)
            else:
                assert isinstance(ev, LevelUpdate)
                t = token[ev.asset_id]
                book.apply(int(Kind.LEVEL), t, ev.side, ev.price, ev.size)
                assert (book[t].best_bid, book[t].best_ask) == (ev.venue_bid, ev.venue_ask), (
                    f"entry {checked}: token {t}"
                )
                checked += 1
    assert checked == 98


def test_post_trade_snapshot_matches_the_book_we_built(fixtures_dir):
    frames = json.loads((fixtures_dir / f"{BURST}.json").read_text())
    book = TokenBook()
    for frame in frames[:-1]:
        for ev in parse_market_frame(json.dumps(frame)):
            if isinstance(ev, BookSnapshot):
                book.load(ev.bids, ev.asks)
            elif ev.asset_id == UP:
                book.set_level(ev.side, ev.price, ev.size)
    (final,) = parse_market_frame(json.dumps(frames[-1]))
    assert (book.best_bid, book.best_ask) == (final.bids[0][0], final.asks[0][0])
    assert book.depth(BID, 3) == final.bids[:3]
    assert book.depth(ASK, 3) == final.asks[:3]


def test_queries_and_complement():
    b = TokenBook()
    b.load([(480, 500.0), (490, 350.0), (500, 200.0)], [(510, 150.0), (530, 400.0)])
    assert (b.best_bid, b.best_ask) == (500, 510)
    assert b.size_at(BID, 490) == 350.0 and b.size_at(ASK, 490) == 0.0
    assert b.depth(BID, 2) == [(500, 200.0), (490, 350.0)]
    assert b.depth(ASK, 5) == [(510, 150.0), (530, 400.0)]
    assert b.depth_within(BID, 10) == 550.0
    assert b.depth_within(ASK, 20) == 550.0
    assert b.mid == 0.505
    c = b.complement()
    assert (c.best_bid, c.best_ask) == (490, 500)
    assert c.size_at(ASK, 500) == 200.0 and c.size_at(BID, 490) == 150.0
    b.set_level(BID, 500, 0)
    assert b.best_bid == 490 and len(b) == 4
    empty = TokenBook()
    assert (empty.best_bid, empty.best_ask, empty.mid) == (NO_PRICE, NO_PRICE, None)


def test_new_level_through_the_other_side_takes_the_crossed_levels():
    b = TokenBook()
    b.load([(290, 5.0), (301, 1.0), (311, 2.0)], [(397, 1.0)])
    assert b.set_level(ASK, 301, 45.83) == 2
    assert (b.best_bid, b.best_ask) == (290, 301)
    assert not b.crossed
    b.load([(500, 1.0)], [(400, 1.0)])  # a snapshot can be crossed: it is detected
    assert b.crossed


def test_market_book_rows_gap_and_best_across_tokens():
    mb = MarketBook()
    rows = {
        "kind": np.array([0, 1, 1, 0, 1, 5, 4], dtype=np.uint8),
        "token": np.array([0, 0, 0, 1, 1, -1, 1], dtype=np.int8),
        "side": np.array([-1, 0, 1, -1, 0, -1, -1], dtype=np.int8),
        "price": np.array([-1, 450, 470, -1, 540, -1, -1], dtype=np.int32),
        "size": np.array([0, 10, 10, 0, 5, 0, 0], dtype=np.float64),
    }
    mb.apply_rows(rows, 0, 5)
    assert (mb[0].best_bid, mb[0].best_ask) == (450, 470)
    assert (mb[1].best_bid, mb[1].best_ask) == (540, NO_PRICE)
    assert mb.best_ask(0) == 460  # Down bid 0.54 = Up ask 0.46
    assert mb.best_bid(1) == 540 and mb.best_ask(1) == 550
    assert mb.stale == [False, False]
    mb.apply_rows(rows, 5)
    assert mb.stale == [True, True] and mb.winner == 1


prices = st.integers(min_value=1, max_value=999)
sizes = st.one_of(st.just(0.0), st.floats(min_value=0.01, max_value=1e6))
levels = st.lists(st.tuples(prices, st.floats(min_value=0.01, max_value=1e6)), max_size=30)
updates = st.lists(st.tuples(st.sampled_from([BID, ASK]), prices, sizes), max_size=60)


@settings(max_examples=200, deadline=None)
@given(bids=levels, asks=levels, deltas=updates)
def test_snapshot_then_deltas_equals_a_dict_model(bids, asks, deltas):
    book = TokenBook()
    book.load(bids, asks)
    model = {BID: {}, ASK: {}}
    for p, s in bids:
        model[BID][p] = s
    for p, s in asks:
        model[ASK][p] = s
    for side, p, s in deltas:
        book.set_level(side, p, s, uncross=False)
        if s > 0:
            model[side][p] = s
        else:
            model[side].pop(p, None)
    assert book.bids == model[BID] and book.asks == model[ASK]
    assert book.best_bid == max(model[BID], default=NO_PRICE)
    assert book.best_ask == min(model[ASK], default=NO_PRICE)
    assert book.crossed == (
        bool(model[BID]) and bool(model[ASK]) and max(model[BID]) >= min(model[ASK])
    )
    c = book.complement()
    assert c.bids == {1000 - p: s for p, s in model[ASK].items()}
    assert c.complement().bids == model[BID]


@settings(max_examples=200, deadline=None)
@given(deltas=updates)
def test_updates_never_leave_a_crossed_book(deltas):
    book = TokenBook()
    for side, p, s in deltas:
        book.set_level(side, p, s)
        assert not book.crossed
        assert (
            book.best_bid == NO_PRICE
            or book.best_ask == NO_PRICE
            or (book.best_bid < book.best_ask)
        )

"""The fake venue's fill model (`fakepm.fills.MarketFills`) on hand-made frames: the queue
ahead, trades and unexplained falls of a level, trade-through, crossing size, takers."""

from __future__ import annotations

import json

import pytest

from pk8opt.fakepm.fills import ASK, BID, MarketFills
from pk8opt.fakepm.timeline import MarketFrame

UP, DOWN, COND = "111", "222", "0xc0"


def _frame(t: int, obj: dict) -> MarketFrame:
    return MarketFrame(t, json.dumps(obj), frozenset({UP, DOWN}), False)


def _book(t: int, bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> MarketFrame:
    return _frame(t, {
        "event_type": "book", "market": COND, "asset_id": UP, "timestamp": "0",
        "bids": [{"price": p, "size": s} for p, s in reversed(bids)],
        "asks": [{"price": p, "size": s} for p, s in reversed(asks)],
    })  # fmt: skip


def _trade(t: int, price: str, size: str, side: str = "SELL") -> MarketFrame:
    return _frame(t, {"event_type": "last_trade_price", "market": COND, "asset_id": UP,
                      "price": price, "size": size, "side": side, "timestamp": "0"})  # fmt: skip


def _level(t: int, side: str, price: str, size: str) -> MarketFrame:
    change = {"asset_id": UP, "price": price, "size": size, "side": side}
    return _frame(t, {"event_type": "price_change", "market": COND, "timestamp": "0",
                      "price_changes": [change]})  # fmt: skip


BOOK = _book(1, [("0.46", "50"), ("0.40", "10")], [("0.50", "40"), ("0.52", "100")])


def _market(frames: list[MarketFrame], **params) -> MarketFills:
    m = MarketFills(COND, (UP, DOWN), [BOOK, *frames], **params)
    m.advance(1)
    return m


def _filled(m: MarketFills, until: int) -> list[tuple[int, float, bool]]:
    return [(f.price, f.size, f.maker) for f in m.advance(until)]


def test_the_queue_ahead_trades_first() -> None:
    m = _market([_trade(2, "0.46", "30"), _trade(3, "0.46", "30")], queue_frac=1.0)
    r = m.rest("o1", 0, BID, 460, 10)
    assert r.ahead == 50
    assert _filled(m, 2) == [] and r.ahead == 20
    assert _filled(m, 3) == [(460, 10, True)]
    assert m.resting == []


def test_a_fraction_of_the_queue_is_ahead() -> None:
    m = _market([_trade(2, "0.46", "30")], queue_frac=0.5)
    m.rest("o1", 0, BID, 460, 10)
    assert _filled(m, 2) == [(460, 5, True)]


def test_a_fall_no_trade_explains_is_volume_or_cancels_that_shorten_the_queue() -> None:
    falls = [_level(2, "BUY", "0.46", "20")]
    m = _market(falls, queue_frac=0.5, decrease_fills=True)
    m.rest("o1", 0, BID, 460, 10)
    assert _filled(m, 2) == [(460, 5, True)]  # 30 gone: 25 ahead, then 5 of ours
    m = _market(falls, queue_frac=1.0, decrease_fills=False)
    r = m.rest("o1", 0, BID, 460, 10)
    assert _filled(m, 2) == [] and r.ahead == 20
    # cancels from all over the queue: 30 of 50 gone, the 25 ahead of us shrink to 10
    m = _market(falls, queue_frac=0.5, decrease_fills=False)
    r = m.rest("o1", 0, BID, 460, 10)
    assert _filled(m, 2) == [] and r.ahead == pytest.approx(10.0)


def test_a_fall_after_its_trade_is_counted_once() -> None:
    m = _market([_trade(2, "0.46", "30"), _level(2, "BUY", "0.46", "20")], queue_frac=0.5)
    m.rest("o1", 0, BID, 460, 10)
    assert _filled(m, 2) == [(460, 5, True)]


def test_a_trade_through_our_price_fills_us_when_asked() -> None:
    through = [_trade(2, "0.44", "8")]
    m = _market(through, trade_through=True)
    m.rest("o1", 0, BID, 450, 10)
    assert _filled(m, 2) == [(450, 8, True)]  # at our price: we were the maker
    m = _market(through, trade_through=False)
    m.rest("o1", 0, BID, 450, 10)
    assert _filled(m, 2) == []


def test_a_taker_buying_does_not_fill_a_bid() -> None:
    m = _market([_trade(2, "0.46", "30", side="BUY")], queue_frac=0.0)
    m.rest("o1", 0, BID, 460, 10)
    assert _filled(m, 2) == []


def test_size_offered_at_our_price_trades_with_us() -> None:
    frames = [_level(2, "SELL", "0.45", "7"), _level(3, "SELL", "0.44", "7")]
    m = _market(frames, trade_through=False)
    m.rest("o1", 0, BID, 450, 10)
    assert _filled(m, 2) == [(450, 7, True)]
    assert _filled(m, 3) == []  # through our price: only with trade_through
    m = _market(frames, trade_through=True)
    m.rest("o1", 0, BID, 450, 10)
    assert _filled(m, 3) == [(450, 7, True), (450, 3, True)]


def test_a_taker_takes_each_displayed_share_once() -> None:
    m = _market([_level(5, "SELL", "0.50", "40")])
    plan = m.plan_take(0, BID, 520, 45)
    assert plan == [(500, 40), (520, 5)]
    m.take(0, BID, plan)
    assert m.plan_take(0, BID, 520, 200) == [(520, 95)]
    assert m.best(0, ASK) == 520
    m.advance(5)  # the replay sets the level again: its size is the venue's word
    assert m.plan_take(0, BID, 500, 10) == [(500, 10)]


def test_a_new_book_keeps_the_queue_no_longer_than_the_level() -> None:
    m = _market([_book(2, [("0.46", "12")], [("0.50", "40")])], queue_frac=1.0)
    r = m.rest("o1", 0, BID, 460, 10)
    assert _filled(m, 2) == [] and r.ahead == 12


def test_sells_rest_on_the_ask_side() -> None:
    m = _market([_trade(2, "0.52", "120", side="BUY")], queue_frac=1.0)
    m.rest("s1", 0, ASK, 520, 10)
    assert _filled(m, 2) == [(520, 10, True)]  # 100 ahead, then ours


def test_a_taker_buying_one_token_trades_with_the_other_tokens_bids() -> None:
    """Up and Down are complements: buying Up at 0.46 matches a Down bid at 0.54, and a
    Down bid at 0.55 is better than that (trade-through)."""
    m = _market([_trade(2, "0.46", "12", side="BUY")], queue_frac=0.0)
    through = m.rest("d1", 1, BID, 550, 10)
    at = m.rest("d2", 1, BID, 540, 10)
    # at its price: the queue (none ahead) then us; through it: ours first, up to 12
    assert _filled(m, 2) == [(540, 10, True), (550, 10, True)]
    assert through.left == 0.0 and at.left == 0.0
    # a taker selling Up hits Up bids, not Down's
    m = _market([_trade(2, "0.46", "12", side="SELL")], queue_frac=0.0)
    down = m.rest("d1", 1, BID, 550, 10)
    assert _filled(m, 2) == [] and down.left == 10

"""Hand-computed queue, latency, fill and rejection scenarios on the event-by-event API."""

from __future__ import annotations

import pytest

from pk8opt.engine import ENGINE_PARAMS, MarketSpec, PaperEngine, Status, taker_fee_usdc
from pk8opt.recordings.manifest import FeeSchedule
from pk8opt.recordings.schema import ASK, BID, DOWN, NO_SIDE, UP, Kind

MS = 1_000_000
T0 = 1_767_225_600 * 1_000_000_000


def market(fee: float = 0.0, rebate: float = 0.0) -> MarketSpec:
    return MarketSpec(
        "btc-updown-15m-1767225600",
        "BTC",
        "15m",
        "0xc",
        "1",
        "2",
        T0,
        T0 + 900 * 10**9,
        fee_schedule=FeeSchedule(rate=fee, rebate_rate=rebate) if fee else None,
    )


def engine(**over: object) -> PaperEngine:
    return PaperEngine(market(over.pop("fee", 0.0)), ENGINE_PARAMS.resolve(over, "test"))  # type: ignore[arg-type]


def frame(e: PaperEngine, t: int, *rows: tuple[int, int, int, int, float]) -> None:
    for kind, token, side, price, size in rows:
        e.on_row(t, kind, token, side, price, size)
    e.end_frame(t)


def book(e: PaperEngine, t: int, bid: tuple[int, float], ask: tuple[int, float]) -> None:
    frame(
        e,
        t,
        (Kind.BOOK_RESET, UP, NO_SIDE, -1, 0.0),
        (Kind.LEVEL, UP, BID, *bid),
        (Kind.LEVEL, UP, ASK, *ask),
    )


def test_order_behind_100_not_filled_by_60_then_filled_by_50() -> None:
    e = engine()
    book(e, T0, (480, 100.0), (500, 50.0))
    o = e.submit(T0, UP, 480, 10.0)
    assert o.status == Status.PENDING
    frame(e, T0 + 40 * MS)  # still within the 50 ms post latency
    assert o.status == Status.PENDING
    frame(e, T0 + 60 * MS)
    assert o.status == Status.OPEN and o.ahead == 100.0
    frame(e, T0 + 100 * MS, (Kind.TRADE, UP, ASK, 480, 60.0), (Kind.LEVEL, UP, BID, 480, 40.0))
    assert o.filled == 0.0 and o.ahead == pytest.approx(40.0)
    frame(e, T0 + 200 * MS, (Kind.TRADE, UP, ASK, 480, 50.0))
    assert o.status == Status.FILLED and o.filled == 10.0
    acct = e.account
    assert acct.pos[UP] == 10.0 and acct.cash == pytest.approx(10000 - 4.8)
    assert acct.fees == 0.0  # makers pay no fee


def test_cancel_in_flight_can_still_fill() -> None:
    e = engine(cancel_req_latency_ms=50.0, cancel_clear_latency_ms=50.0)
    book(e, T0, (470, 100.0), (500, 50.0))
    o = e.submit(T0, UP, 480, 10.0)  # improves the bid: nothing ahead
    frame(e, T0 + 60 * MS)
    assert o.status == Status.OPEN and o.ahead == 0.0
    e.cancel(T0 + 60 * MS, o)
    frame(e, T0 + 130 * MS, (Kind.TRADE, UP, ASK, 480, 4.0))  # after the ack, before clear
    assert o.filled == 4.0 and o.status == Status.OPEN
    frame(e, T0 + 300 * MS)
    assert o.status == Status.CANCELLED
    assert e.account.reserved == 0.0
    assert e.account.cash == pytest.approx(10000 - 4 * 0.48)


def test_cancel_clears_after_both_latencies() -> None:
    e = engine(cancel_req_latency_ms=30.0, cancel_clear_latency_ms=20.0)
    book(e, T0, (470, 100.0), (500, 50.0))
    o = e.submit(T0, UP, 480, 10.0)
    frame(e, T0 + 60 * MS)
    e.cancel(T0 + 60 * MS, o)
    frame(e, T0 + 100 * MS)
    assert o.status == Status.OPEN
    frame(e, T0 + 110 * MS)
    assert o.status == Status.CANCELLED and e.account.cash == 10000.0


def test_cancelled_size_shrinks_queue_pro_rata_and_additions_go_behind() -> None:
    e = engine(queue_add_ahead_frac=0.5)
    book(e, T0, (480, 100.0), (500, 50.0))
    o = e.submit(T0, UP, 480, 10.0)
    frame(e, T0 + 60 * MS)
    frame(e, T0 + 70 * MS, (Kind.LEVEL, UP, BID, 480, 50.0))  # half leaves, no trade
    assert o.ahead == pytest.approx(50.0)
    frame(e, T0 + 80 * MS, (Kind.LEVEL, UP, BID, 480, 70.0))  # 20 added: 10 go ahead
    assert o.ahead == pytest.approx(60.0)


def test_trade_through_and_book_through_fill_resting_order() -> None:
    e = engine()
    book(e, T0, (480, 100.0), (500, 50.0))
    o = e.submit(T0, UP, 480, 10.0)
    frame(e, T0 + 60 * MS)
    frame(e, T0 + 70 * MS, (Kind.TRADE, UP, ASK, 470, 1.0))  # printed below our bid
    assert o.status == Status.FILLED and e.account.pos[UP] == 10.0
    o2 = e.submit(T0 + 70 * MS, UP, 480, 10.0)
    frame(e, T0 + 150 * MS)
    frame(e, T0 + 160 * MS, (Kind.LEVEL, UP, ASK, 480, 5.0))  # the ask came down to us
    assert o2.status == Status.FILLED


def test_marketable_order_takes_levels_and_pays_taker_fee() -> None:
    e = engine(fee=0.07)
    frame(
        e,
        T0,
        (Kind.BOOK_RESET, UP, NO_SIDE, -1, 0.0),
        (Kind.LEVEL, UP, BID, 480, 100.0),
        (Kind.LEVEL, UP, ASK, 500, 6.0),
        (Kind.LEVEL, UP, ASK, 510, 100.0),
    )
    o = e.submit(T0, UP, 510, 10.0)
    frame(e, T0 + 60 * MS)
    assert o.status == Status.FILLED
    fee = taker_fee_usdc(6.0, 0.5, e.market.fee_schedule) + taker_fee_usdc(
        4.0, 0.51, e.market.fee_schedule
    )
    assert fee == pytest.approx(round(6 * 0.07 * 0.25, 5) + round(4 * 0.07 * 0.51 * 0.49, 5))
    assert e.account.fees == pytest.approx(fee)
    assert e.account.cash == pytest.approx(10000 - 6 * 0.5 - 4 * 0.51 - fee)


def test_fee_rounding_and_minimum() -> None:
    s = FeeSchedule(rate=0.07)
    assert taker_fee_usdc(100, 0.5, s) == 1.75
    assert taker_fee_usdc(0.0001, 0.5, s) == 0.00001
    assert taker_fee_usdc(100, 0.5, None) == 0.0


@pytest.mark.parametrize(
    ("token", "price", "size", "reason"),
    [
        (UP, 480, 4.0, "min_size"),
        (UP, 485, 10.0, "tick_size"),
        (UP, 0, 10.0, "price_bounds"),
        (DOWN, 1000, 10.0, "price_bounds"),
        (UP, 500, 30000.0, "cash"),
        (UP, 500, 1.9, "min_size"),
    ],
)
def test_rejections_name_their_reason(token: int, price: int, size: float, reason: str) -> None:
    e = engine()
    book(e, T0, (480, 100.0), (500, 50.0))
    o = e.submit(T0, token, price, size)
    assert o.status == Status.REJECTED and o.reason == reason
    assert e.rejections[reason] == 1 and e.account.cash == 10000.0


def test_tick_switch_to_0_001_allows_finer_prices() -> None:
    e = engine()
    book(e, T0, (480, 100.0), (500, 50.0))
    assert e.submit(T0, UP, 485, 10.0).reason == "tick_size"
    frame(e, T0 + MS, (Kind.TICK_SIZE, UP, NO_SIDE, 1, 0.0))
    assert e.submit(T0 + MS, UP, 485, 10.0).status == Status.PENDING
    assert e.submit(T0 + MS, UP, 999, 5.0).status == Status.PENDING
    assert e.submit(T0 + MS, UP, 1000, 5.0).reason == "price_bounds"


def test_settlement_pays_winning_shares() -> None:
    e = engine()
    book(e, T0, (480, 100.0), (500, 50.0))
    e.submit(T0, UP, 500, 10.0)  # marketable: 10 Up at 0.50
    frame(e, T0 + 60 * MS)
    assert e.account.pos[UP] == 10.0
    e.submit(T0 + 60 * MS, UP, 300, 10.0)  # left resting, expires at the end
    e.close(T0 + 900 * 10**9, winner=UP)
    assert e.account.cash == pytest.approx(10000 - 5.0 + 10.0)
    assert e.account.reserved == 0.0 and e.account.pos == [0.0, 0.0]


def test_snapshot_does_not_look_like_cancels() -> None:
    e = engine()
    book(e, T0, (480, 100.0), (500, 50.0))
    o = e.submit(T0, UP, 480, 10.0)
    frame(e, T0 + 60 * MS)
    book(e, T0 + 70 * MS, (480, 100.0), (500, 50.0))  # the same book re-sent
    assert o.ahead == 100.0


def test_maker_flow_depends_on_time_and_seed_only() -> None:
    def run(step_ms: int, seed: int) -> float:
        e = engine(maker_flow=True, flow_base=20.0, flow_depth_scale=0.5, seed=seed)
        book(e, T0, (480, 10.0), (500, 50.0))
        e.submit(T0, UP, 480, 1000.0)
        t = T0
        while t < T0 + 30_000 * MS:
            t += step_ms * MS
            frame(e, t)
        return e.account.pos[UP]

    assert run(100, 1) == run(7, 1) > 0
    assert run(100, 1) != run(100, 2)


def test_gap_makes_books_stale_until_the_next_snapshot() -> None:
    e = engine()
    book(e, T0, (480, 100.0), (500, 50.0))
    frame(e, T0 + MS, (Kind.GAP, -1, NO_SIDE, -1, 0.0))
    assert e.tracker.best(UP, BID) == -1 and e.tracker.best(UP, ASK) == -1
    o = e.submit(T0 + MS, UP, 500, 10.0)  # would be marketable, but the book is stale
    frame(e, T0 + 60 * MS)
    assert o.status == Status.OPEN and o.filled == 0.0
    book(e, T0 + 70 * MS, (480, 100.0), (510, 50.0))
    assert e.tracker.best(UP, ASK) == 510


def test_taker_buy_on_one_token_hits_the_other_tokens_bids() -> None:
    e = engine()
    frame(
        e,
        T0,
        (Kind.BOOK_RESET, DOWN, NO_SIDE, -1, 0.0),
        (Kind.LEVEL, DOWN, BID, 490, 0.0),
        (Kind.LEVEL, DOWN, ASK, 520, 50.0),
    )
    o = e.submit(T0, DOWN, 490, 10.0)
    frame(e, T0 + 60 * MS)
    assert o.status == Status.OPEN and o.ahead == 0.0
    frame(e, T0 + 70 * MS, (Kind.TRADE, UP, ASK, 510, 30.0))  # a sell of Up: not our side
    assert o.filled == 0.0
    frame(e, T0 + 80 * MS, (Kind.TRADE, UP, BID, 510, 4.0))  # a buy of Up at 0.51
    assert o.filled == 4.0
    frame(e, T0 + 90 * MS, (Kind.TRADE, UP, BID, 530, 1.0))  # Up bought above: through us
    assert o.status == Status.FILLED


def test_marketable_orders_must_be_worth_a_dollar() -> None:
    e = engine()
    book(e, T0, (100, 100.0), (150, 50.0))
    assert e.submit(T0, UP, 150, 5.0).reason == "min_notional"  # 5 x 0.15 < $1
    assert e.submit(T0, UP, 140, 5.0).status == Status.PENDING  # resting: allowed
    assert e.submit(T0, UP, 200, 5.0).status == Status.PENDING  # 5 x 0.20 = $1


def test_maker_fill_earns_a_rebate_estimate_kept_out_of_cash() -> None:
    # PROTOCOL.md: makers share rebateRate of the taker fees, pro rata of their filled
    # liquidity: 100 shares at 0.50 under rate 0.07 carry a taker fee of
    # 100 * 0.07 * 0.25 = 1.75 USDC, so the maker's estimate is 0.2 * 1.75 = 0.35.
    spec = market(fee=0.07, rebate=0.2)
    e = PaperEngine(spec, ENGINE_PARAMS.resolve({}, "test"))
    book(e, T0, (490, 100.0), (520, 500.0))
    maker = e.submit(T0, UP, 500, 100.0)  # improves the bid: first in its queue
    frame(e, T0 + 60 * MS, (Kind.TRADE, UP, ASK, 500, 100.0))
    assert maker.status == Status.FILLED
    acct = e.account
    assert acct.fees == 0.0
    assert acct.rebates == pytest.approx(0.35)
    assert acct.maker_volume == pytest.approx(50.0)
    assert acct.cash == pytest.approx(10000 - 50.0)  # paid the next day: not in cash
    taker = e.submit(T0 + 100 * MS, UP, 520, 10.0)  # crosses the 0.52 ask
    frame(e, T0 + 200 * MS)
    assert taker.status == Status.FILLED
    assert acct.fees == pytest.approx(taker_fee_usdc(10.0, 0.52, spec.fee_schedule))
    assert acct.rebates == pytest.approx(0.35)  # takers earn none
    assert acct.maker_volume == pytest.approx(50.0) and acct.volume == pytest.approx(55.2)


@pytest.mark.parametrize("bad", [-500.0, float("nan"), float("inf")])
def test_a_size_that_is_not_a_size_is_ignored(bad: float) -> None:
    e = engine()
    book(e, T0, (480, 100.0), (500, 50.0))
    frame(e, T0 + MS, (Kind.LEVEL, UP, BID, 470, bad), (Kind.LEVEL, UP, BID, 480, bad))
    frame(e, T0 + 2 * MS, (Kind.TRADE, UP, ASK, 480, bad))
    assert e.tracker.best(UP, BID) == 480 and e.tracker.size(UP, BID, 480) == 100.0
    assert e.tracker.size(UP, BID, 470) == 0.0
    frame(e, T0 + 3 * MS, (Kind.BOOK_RESET, UP, NO_SIDE, -1, 0.0), (Kind.LEVEL, UP, BID, 490, bad))
    assert e.tracker.best(UP, BID) == -1  # the snapshot held no real level


def test_a_level_through_the_other_side_removes_the_crossed_levels() -> None:
    e = engine(post_latency_ms=0.0)
    book(e, T0, (480, 100.0), (500, 50.0))
    frame(e, T0 + MS, (Kind.LEVEL, UP, ASK, 510, 20.0))
    o = e.submit(T0 + MS, UP, 480, 10.0)
    frame(e, T0 + 2 * MS)
    assert o.status == Status.OPEN and o.ahead == 100.0
    # the resting remainder of a buy at 0.51 arrives before the removals of what it took
    frame(e, T0 + 3 * MS, (Kind.LEVEL, UP, BID, 510, 5.0))
    assert e.tracker.best(UP, ASK) == -1  # 500 and 510 are gone, as book.py has it
    assert e.tracker.best(UP, BID) == 510
    frame(e, T0 + 4 * MS, (Kind.LEVEL, UP, ASK, 470, 30.0))  # a sell through our bid
    assert e.tracker.best(UP, BID) == -1 and e.tracker.best(UP, ASK) == 470
    assert o.status == Status.FILLED
    assert [f[4] for f in e.fill_log] == ["book_through"]


def test_a_crossed_snapshot_is_kept_as_sent() -> None:
    e = engine()
    frame(
        e,
        T0,
        (Kind.BOOK_RESET, UP, NO_SIDE, -1, 0.0),
        (Kind.LEVEL, UP, BID, 520, 10.0),
        (Kind.LEVEL, UP, ASK, 500, 10.0),
    )
    assert e.tracker.best(UP, BID) == 520 and e.tracker.best(UP, ASK) == 500


def test_the_trade_loop_hears_of_fills_and_cancels_one_response_latency_later() -> None:
    e = engine(post_latency_ms=0.0, response_latency_ms=100.0)
    book(e, T0, (470, 100.0), (500, 50.0))
    known = e.responses
    o = e.submit(T0, UP, 480, 10.0)
    frame(e, T0 + MS)
    frame(e, T0 + 10 * MS, (Kind.TRADE, UP, ASK, 480, 4.0))
    assert o.filled == 4.0 and e.account.pos[UP] == 4.0
    known.receive(T0 + 109 * MS)
    assert known.pos == [0.0, 0.0] and o.seen_filled == 0.0 and o.seen_open
    known.receive(T0 + 110 * MS)
    assert known.pos == [4.0, 0.0] and o.seen_remaining == 6.0
    e.cancel(T0 + 200 * MS, o)
    frame(e, T0 + 400 * MS)
    assert o.status == Status.CANCELLED and o.seen_live  # cleared at 300 ms, heard at 400
    assert e.next_due_ns() == T0 + 400 * MS
    known.receive(T0 + 400 * MS)
    assert not o.seen_live and e.next_due_ns() == 1 << 62


@pytest.mark.parametrize("deplete", [True, False])
def test_takes_use_up_the_asks_until_the_venue_changes_them(deplete: bool) -> None:
    e = engine(post_latency_ms=0.0, take_depletes=deplete)
    frame(
        e,
        T0,
        (Kind.BOOK_RESET, UP, NO_SIDE, -1, 0.0),
        (Kind.LEVEL, UP, BID, 480, 100.0),
        (Kind.LEVEL, UP, ASK, 500, 20.0),
        (Kind.LEVEL, UP, ASK, 510, 10.0),
    )
    a = e.submit(T0, UP, 510, 30.0)
    frame(e, T0 + MS)
    assert a.status == Status.FILLED
    b = e.submit(T0 + MS, UP, 510, 10.0)  # the recorded book still shows those asks
    frame(e, T0 + 2 * MS)
    if not deplete:  # before: the same asks fill a second time
        assert b.status == Status.FILLED
        return
    assert b.status == Status.OPEN and b.filled == 0.0  # nothing left: it rests
    frame(e, T0 + 3 * MS, (Kind.LEVEL, UP, BID, 470, 5.0))  # elsewhere: still used up
    assert b.status == Status.OPEN
    frame(e, T0 + 4 * MS, (Kind.LEVEL, UP, ASK, 500, 25.0))  # the venue's book moves there
    assert b.status == Status.FILLED
    assert [f[4] for f in e.fill_log] == ["taker", "taker", "book_through"]


def test_queue_ahead_frac_puts_a_new_order_behind_part_of_the_displayed_size() -> None:
    e = engine(queue_ahead_frac=0.25)
    book(e, T0, (480, 100.0), (500, 50.0))
    o = e.submit(T0, UP, 480, 10.0)
    frame(e, T0 + 60 * MS)
    assert o.status == Status.OPEN and o.ahead == pytest.approx(25.0)
    # 30 traded at our price: 25 go to the queue ahead, 5 to us
    frame(e, T0 + 100 * MS, (Kind.TRADE, UP, ASK, 480, 30.0), (Kind.LEVEL, UP, BID, 480, 70.0))
    assert o.filled == pytest.approx(5.0) and o.ahead == 0.0


def test_a_trade_through_fills_all_or_only_its_own_size() -> None:
    for volume, want in ((False, [10.0, 10.0]), (True, [10.0, 2.0])):
        e = engine(trade_through_volume=volume)
        book(e, T0, (480, 100.0), (500, 50.0))
        first = e.submit(T0, UP, 480, 10.0)
        second = e.submit(T0, UP, 470, 10.0)
        frame(e, T0 + 60 * MS)
        # 12 shares printed at 460, below both: all of each, or 12 shared in resting order
        frame(e, T0 + 70 * MS, (Kind.TRADE, UP, ASK, 460, 12.0))
        assert [first.filled, second.filled] == want, volume

"""The open-loop replay (`backtest.openloop`): a given order timeline through the paper
engine. Hand-built sessions whose outcomes are computed by hand, and the replay of a
paper backtest's own orders, which must give back that backtest's fills exactly."""

from __future__ import annotations

import pytest
from support.calibration import paper_run

from pk8opt.backtest.openloop import PlannedOrder, replay_orders
from pk8opt.recordings.load import load_sessions
from pk8opt.recordings.schema import ASK, BID, NO_SIDE, UP, Kind
from pk8opt.recordings.synthetic import T0_S, make_session

MS = 1_000_000
T0 = T0_S * 1_000_000_000
LOCAL = {"feed_clock": "local"}  # frames at their receive times: every time here is exact


def _session():
    """Up: bid 480 x 100, ask 500 x 50 at T0; at +200 ms 100 more shares join the bid;
    at +300 ms the ask leaves 500 for 520; at +500 ms 150 shares trade at 480."""
    rows = [
        (T0, 0, int(Kind.BOOK_RESET), UP, NO_SIDE, -1, 0.0),
        (T0, 0, int(Kind.LEVEL), UP, BID, 480, 100.0),
        (T0, 0, int(Kind.LEVEL), UP, ASK, 500, 50.0),
        (T0 + 200 * MS, 1, int(Kind.LEVEL), UP, BID, 480, 200.0),
        (T0 + 300 * MS, 2, int(Kind.LEVEL), UP, ASK, 500, 0.0),
        (T0 + 300 * MS, 2, int(Kind.LEVEL), UP, ASK, 520, 50.0),
        (T0 + 500 * MS, 3, int(Kind.TRADE), UP, ASK, 480, 150.0),
        (T0 + 500 * MS, 3, int(Kind.LEVEL), UP, BID, 480, 50.0),
        (T0 + 900 * MS, 4, int(Kind.LEVEL), UP, BID, 470, 10.0),
    ]
    return make_session(rows)


TAKE = PlannedOrder("take", UP, 500, 10.0, T0 + 100 * MS, cancel_ns=T0 + 800 * MS)
QUEUE = PlannedOrder("queue", UP, 480, 10.0, T0 + 50 * MS)


def _one(order: PlannedOrder, **params):
    res = replay_orders(_session(), [order], {**LOCAL, **params})
    return res.outcomes[0]


def test_a_marketable_order_takes_at_once_with_no_post_latency() -> None:
    got = _one(TAKE, post_latency_ms=0)
    assert got.filled == 10.0
    assert got.first_fill_ns == T0 + 100 * MS  # it reached the book as it was posted
    assert got.liquidity == "taker" and got.marketable
    assert got.cost_usdc == pytest.approx(10 * 0.5)


def test_the_same_order_misses_with_a_large_post_latency() -> None:
    got = _one(TAKE, post_latency_ms=1000)  # cancelled at +800 ms, before it could rest
    assert got.filled == 0.0 and got.first_fill_ns is None
    assert got.ahead_at_open is None and not got.marketable
    assert got.liquidity == ""


def test_arriving_after_the_ask_left_it_rests_and_a_trade_below_fills_it() -> None:
    got = _one(TAKE, post_latency_ms=250)  # rests at +350 ms: the ask is at 520 by then
    assert not got.marketable and got.ahead_at_open == 0.0  # nobody bids 500
    assert got.filled == 10.0 and got.first_fill_ns == T0 + 500 * MS  # the trade at 480
    assert got.liquidity == "maker"


def test_a_cancel_before_it_rests_leaves_nothing_to_fill() -> None:
    early = PlannedOrder("c", UP, 500, 10.0, T0 + 100 * MS, cancel_ns=T0 + 150 * MS)
    got = _one(early, post_latency_ms=100, cancel_req_latency_ms=0, cancel_clear_latency_ms=0)
    assert got.filled == 0.0 and got.ahead_at_open is None


def test_queue_position_decides_a_queue_fill() -> None:
    # behind 100; the 100 that join later go behind it (fraction 0): 150 traded fill it
    behind = _one(QUEUE, post_latency_ms=0, queue_add_ahead_frac=0.0)
    assert behind.filled == 10.0 and behind.first_fill_ns == T0 + 500 * MS
    assert behind.liquidity == "maker" and behind.ahead_at_open == 100.0
    # all of them go ahead of it: 200 ahead, 150 traded, no fill
    ahead = _one(QUEUE, post_latency_ms=0, queue_add_ahead_frac=1.0)
    assert ahead.filled == 0.0


def test_orders_keep_their_order_and_a_rejection_says_why() -> None:
    tiny = PlannedOrder("tiny", UP, 480, 1.0, T0 + 10 * MS)  # under the 5-share minimum
    res = replay_orders(_session(), [QUEUE, tiny, TAKE], {**LOCAL, "post_latency_ms": 0})
    assert [o.order_id for o in res.outcomes] == ["queue", "tiny", "take"]
    assert res.outcomes[1].rejected == "min_size" and res.outcomes[1].filled == 0.0
    assert res.winner == "Up"
    # 20 shares bought for 9.80, 20 paid out at settlement
    assert res.cost_usdc == pytest.approx(9.8)
    assert res.pnl_usdc == pytest.approx(20 - 9.8)


def test_the_same_inputs_give_the_same_outcomes() -> None:
    params = {**LOCAL, "maker_flow": True, "flow_base": 20.0, "post_latency_ms": 30}
    a = replay_orders(_session(), [QUEUE, TAKE], params)
    b = replay_orders(_session(), [QUEUE, TAKE], params)
    assert a == b


@pytest.mark.parametrize(
    ("strategy", "params"),
    [
        ("balanced_arb", {}),
        ("join", {"token": "both", "feed_clock": "local", "queue_add_ahead_frac": 0.5}),
        ("balanced_arb", {"maker_flow": True, "post_latency_ms": 300, "response_latency_ms": 120}),
    ],
)
def test_a_paper_runs_own_orders_give_back_its_fills(sample_dir, strategy, params) -> None:
    """The decisions of a closed-loop backtest, replayed open loop under the same
    parameters, meet the same book at the same times: every order fills as it did."""
    session = load_sessions([sample_dir / "btc-updown-15m-1791986400"])[0]
    plans, filled = paper_run(session, strategy, params)
    assert len(plans) > 100 and filled
    engine = {k: v for k, v in params.items() if k not in ("token",)}
    res = replay_orders(session, plans, engine)
    got = {o.order_id: o.filled for o in res.outcomes if o.filled > 0}
    assert got == pytest.approx(filled)

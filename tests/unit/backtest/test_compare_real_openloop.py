"""`pk8opt compare --open-loop` below the CLI: the run's own orders replayed through the
paper engine (`compare_real.open_loop_fills`), on a hand-built session whose outcomes
are known (the same book as tests/unit/backtest/test_openloop.py), against a venue
that filled them as the engine does under hidden parameters (tests/support/calibration.py)."""

from __future__ import annotations

from typing import Any

import pytest
from support.calibration import real_events

from pk8opt.backtest.compare import LiveWindow
from pk8opt.backtest.compare_real import (
    PAPER_SIDES,
    compare_real,
    open_loop_fills,
    open_loop_params,
)
from pk8opt.backtest.openloop import PlannedOrder, replay_orders
from pk8opt.engine.config import ENGINE_PARAMS
from pk8opt.recordings.schema import ASK, BID, NO_SIDE, UP, Kind
from pk8opt.recordings.synthetic import T0_S, make_session
from pk8opt.trading.run_config import RunConfig

MS = 1_000_000
T0 = T0_S * 1_000_000_000
# frames at their receive times, orders on the book as posted: every time here is exact
HIDDEN = {"feed_clock": "local", "post_latency_ms": 0.0, "response_latency_ms": 120.0}


def _session() -> Any:
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


# takes the ask at +100 ms when it gets there at once; rests and fills at +500 ms when
# it gets there after the ask left (+300 ms)
TAKE = PlannedOrder("take", UP, 500, 10.0, T0 + 100 * MS, cancel_ns=T0 + 800 * MS)
QUEUE = PlannedOrder("queue", UP, 480, 10.0, T0 + 150 * MS)  # behind 100 at 480
TINY = PlannedOrder("tiny", UP, 480, 1.0, T0 + 160 * MS)  # under the 5-share minimum


def _window(session: Any, hidden: dict[str, Any], env: dict[str, str] | None) -> LiveWindow:
    """The log's window of a run whose venue filled TAKE and QUEUE as the engine does
    under `hidden`, each fill heard a response latency after it happened."""
    lines = real_events(session, [TAKE, QUEUE], hidden)
    return LiveWindow(session.slug, env, real=True, real_events=lines)


def test_fills_are_timed_when_the_run_would_hear_of_them_and_name_the_planned_order() -> None:
    session = _session()
    fills, result = open_loop_fills(session, [TAKE, QUEUE, TINY], HIDDEN)
    take = result.outcomes[0]
    assert take.first_fill_ns == T0 + 100 * MS and take.liquidity == "taker"
    assert [o.rejected for o in result.outcomes] == ["", "", "min_size"]
    by_order = {f.order_id: f for f in fills}
    assert set(by_order) == {"take", "queue"}  # engine ids mapped to the run's ids
    f = by_order["take"]
    assert f.ts_ns == T0 + 100 * MS + 120 * MS  # the engine's time + the response latency
    assert (f.outcome, f.side, f.price_milli, f.qty, f.liquidity) == (
        "Up",
        "BUY",
        500,
        10.0,
        "taker",
    )
    assert f.cost == pytest.approx(take.cost_usdc)
    q = by_order["queue"]
    assert q.ts_ns == result.outcomes[1].first_fill_ns + 120 * MS
    assert q.liquidity == "maker"


def test_a_venue_that_fills_as_the_engine_matches_every_fill_exactly() -> None:
    session = _session()
    env = ENGINE_PARAMS.to_env(ENGINE_PARAMS.resolve(HIDDEN, "test"))  # the run logged them
    win = _window(session, HIDDEN, env)
    report = compare_real([session], {session.slug: win}, orders={session.slug: [TAKE, QUEUE]})
    assert (report.paper_side, report.settings) == ("open", ["run"])
    (w,) = report.windows
    m = w.matching
    assert len(m.matched) == 2 and m.real_only == [] and m.paper_only == []
    assert all(r.ts_ns == p.ts_ns and r.qty == p.qty for r, p in m.matched)
    assert [(r.order_id, p.order_id) for r, p in m.matched] == [
        ("take", "take"),
        ("queue", "queue"),
    ]
    assert w.orders == {
        "real": {"submitted": 2, "rejected": 0},
        "paper": {"submitted": 2, "rejected": 0},
    }
    assert (w.diff.cost, w.diff.pnl) == (0.0, 0.0)
    side = report.to_dict()["paper_side"]
    assert side["loop"] == "open" and side["what"] == PAPER_SIDES["open"]
    assert "response latency" in side["fill_time"]


def test_a_venue_with_another_post_latency_shows_the_differences() -> None:
    session = _session()
    slow = {**HIDDEN, "post_latency_ms": 250.0}  # TAKE reaches the book after the ask left
    win = _window(session, slow, ENGINE_PARAMS.to_env(ENGINE_PARAMS.resolve(HIDDEN, "test")))
    orders = {session.slug: [TAKE, QUEUE]}
    report = compare_real([session], {session.slug: win}, orders=orders)
    m = report.windows[0].matching
    ((real, paper),) = m.matched  # same token and price, 0.4 s apart: still a match
    assert (real.order_id, real.liquidity, paper.liquidity) == ("take", "maker", "taker")
    assert real.ts_ns - paper.ts_ns == 400 * MS
    # QUEUE rested at +400 ms behind the 200 shares bid by then: the trade left it unfilled
    assert m.real_only == [] and [f.order_id for f in m.paper_only] == ["queue"]
    tight = compare_real([session], {session.slug: win}, match_window_s=0.1, orders=orders)
    m = tight.windows[0].matching
    assert m.matched == [] and [f.order_id for f in m.real_only] == ["take"]
    assert [f.order_id for f in m.paper_only] == ["take", "queue"]


def test_without_logged_settings_the_engine_defaults_replay_the_orders() -> None:
    session = _session()
    win = _window(session, {}, None)  # the venue as the engine with its defaults
    report = compare_real([session], {session.slug: win}, orders={session.slug: [TAKE, QUEUE]})
    assert report.settings == ["defaults"]
    m = report.windows[0].matching
    assert m.matched and m.real_only == [] and m.paper_only == []
    assert report.to_dict()["paper_side"]["settings"] == [
        "the engine's defaults (the log names no settings)"
    ]


def test_orders_sent_before_the_windows_run_began_are_left_out() -> None:
    """A window discovered again by a later run keeps that run's lines only: an order
    decided before the first order it logged belongs to an earlier run."""
    session = _session()
    win = _window(session, HIDDEN, None)
    earlier = PlannedOrder("earlier", UP, 500, 10.0, T0 + 50 * MS)
    report = compare_real([session], {session.slug: win}, orders={session.slug: [earlier, TAKE]})
    (w,) = report.windows
    assert w.orders["paper"] == {"submitted": 1, "rejected": 0}
    assert all(
        p.order_id == "take" for p in w.matching.paper_only + [p for _, p in w.matching.matched]
    )


def test_the_engine_settings_come_from_the_run_else_the_given_ones_else_the_defaults() -> None:
    env = {"PM_PAPER_RESPONSE_LATENCY_MS": "77", "PM_PAPER_POST_LATENCY_MS": "310"}
    win = LiveWindow("w", env, real=True)
    params, source = open_loop_params(win)
    assert source == "run" and (params["response_latency_ms"], params["post_latency_ms"]) == (
        77.0,
        310.0,
    )
    # the same values a closed-loop replay of that run takes (its RunConfig's)
    closed = RunConfig.resolve("fixed", {"response_latency_ms": 77.0, "post_latency_ms": 310.0})
    assert params == closed.engine_params
    given, source = open_loop_params(win, RunConfig.resolve("fixed", {"post_latency_ms": 5.0}))
    assert source == "given" and given["post_latency_ms"] == 5.0
    defaults, source = open_loop_params(LiveWindow("w", None, real=True))
    assert source == "defaults" and defaults == ENGINE_PARAMS.defaults()


def test_replaying_the_same_orders_twice_gives_the_same_fills() -> None:
    a = open_loop_fills(_session(), [TAKE, QUEUE], {**HIDDEN, "maker_flow": True})
    b = open_loop_fills(_session(), [TAKE, QUEUE], {**HIDDEN, "maker_flow": True})
    assert a == b
    assert a[1] == replay_orders(_session(), [TAKE, QUEUE], {**HIDDEN, "maker_flow": True})

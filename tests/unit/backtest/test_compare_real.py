"""The fill matching and the figures of `pk8opt compare` on a real run, on hand-made fills."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pk8opt.backtest.compare import read_live_log
from pk8opt.backtest.compare_real import (
    Fill,
    compare_window,
    figures,
    fill_from_event,
    match_fills,
    real_fills,
)

S = 1_000_000_000
T0 = 1_791_986_400 * S
W = 5 * S  # the default window


def fill(t_s: float, outcome: str = "Up", price: float = 0.5, qty: float = 10.0, **kw: Any) -> Fill:
    return Fill(T0 + round(t_s * S), outcome, round(price * 1000), qty, **kw)


def pairs(m: Any) -> list[tuple[int, int]]:
    return [(r.ts_ns - T0, p.ts_ns - T0) for r, p in m.matched]


def test_same_fill_on_both_sides_is_matched() -> None:
    real = [fill(1.0), fill(2.0, "Down", 0.47)]
    paper = [fill(1.2), fill(2.0, "Down", 0.47)]
    m = match_fills(real, paper, W)
    assert pairs(m) == [(1 * S, 1_200_000_000), (2 * S, 2 * S)]
    assert (m.real_only, m.paper_only) == ([], [])


def test_other_token_or_price_is_not_a_match() -> None:
    real = [fill(1.0, "Up", 0.5), fill(3.0, "Down", 0.41)]
    paper = [fill(1.0, "Down", 0.5), fill(3.0, "Down", 0.42)]
    m = match_fills(real, paper, W)
    assert m.matched == []
    assert m.real_only == real and m.paper_only == paper


def test_real_only_and_paper_only() -> None:
    real = [fill(1.0), fill(50.0, price=0.3)]
    paper = [fill(1.5), fill(80.0, "Down", 0.6)]
    m = match_fills(real, paper, W)
    assert pairs(m) == [(1 * S, 1_500_000_000)]
    assert [f.ts_ns - T0 for f in m.real_only] == [50 * S]
    assert [f.ts_ns - T0 for f in m.paper_only] == [80 * S]


def test_the_window_bound_is_inclusive_on_both_sides() -> None:
    real = [fill(10.0), fill(100.0)]
    edge = [fill(15.0), fill(95.0)]  # exactly 5 s after, and before
    assert len(match_fills(real, edge, W).matched) == 2
    past = [Fill(T0 + 15 * S + 1, "Up", 500, 10.0), Fill(T0 + 95 * S - 1, "Up", 500, 10.0)]
    m = match_fills(real, past, W)
    assert m.matched == [] and len(m.real_only) == 2 and len(m.paper_only) == 2
    assert len(match_fills(real, past, W + 1).matched) == 2  # --match-window widens it


def test_each_fill_is_used_once_greedy_in_time_order() -> None:
    # three real fills at one price, two paper ones: the first two real fills take them
    real = [fill(3.0), fill(1.0), fill(2.0)]
    paper = [fill(2.5), fill(1.5)]
    m = match_fills(real, paper, W)
    assert pairs(m) == [(1 * S, 1_500_000_000), (2 * S, 2_500_000_000)]
    assert [f.ts_ns - T0 for f in m.real_only] == [3 * S]
    # one real fill, two paper ones that qualify: the earliest is taken, the other is left
    m = match_fills([fill(4.0)], [fill(6.0), fill(3.0)], W)
    assert pairs(m) == [(4 * S, 3 * S)]
    assert [f.ts_ns - T0 for f in m.paper_only] == [6 * S]


def test_quantities_may_differ_in_a_match() -> None:
    m = match_fills([fill(1.0, qty=7.5)], [fill(1.0, qty=10.0)], W)
    ((r, p),) = m.matched
    assert r.qty - p.qty == -2.5


def test_fill_lines_accept_both_spellings() -> None:
    real = fill_from_event(
        {
            "event": "real_fill",
            "ts_ns": T0,
            "outcome": "Down",
            "side": "BUY",
            "price": 0.47,
            "size": 12.0,
            "fee": 0.1,
            "maker": True,
            "trade_id": "t1",
            "venue_order_id": "0xa",
            "order_id": 3,
        }
    )
    paper = fill_from_event(
        {"event": "paper_fill", "ts_ns": T0, "outcome": "Down", "side": "BUY", "price": 0.47}
        | {"qty": 12.0, "fee": 0.1, "liquidity": "taker", "order_id": 3, "why": "taker"}
    )
    assert (real.price_milli, real.qty, real.liquidity, real.trade_id) == (470, 12.0, "maker", "t1")
    assert (paper.price_milli, paper.qty, paper.liquidity, paper.why) == (
        470,
        12.0,
        "taker",
        "taker",
    )
    assert fill_from_event({"maker": False, "price": 0.5, "qty": 1}).liquidity == "taker"


def _real(
    t_s: float, trade: str, vid: str = "0xa", price: float = 0.5, qty: float = 10.0, **kw: Any
) -> dict[str, Any]:
    return {
        "event": "real_fill",
        "ts_ns": T0 + round(t_s * S),
        "outcome": kw.pop("outcome", "Up"),
        "side": "BUY",
        "price": price,
        "size": qty,
        "fee": kw.pop("fee", 0.0),
        "maker": True,
        "trade_id": trade,
        "venue_order_id": vid,
        "order_id": kw.pop("order_id", 1),
    }


def _failed(trade: str, vid: str | None = "0xa", **kw: Any) -> dict[str, Any]:
    return {
        "event": "real_trade_failed",
        "ts_ns": T0 + 9 * S,
        "trade_id": trade,
        "venue_order_id": vid,
        **kw,
    }


def test_a_failed_trade_is_taken_back() -> None:
    events = [
        _real(1.0, "t1"),
        _real(2.0, "t2"),
        _real(2.0, "t2", vid="0xb", order_id=2),  # the other leg of the same trade, ours too
        _failed("t2", "0xa"),
        _failed("t9"),  # a failure of a trade never counted takes nothing back
    ]
    counted, failed = real_fills(events)
    assert [(f.trade_id, f.venue_order_id) for f in counted] == [("t1", "0xa"), ("t2", "0xb")]
    assert [(f.trade_id, f.venue_order_id) for f in failed] == [("t2", "0xa")]
    # without a venue order id, the local order id tells the legs apart
    counted, failed = real_fills(
        [
            _real(1.0, "t1", order_id=1),
            _real(1.0, "t1", vid="0xb", order_id=2),
            _failed("t1", None, order_id=2),
        ]
    )
    assert [f.order_id for f in counted] == [1] and [f.order_id for f in failed] == [2]


def test_a_failed_trade_is_not_matched_nor_counted() -> None:
    real = [_real(1.0, "t1"), _real(1.0, "t2"), _failed("t2")]
    paper = [{"event": "paper_fill", "ts_ns": T0 + S, "outcome": "Up", "price": 0.5, "qty": 10.0}]
    win = compare_window("w", real, paper, "Up", W)
    assert len(win.matching.matched) == 1 and win.matching.real_only == []
    assert len(win.failed) == 1
    assert (win.real.fills, win.real.up_qty, win.real.cost) == (1, 10.0, 5.0)


def test_pnl_of_a_resolved_window_by_hand() -> None:
    real = [
        _real(1.0, "t1", price=0.40, qty=10.0, fee=0.12, outcome="Up"),
        _real(2.0, "t2", price=0.55, qty=5.0, fee=0.0, outcome="Down"),
        _real(3.0, "t3", price=0.45, qty=4.0, fee=0.0, outcome="Up"),
        _failed("t3"),
    ]
    paper = [
        {
            "event": "paper_fill",
            "ts_ns": T0 + S,
            "outcome": "Up",
            "price": 0.40,
            "qty": 8.0,
            "fee": 0.1,
        },
        {
            "event": "paper_fill",
            "ts_ns": T0 + 4 * S,
            "outcome": "Down",
            "price": 0.56,
            "qty": 5.0,
            "fee": 0.0,
        },
    ]
    win = compare_window("w", real, paper, "Up", W)
    # real: cost 10 x 0.40 + 0.12 + 5 x 0.55 = 6.87; payout 10 Up shares = 10; P&L 3.13
    assert win.real.cost == pytest.approx(6.87)
    assert (win.real.payout, win.real.pnl) == (10.0, pytest.approx(3.13))
    # paper: cost 8 x 0.40 + 0.1 + 5 x 0.56 = 6.10; payout 8; P&L 1.90
    assert win.paper.cost == pytest.approx(6.10)
    assert (win.paper.payout, win.paper.pnl) == (8.0, pytest.approx(1.90))
    assert win.diff.pnl == pytest.approx(1.23)
    assert len(win.matching.matched) == 1  # Up 0.40; Down at 0.55 and 0.56 differ in price
    assert len(win.matching.real_only) == 1 and len(win.matching.paper_only) == 1
    doc = win.to_dict()
    assert doc["diff"]["pnl"] == 1.23 and doc["matched"][0]["qty_diff"] == 2.0


def test_an_unresolved_window_compares_cost_and_positions_only() -> None:
    win = compare_window("w", [_real(1.0, "t1", price=0.4)], [], None, W)
    assert (win.real.payout, win.real.pnl, win.diff.pnl) == (None, None, None)
    assert (win.real.cost, win.real.up_qty, win.diff.cost) == (4.0, 10.0, 4.0)
    assert figures([], None).pnl is None


def test_live_log_marks_the_windows_of_a_real_run(tmp_path: Path) -> None:
    lines = [
        {"event": "live_started", "ts_ns": 1, "slug": "", "config": {"PM_STRATEGY": "noop"}},
        {"event": "market_discovered", "ts_ns": 2, "slug": "a", "traded": True},
        {"event": "paper_order_submit", "ts_ns": 3, "slug": "a"},
        {"event": "live_started", "ts_ns": 4, "slug": "", "config": {"PM_STRATEGY": "noop"}},
        {"event": "real_start", "ts_ns": 5, "slug": "", "dry_run": True},
        {"event": "market_discovered", "ts_ns": 6, "slug": "b", "traded": True},
        {"event": "real_order_submit", "ts_ns": 7, "slug": "b", "order_id": 1},
        {"event": "market_discovered", "ts_ns": 8, "slug": "c", "traded": False},
        {"event": "market_resolved", "ts_ns": 9, "slug": "b", "winner": "Down"},
    ]
    (tmp_path / "live_console_events.jsonl").write_text(
        "".join(json.dumps(x) + "\n" for x in lines)
    )
    windows = read_live_log(tmp_path)
    assert sorted(windows) == ["a", "b", "c"]  # the broker's own lines name no window
    assert [windows[s].real for s in "abc"] == [False, True, True]
    assert [e["event"] for e in windows["b"].real_events] == ["real_order_submit"]
    assert windows["a"].events and not windows["b"].events
    assert windows["b"].winner == "Down"

"""The calibration's score (`calibrate.score`), by hand, and through an evaluation of a
tiny hand-built session: each order's fill term and time term, the mean per order."""

from __future__ import annotations

import pytest

from pk8opt.backtest.openloop import PlannedOrder
from pk8opt.calibrate.evaluate import Evaluator, Problem, Window
from pk8opt.calibrate.reallog import RealOrder, RealWindow
from pk8opt.calibrate.score import ScoreRule, WindowScore, order_loss, score
from pk8opt.engine.config import ENGINE_PARAMS
from pk8opt.errors import ConfigError
from pk8opt.recordings.schema import ASK, BID, NO_SIDE, UP, Kind
from pk8opt.recordings.synthetic import T0_S, make_session

MS = 1_000_000
S = 1_000_000_000
T0 = T0_S * S


@pytest.mark.parametrize(
    ("real", "paper", "real_ttf", "paper_ttf", "expected"),
    [
        (1.0, 1.0, S // 2, 7 * S // 10, (0.0, 0.1)),  # both filled, 0.2 s apart, cap 2 s
        (0.5, 0.0, S, None, (0.25, 1.0)),  # the venue filled half; the engine nothing
        (0.0, 0.0, None, None, (0.0, 0.0)),  # neither
        (1.0, 1.0, S, 9 * S, (0.0, 1.0)),  # 8 s apart: capped
        (0.0, 0.4, None, S, (0.16, 1.0)),  # the engine filled 40%, the venue nothing
    ],
)
def test_each_orders_terms(real, paper, real_ttf, paper_ttf, expected) -> None:
    got = order_loss(real, paper, real_ttf, paper_ttf, ScoreRule(time_cap_s=2.0))
    assert got == pytest.approx(expected)


def test_the_score_is_the_mean_loss_per_order_over_windows() -> None:
    rule = ScoreRule(time_cap_s=2.0, time_weight=1.0)
    a, b = WindowScore(), WindowScore()
    a.add(0.0, 0.1, 10.0, 10.0)
    a.add(0.25, 1.0, 5.0, 0.0)
    b.add(0.0, 0.0, 0.0, 0.0)
    assert score([a, b], rule) == pytest.approx((0.0 + 0.1 + 0.25 + 1.0 + 0.0) / 3)
    half = ScoreRule(time_cap_s=2.0, time_weight=0.5)
    assert score([a, b], half) == pytest.approx((0.05 + 0.25 + 0.5) / 3)
    assert (a.real_filled, a.paper_filled, a.both_filled) == (2, 1, 1)


def test_the_rule_refuses_a_weight_that_pays_for_missing_fills() -> None:
    with pytest.raises(ConfigError, match="--time-weight 1.5: must be in"):
        ScoreRule(time_weight=1.5).check()
    with pytest.raises(ConfigError, match="--time-cap 0"):
        ScoreRule(time_cap_s=0).check()


def _problem(real_fill_ns: int | None, real_qty: float) -> Problem:
    """One session: Up bid 480 x 100, ask 500 x 50; the ask leaves at +300 ms. One
    order: buy 10 Up at 500 at +100 ms, as the venue filled it (`real_*`)."""
    rows = [
        (T0, 0, int(Kind.BOOK_RESET), UP, NO_SIDE, -1, 0.0),
        (T0, 0, int(Kind.LEVEL), UP, BID, 480, 100.0),
        (T0, 0, int(Kind.LEVEL), UP, ASK, 500, 50.0),
        (T0 + 300 * MS, 1, int(Kind.LEVEL), UP, ASK, 500, 0.0),
        (T0 + 300 * MS, 1, int(Kind.LEVEL), UP, ASK, 520, 50.0),
    ]
    plan = PlannedOrder("1", UP, 500, 10.0, T0 + 100 * MS, cancel_ns=T0 + 400 * MS)
    real = RealOrder(plan, real_qty, real_fill_ns, "taker", real_qty * 0.5, 0.0)
    session = make_session(rows)
    win = RealWindow(session.slug, [real], None)
    base = ENGINE_PARAMS.resolve({"feed_clock": "local"}, "test")
    return Problem([Window(T0_S, [(session, win)])], base, ScoreRule(time_cap_s=2.0))


def test_an_evaluation_scores_the_engines_fill_against_the_venues() -> None:
    # the venue filled all 10 at +400 ms (heard then): 300 ms after the post
    ev = Evaluator(_problem(T0 + 400 * MS, 10.0))
    # post 100 ms, heard 100 ms later: the engine's time to fill is 200 ms, 100 ms off
    got = ev.evaluate({"post_latency_ms": 100.0, "response_latency_ms": 100.0}, [0])
    assert got.score(ev.problem.rule) == pytest.approx(0.0 + 0.1 / 2.0)
    row = got.rows[0]
    assert (row.real_ttf_s, row.paper_ttf_s) == pytest.approx((0.3, 0.2))
    # post 250 ms: the order arrives after the ask left and never fills: a miss
    miss = ev.evaluate({"post_latency_ms": 250.0, "response_latency_ms": 100.0}, [0])
    assert miss.score(ev.problem.rule) == pytest.approx(1.0 + 1.0)
    assert ev.replays == 2
    ev.evaluate({"post_latency_ms": 100.0, "response_latency_ms": 100.0}, [0])
    assert ev.replays == 2  # known: not replayed again


def test_pnl_of_both_sides_comes_from_their_fills_and_the_winner() -> None:
    ev = Evaluator(_problem(T0 + 400 * MS, 10.0))
    part = ev.evaluate({"post_latency_ms": 0.0}, [0]).parts[0]
    # Up won: 10 shares bought at 0.50 pay 10
    assert part.real_pnl == pytest.approx(5.0) and part.paper_pnl == pytest.approx(5.0)

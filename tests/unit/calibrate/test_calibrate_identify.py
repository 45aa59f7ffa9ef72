"""Which fitted parameters the data identify (`uncertainty.profiles`), the local search
after the trials (`local.compass`), and the bootstrap's intervals, on a tiny session."""

from __future__ import annotations

import pytest

from pk8opt.backtest.openloop import PlannedOrder
from pk8opt.calibrate.evaluate import Evaluator, Problem, Window
from pk8opt.calibrate.fit import Candidate, candidate
from pk8opt.calibrate.local import compass
from pk8opt.calibrate.reallog import RealOrder, RealWindow
from pk8opt.calibrate.score import ScoreRule
from pk8opt.calibrate.space import BY_NAME, choose, parse_ranges, to_engine
from pk8opt.calibrate.uncertainty import intervals, profiles, resamples, rescore
from pk8opt.engine.config import ENGINE_PARAMS
from pk8opt.errors import ConfigError
from pk8opt.recordings.schema import ASK, BID, NO_SIDE, UP, Kind
from pk8opt.recordings.synthetic import T0_S, make_session

MS = 1_000_000
T0 = T0_S * 1_000_000_000


def _evaluator() -> Evaluator:
    """A marketable order (buy 10 Up at 500 at +100 ms) the venue filled 150 ms after
    it was posted; the ask leaves 500 at +300 ms. Nothing ever rests: the queue and the
    maker flow cannot matter, the post latency can."""
    rows = [
        (T0, 0, int(Kind.BOOK_RESET), UP, NO_SIDE, -1, 0.0),
        (T0, 0, int(Kind.LEVEL), UP, BID, 480, 100.0),
        (T0, 0, int(Kind.LEVEL), UP, ASK, 500, 50.0),
        (T0 + 300 * MS, 1, int(Kind.LEVEL), UP, ASK, 500, 0.0),
        (T0 + 300 * MS, 1, int(Kind.LEVEL), UP, ASK, 520, 50.0),
        (T0 + 800 * MS, 2, int(Kind.LEVEL), UP, BID, 470, 5.0),
    ]
    plan = PlannedOrder("1", UP, 500, 10.0, T0 + 100 * MS)
    real = RealOrder(plan, 10.0, T0 + 250 * MS, "taker", 5.0, 0.0)
    session = make_session(rows)
    base = ENGINE_PARAMS.resolve({"feed_clock": "local"}, "test")
    windows = [Window(T0_S, [(session, RealWindow(session.slug, [real], None))])]
    return Evaluator(Problem(windows, base, ScoreRule(time_cap_s=1.0)))


AT = {"post_latency_ms": 50.0, "queue_add_ahead_frac": 0.0, "maker_flow": False, "flow_base": 5.0}


def test_a_parameter_with_no_effect_is_flagged_not_identified() -> None:
    ev = _evaluator()
    params = choose(["post_latency_ms", "queue_add_ahead_frac", "maker_flow", "flow_base"], {})
    profs, cands = profiles(ev, params, AT, [0], points=5, flat=1e-3)
    by = {p.name: p for p in profs}
    assert by["post_latency_ms"].identified  # 0..2000 ms: fills at once, or never
    assert by["post_latency_ms"].spread > 0.5
    for name in ("queue_add_ahead_frac", "maker_flow"):
        assert not by[name].identified and by[name].spread == 0.0
        assert by[name].note.startswith("flat")
    assert not by["flow_base"].identified and by["flow_base"].points == ()
    assert "maker_flow is off" in by["flow_base"].note
    assert len(cands) == 5 + 5 + 2  # every profile point is scored, and kept


def test_the_local_search_finds_the_latency_the_fill_times_say() -> None:
    # the venue filled 150 ms after the post; heard at once: the post latency is 150 ms
    # (from 200 ms on, the order arrives after the ask left: a miss)
    ev = _evaluator()
    params = choose(["post_latency_ms"], {"post_latency_ms": (0.0, 400.0)})
    start = candidate(ev, {"post_latency_ms": 0.0, "response_latency_ms": 0.0}, [0])
    best, seen = compass(ev, params, start, [0], budget=60)
    assert best.values["post_latency_ms"] == pytest.approx(150.0, abs=400 / 256)
    assert best.score(ev.problem.rule) == pytest.approx(0.0, abs=1e-3)
    assert best.score(ev.problem.rule) < start.score(ev.problem.rule)
    assert len(seen) <= 60


def test_bootstrap_draws_take_each_resamples_best_and_give_percentiles() -> None:
    rule = ScoreRule()
    # two windows; a wins on the first, b on the second
    a = Candidate({"post_latency_ms": 100.0}, ((10, 0.0, 0.0), (10, 5.0, 0.0)))
    b = Candidate({"post_latency_ms": 300.0}, ((10, 3.0, 0.0), (10, 1.0, 0.0)))

    class _Ev:
        problem = Problem([], {}, rule)

    draws = rescore([a, b], [[2, 0], [0, 2], [1, 1]], _Ev())  # type: ignore[arg-type]
    assert [d["post_latency_ms"] for d in draws] == [100.0, 300.0, 300.0]
    iv = intervals([BY_NAME["post_latency_ms"]], draws)["post_latency_ms"]
    assert iv.draws == 3 and iv.low == pytest.approx(120.0) and iv.high == pytest.approx(300.0)
    weights = resamples(4, 20, seed=7)
    assert weights == resamples(4, 20, seed=7) and all(sum(w) == 4 for w in weights)


def test_a_cancel_latency_is_fitted_as_one_and_written_as_two_halves() -> None:
    assert to_engine({"cancel_latency_ms": 300.0}) == {
        "cancel_req_latency_ms": 150.0,
        "cancel_clear_latency_ms": 150.0,
    }
    assert BY_NAME["cancel_latency_ms"].env_names == (
        "PM_PAPER_CANCEL_REQ_LATENCY_MS",
        "PM_PAPER_CANCEL_CLEAR_LATENCY_MS",
    )


@pytest.mark.parametrize(
    ("fit", "ranges", "says"),
    [
        (["post_latency"], {}, "--fit post_latency: not a fitted parameter"),
        (None, {"maker_flow": (0.0, 1.0)}, "--range maker_flow=0:1: give LOW:HIGH"),
        (["post_latency_ms"], {"queue_add_ahead_frac": (0.0, 0.5)}, "not fitted (add it"),
        (None, {"post_latency_ms": (500.0, 100.0)}, "give LOW:HIGH with 0 <= LOW < HIGH"),
    ],
)
def test_fit_and_range_mistakes_name_the_option(fit, ranges, says) -> None:
    with pytest.raises(ConfigError, match=says.replace("(", r"\(").replace("+", r"\+")):
        choose(fit, ranges)


def test_ranges_parse_and_refuse_other_shapes() -> None:
    assert parse_ranges(["post_latency_ms=0:1500"]) == {"post_latency_ms": (0.0, 1500.0)}
    with pytest.raises(ConfigError, match="give NAME=LOW:HIGH"):
        parse_ranges(["post_latency_ms=1500"])

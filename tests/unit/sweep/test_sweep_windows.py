"""Windows as the unit of evidence: grouping, per-trial shuffled order, what a trial
reports to its pruner and when."""

from __future__ import annotations

import pytest

from pk8opt.sweep.windows import (
    TrialScore,
    summarize,
    visit_order,
    window_index,
    window_metrics,
    window_order,
)

# 3 windows x 2 symbols, in the selection's (time, slug) order
STARTS = [900, 900, 1800, 1800, 2700, 2700]


def test_sessions_are_grouped_by_window_in_time_order() -> None:
    of, members = window_index([1800, 900, 1800, 900, 2700])
    assert of == [1, 0, 1, 0, 2]
    assert members == [[1, 3], [0, 2], [4]]


def test_the_order_is_shuffled_per_trial_and_reproducible_per_seed() -> None:
    orders = [window_order(40, 7, n) for n in range(6)]
    assert all(sorted(o) == list(range(40)) for o in orders)
    assert len({tuple(o) for o in orders}) == 6  # each trial its own order
    assert orders[3] == window_order(40, 7, 3)  # the same seed and trial: the same order
    assert window_order(40, 8, 3) != orders[3]  # another seed: another order
    assert orders[0] != list(range(40))


def test_a_windows_sessions_are_visited_together() -> None:
    _, members = window_index(STARTS)
    visit = visit_order(members, [2, 0, 1])
    assert visit == [4, 5, 0, 1, 2, 3]


class Result(dict):
    pass


def _score(per_instance: bool, warmup: int = 1, metric: str = "pnl_per_window") -> TrialScore:
    of, members = window_index(STARTS)
    return TrialScore(
        metric, of, members, [2, 0, 1], per_instance=per_instance, warmup_windows=warmup
    )


def test_wilcoxon_gets_each_windows_sum_under_the_windows_index() -> None:
    score = _score(per_instance=True)
    assert score.add(0, {"pnl_usdc": 1.0, "fills": 2}) == []  # window 2 half done
    assert not score.may_prune()  # never before one full window
    assert score.add(1, {"pnl_usdc": 2.0, "fills": 0}) == [(3.0, 2)]
    assert score.may_prune()
    assert score.add(2, {"pnl_usdc": -1.0, "fills": 1}) == []
    assert score.add(3, {"pnl_usdc": 0.5, "fills": 1}) == [(-0.5, 0)]


def test_other_pruners_get_the_running_objective_after_as_many_windows() -> None:
    score = _score(per_instance=False, warmup=2)
    score.add(0, {"pnl_usdc": 1.0})
    assert score.add(1, {"pnl_usdc": 2.0}) == [(3.0, 0)]
    assert not score.may_prune()  # warmup_windows: 2
    score.add(2, {"pnl_usdc": -1.0})
    assert score.add(3, {"pnl_usdc": 0.0}) == [(1.0, 1)]  # mean of 3 and -1
    assert score.may_prune()


def test_a_trial_that_played_every_window_is_never_pruned() -> None:
    """Pruning after the last window saves nothing and throws a full score away: the
    trial is complete (its objective logged), not `pruned early`."""
    for per_instance in (True, False):
        score = _score(per_instance=per_instance)
        for pos in range(4):
            score.add(pos, {"pnl_usdc": -1.0})
        assert score.done == 2 and score.may_prune()  # a window still to play
        score.add(4, {"pnl_usdc": -1.0})
        assert score.add(5, {"pnl_usdc": -1.0})  # the last window is reported ...
        assert score.done == 3 and not score.may_prune()  # ... and the trial completes


def test_a_window_ending_in_a_skipped_session_completes_at_the_next_one() -> None:
    score = _score(per_instance=True)
    score.add(0, {"pnl_usdc": 1.0})  # window 2's second session (position 1) is skipped
    assert score.add(2, {"pnl_usdc": 4.0}) == [(1.0, 2)]
    score.add(3, {"pnl_usdc": 1.0})
    score.add(4, {"pnl_usdc": 1.0})
    score.finish()  # the last session (position 5) skipped: complete after the backtest
    assert [step for _, step in score.reported] == [2, 0, 1]
    assert score.window_pnl() == [5.0, 1.0, 1.0]
    attrs = score.attrs()
    assert attrs["session_pnl"] == [4.0, 1.0, 1.0, None, 1.0, None]
    assert attrs["window_order"] == [2, 0, 1]


def test_window_metrics() -> None:
    values = [3.0, -1.0, 1.0, 5.0]
    assert summarize(values, "pnl_per_window") == 2.0
    assert summarize(values, "median_pnl_per_window") == 2.0
    assert summarize(values, "sharpe_per_window") == pytest.approx(2.0 / 2.5819888974716)
    assert summarize(values, "sortino_per_window") == pytest.approx(2.0 / 0.5)
    m = window_metrics(values, [1, 0, 2, 3])
    assert m["active_windows"] == 3 and m["windows"] == 4 and m["pnl_per_window"] == 2.0

"""The candidate set and the neighbourhoods of the validation stage."""

from __future__ import annotations

import math

import optuna
from optuna.distributions import FloatDistribution, IntDistribution
from support.fake_sweep import ALL

from pk8opt.sweep.config import Dimension
from pk8opt.validation.candidates import in_box, neighbours, rank_trials

SPACE = {
    "edge": Dimension(low=0.01, high=0.11),
    "size": Dimension(low=5, high=50, step=5),
}


def test_neighbours_stay_within_the_radius_are_distinct_and_reproducible() -> None:
    center = {"edge": 0.05, "size": 20}
    points = neighbours(center, SPACE, ALL, 6, 0.1, seed=3)
    assert len(points) == 6
    assert len({tuple(sorted(p.items())) for p in points}) == 6 and center not in points
    for p in points:
        assert abs(p["edge"] - 0.05) <= 0.01 + 1e-12  # 10% of the range
        assert p["size"] in (15, 20, 25)  # one step
        assert in_box(p, center, SPACE, ALL, 0.1)
    assert neighbours(center, SPACE, ALL, 6, 0.1, seed=3) == points
    assert not in_box({"edge": 0.08, "size": 20}, center, SPACE, ALL, 0.1)


def test_neighbours_at_the_edge_of_the_range_stay_inside() -> None:
    points = neighbours({"edge": 0.11, "size": 50}, SPACE, ALL, 4, 0.1, seed=1)
    assert all(0.01 <= p["edge"] <= 0.11 and 5 <= p["size"] <= 50 for p in points)


def test_pruned_trials_rank_by_their_mean_over_the_windows_they_played() -> None:
    members = [[0], [1], [2], [3]]
    study = optuna.create_study(direction="maximize")
    dists = {"edge": FloatDistribution(0, 1), "size": IntDistribution(1, 100)}

    def add(state, value, pnl, order):
        study.add_trial(
            optuna.trial.create_trial(
                params={"edge": 0.1, "size": 10},
                distributions=dists,
                value=value,
                state=state,
                user_attrs={"sessions": {"session_pnl": pnl, "window_order": order}},
            )
        )

    C, P = optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED
    add(C, 1.0, [1.0, 1.0, 1.0, 1.0], [0, 1, 2, 3])
    add(P, None, [None, 3.0, 2.0, None], [1, 2, 0, 3])  # played 2 windows: mean 2.5
    add(P, None, [None, None, None, -5.0], [3, 0, 1, 2])  # played 1 window: -5
    ranked = rank_trials(study, members, "pnl_per_window")
    assert [(t.number, v) for t, v in ranked] == [(1, 2.5), (0, 1.0), (2, -5.0)]
    total = rank_trials(study, members, "pnl_usdc")  # a total: extrapolated to 4 windows
    assert [(t.number, v) for t, v in total] == [(1, 10.0), (0, 1.0), (2, -20.0)]
    assert not math.isnan(total[0][1])


class SpikeEvaluator:
    """A landscape with a tall spike at edge 0.05 (only there) and a broad plateau
    around edge 0.02: the stand-in evaluator's interface, one session per window."""

    def param_sets(self, strategy):
        from support.fake_sweep import ENGINE, STRAT, TRADER

        return STRAT, ENGINE, TRADER

    def load(self, paths):
        return list(paths)

    def run(self, loaded, strategy, overrides, on_session=None):
        edge = float(overrides["edge"])
        if abs(edge - 0.05) < 1e-9:
            pnl = 5.0
        elif abs(edge - 0.02) <= 0.02:
            pnl = 3.0
        else:
            pnl = -2.0
        for i, _ in enumerate(loaded):
            if on_session:
                on_session(i, {"pnl_usdc": pnl, "fills": 1.0})
        return {"pnl_usdc": pnl * len(loaded)}


def test_a_plateau_is_chosen_over_an_isolated_spike() -> None:
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np
    from rich.console import Console

    from pk8opt.sweep.config import parse_config
    from pk8opt.validation.candidates import Row
    from pk8opt.validation.select import Rule
    from pk8opt.validation.stage import _neighbourhoods, _Replays

    doc = {
        "study": "s",
        "strategy": "toy",
        "space": {"edge": {"low": 0.0, "high": 0.1}, "size": {"low": 5, "high": 50, "step": 5}},
        "data": {"paths": ["x"]},
        "validation": {"robust_top": 2, "neighbours": 6, "min_active_windows": 1},
    }
    cfg = parse_config(doc, "t.yaml")
    members = [[0], [1], [2]]
    paths = ["a", "b", "c"]
    spike = Row("0", {"edge": 0.05, "size": 10}, [5.0] * 3, [1.0] * 3, 0)
    plateau = Row("1", {"edge": 0.02, "size": 10}, [3.0] * 3, [1.0] * 3, 1)
    study = optuna.create_study(direction="maximize")  # no trials inside the boxes
    with ThreadPoolExecutor(2) as pool:
        replays = _Replays(pool, cfg, f"{__name__}:SpikeEvaluator", Console(quiet=True))
        hoods = _neighbourhoods(study, cfg, [spike, plateau], [0, 1], members, paths, replays, ALL)
    assert replays.count == 12  # six fresh neighbours each
    assert hoods[0].shape == hoods[1].shape == (6, 3)
    rule = Rule(np.array([spike.pnl, plateau.pnl]), np.array([True, True]), 2, hoods)
    every = np.arange(3)
    assert rule.robustness(1, every) == 3.0  # every neighbour of the plateau earns 3
    assert rule.robustness(0, every) < 0  # the spike's neighbours lose
    assert rule.choose(every) == 1  # the plateau
    # without neighbourhoods the rule falls back to the best mean: the spike
    assert Rule(rule.matrix, rule.eligible, 2).choose(every) == 0

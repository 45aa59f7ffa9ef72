"""The deploy selection rule, the walk-forward that applies it, and the evidence built on
both: hand-computed cases, pure noise and planted skill."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pk8opt.validation import (
    NotEnoughData,
    Rule,
    Thresholds,
    judge,
    pbo_cscv,
    walk_forward,
    walk_forward_folds,
)
from pk8opt.validation.evidence import evidence, resampled
from pk8opt.validation.reasons import Reasons
from pk8opt.validation.verdict import Figures

EVERY = np.arange(4)


def test_tops_are_the_best_eligible_means_ties_to_the_lower_row() -> None:
    m = np.array([[1.0, 1, 1, 1], [3, 3, 3, 3], [3, 3, 3, 3], [9, 9, 9, 9], [2, 2, 2, 2]])
    rule = Rule(m, np.array([True, True, True, False, True]), robust_top=3)
    assert rule.tops(EVERY) == [1, 2, 4]  # row 3 is best but not eligible
    assert rule.choose(EVERY) == 1  # no neighbourhoods: the best mean, the lower row


def test_the_most_robust_top_row_is_chosen_by_hand() -> None:
    # row 0: mean 5, neighbours' means 5, -3, -4, -2 -> lower quartile of
    #   [5, 5, -3, -4, -2] = -3 (numpy's linear quantile at 0.25: sorted[1])
    # row 1: mean 3, neighbours 3, 2, 3, 4 -> lower quartile of [3, 3, 2, 3, 4] = 3
    m = np.array([[5.0] * 4, [3.0] * 4, [0.0] * 4])
    hoods = {
        0: np.array([[5.0] * 4, [-3.0] * 4, [-4.0] * 4, [-2.0] * 4]),
        1: np.array([[3.0] * 4, [2.0] * 4, [3.0] * 4, [4.0] * 4]),
    }
    rule = Rule(m, np.ones(3, dtype=bool), robust_top=2, hoods=hoods)
    assert rule.robustness(0, EVERY) == -3.0 and rule.robustness(1, EVERY) == 3.0
    assert rule.choose(EVERY) == 1
    # an unscored neighbour (NaN) leaves its row unscored: never a better place
    broken = {1: hoods[1].copy(), 0: hoods[0]}
    broken[1][2, 0] = math.nan
    assert math.isnan(Rule(m, np.ones(3, bool), 2, broken).robustness(1, EVERY))
    assert Rule(m, np.ones(3, bool), 2, broken).choose(EVERY) == 0


def test_the_rule_scores_only_the_windows_it_is_given() -> None:
    # row 0 is best on windows 0-1, row 1 on windows 2-3
    m = np.array([[4.0, 4, 0, 0], [1.0, 1, 5, 5]])
    hoods = {0: m[[0]] - 0.5, 1: m[[1]] - 0.5}
    rule = Rule(m, np.array([True, True]), robust_top=2, hoods=hoods)
    assert rule.choose(np.array([0, 1])) == 0 and rule.choose(np.array([2, 3])) == 1


def test_the_rule_refuses_what_it_cannot_do() -> None:
    with pytest.raises(NotEnoughData, match="no trial is eligible"):
        Rule(np.ones((2, 3)), np.array([False, False])).choose(np.arange(3))
    with pytest.raises(NotEnoughData, match="one flag per row"):
        Rule(np.ones((2, 3)), np.array([True]))
    with pytest.raises(NotEnoughData, match="at least one window"):
        Rule(np.ones((2, 3)), np.array([True, True])).choose(np.array([], dtype=int))


def test_walk_forward_applies_the_rule_it_is_given() -> None:
    # 6 windows, one fold: train [0, 1], test [3, 4, 5] (embargo 1 drops window 2).
    # Best mean on the train windows: row 0 (a spike whose neighbours lose); the rule
    # takes row 1 (a plateau), and the out-of-sample record is row 1's.
    m = np.array([[9.0, 9, 0, -5, -5, -5], [4.0, 4, 0, 3, 3, 3], [0.0] * 6])
    folds = walk_forward_folds(6, n_folds=1, embargo=1)
    hoods = {0: np.array([[-2.0] * 6] * 4), 1: np.array([[4.0] * 6] * 4)}
    rule = Rule(m[:2], np.array([True, True]), robust_top=2, hoods=hoods)
    best_mean = walk_forward(m, folds, baselines=(2,))
    by_rule = walk_forward(m, folds, baselines=(2,), choose=rule.choose)
    assert best_mean.chosen == [0] and best_mean.mean == -5.0
    assert by_rule.chosen == [1] and by_rule.mean == 3.0
    assert by_rule.baseline_oos[2].tolist() == [0.0, 0.0, 0.0]


def test_pbo_reports_the_baselines_beside_without_ranking_them() -> None:
    # 2 windows -> 2 blocks, 2 splits: train on window 0 / test 1, then the reverse.
    # Trials: row 0 = [2, 1], row 1 = [1, 2]; beside: defaults [5, 5], not trading [0, 0].
    # Split 1: train-best row 0 (2 > 1), test 1 < 2: rank 1 of 2 -> logit ln(1/2) < 0.
    # Split 2: train-best row 1 (2 > 1 on window 1), test 1 -> logit < 0. PBO 1.
    trials = np.array([[2.0, 1.0], [1.0, 2.0]])
    beside = np.array([[5.0, 5.0], [0.0, 0.0]])
    got = pbo_cscv(trials, blocks=2, beside=beside)
    assert got.pbo == 1.0 and got.n_splits == 2
    assert got.beside_oos.tolist() == [[5.0, 5.0], [0.0, 0.0]]
    assert got.beats(0) == 0.0  # never beat the defaults out of sample
    assert got.beats(1) == 1.0  # always beat not trading (earned 1 > 0)
    assert got.prob_oos_loss == 0.0
    # ranked among the trials, the defaults would have been what beat the choice
    ranked_in = pbo_cscv(np.vstack([trials, beside]), blocks=2)
    assert ranked_in.logits.tolist() != got.logits.tolist()
    assert math.isnan(got.beats(2))


def _market(skill: float, seed: int, rows: int = 30, windows: int = 16) -> tuple[Rule, np.ndarray]:
    """A sweep's matrix: every trial shares the market's window-to-window swings, half
    of the trials sit in a region that earns `skill` per window; each has 4 neighbours
    like itself."""
    rng = np.random.default_rng(seed)
    common = rng.normal(size=windows)

    def rows_like(n: int, mean: float) -> np.ndarray:
        return mean + 0.6 * common + 0.8 * rng.normal(size=(n, windows))

    m = np.vstack([rows_like(rows // 2, skill), rows_like(rows - rows // 2, 0.0)])
    hoods = {i: m[i] + 0.3 * rng.normal(size=(4, windows)) for i in range(rows)}
    beside = np.vstack([rows_like(1, 0.0), np.zeros((1, windows))])
    return Rule(m, np.ones(rows, dtype=bool), 3, hoods), beside


def _passes(rule: Rule, beside: np.ndarray, tried: int = 40) -> bool:
    n = rule.matrix.shape[1]
    why = Reasons()
    ev = evidence(rule, rule.matrix, beside, walk_forward_folds(n), tried, blocks=8, why=why)
    fig = Figures(
        pbo=ev.pbo.pbo,
        prob_oos_loss=ev.pbo.prob_oos_loss,
        dsr=ev.dsr.dsr,
        psr=ev.dsr.psr,
        n_trials=tried,
        oos_pnl_per_window=ev.walk.mean,
        oos_t=ev.walk.t,
        lockbox_pnl_per_window=1.0,
        active_windows=n,
    )
    return judge(fig, Thresholds(), why).passed


def test_evidence_passes_planted_skill_and_refuses_noise() -> None:
    planted = sum(_passes(*_market(1.5, seed)) for seed in range(20))
    noise = sum(_passes(*_market(0.0, 100 + seed)) for seed in range(40))
    assert planted >= 19  # power
    assert noise <= 2  # false positives <= 5%


def test_resampled_and_centred_markets_have_no_skill_left() -> None:
    rule, beside = _market(1.5, 7)
    cols = np.random.default_rng(1).integers(0, 16, 16)
    null, side = resampled(rule, beside, cols, centre=True)
    assert null.matrix.shape == (30, 16) and side.shape == (2, 16)
    centred = rule.matrix - rule.matrix.mean(axis=1, keepdims=True)
    assert np.allclose(null.matrix, centred[:, cols])
    assert np.allclose(
        null.hoods[3], (rule.hoods[3] - rule.hoods[3].mean(1, keepdims=True))[:, cols]
    )
    assert np.array_equal(side, beside[:, cols])  # baselines are never centred
    draws = np.random.default_rng(2)
    passed = 0
    for _ in range(100):
        cols = draws.integers(0, 16, 16)
        passed += _passes(*resampled(rule, beside, cols, centre=True))
    assert passed <= 5
    same, _ = resampled(rule, beside, np.arange(16), centre=False)
    assert np.array_equal(same.matrix, rule.matrix)

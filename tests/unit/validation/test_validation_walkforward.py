"""Walk-forward and CPCV folds: time order, embargo, no overlap; selection on planted skill."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pk8opt.validation import (
    Fold,
    NotEnoughData,
    cpcv_folds,
    t_stat,
    walk_forward,
    walk_forward_folds,
)


def _lists(folds: list[Fold]) -> list[tuple[list[int], list[int]]]:
    return [(f.train.tolist(), f.test.tolist()) for f in folds]


# --- walk-forward folds ---------------------------------------------------------------------


def test_walk_forward_folds_by_hand() -> None:
    # 12 windows, 3 folds -> 4 chunks of 3; embargo 1 drops the last train window.
    assert _lists(walk_forward_folds(12, n_folds=3, embargo=1)) == [
        ([0, 1], [3, 4, 5]),
        ([0, 1, 2, 3, 4], [6, 7, 8]),
        ([0, 1, 2, 3, 4, 5, 6, 7], [9, 10, 11]),
    ]
    assert _lists(walk_forward_folds(12, n_folds=3, embargo=0, anchored=False)) == [
        ([0, 1, 2], [3, 4, 5]),
        ([3, 4, 5], [6, 7, 8]),
        ([6, 7, 8], [9, 10, 11]),
    ]


def test_walk_forward_folds_reduce_the_fold_count_when_windows_are_few() -> None:
    # 10 windows in 5 chunks of 2 leave 1 train window in fold 0 after the embargo:
    # 3 folds (chunks 3,3,2,2) fit.
    assert _lists(walk_forward_folds(10, n_folds=4, embargo=1)) == [
        ([0, 1], [3, 4, 5]),
        ([0, 1, 2, 3, 4], [6, 7]),
        ([0, 1, 2, 3, 4, 5, 6], [8, 9]),
    ]
    # the smallest data that fits one fold: 2 chunks, the first min_train 2 + embargo 1
    assert _lists(walk_forward_folds(5, n_folds=4, embargo=1)) == [([0, 1], [3, 4])]


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"n_windows": 4}, "at least 5 windows .* the data has 4"),
        ({"n_windows": 6, "embargo": 2, "min_train": 2}, "at least 7 windows"),
        ({"n_windows": 0}, "the data has 0"),
        ({"n_windows": 10, "n_folds": 0}, "n_folds"),
        ({"n_windows": 10, "embargo": -1}, "embargo"),
        ({"n_windows": 10, "min_train": 0}, "min_train"),
    ],
)
def test_walk_forward_folds_reject(kwargs: dict, words: str) -> None:
    n = kwargs.pop("n_windows")
    with pytest.raises(NotEnoughData, match=words):
        walk_forward_folds(n, **kwargs)


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(0, 60),
    n_folds=st.integers(1, 7),
    embargo=st.integers(0, 3),
    anchored=st.booleans(),
    min_train=st.integers(1, 5),
)
def test_walk_forward_folds_properties(
    n: int, n_folds: int, embargo: int, anchored: bool, min_train: int
) -> None:
    kw = {"n_folds": n_folds, "embargo": embargo, "anchored": anchored, "min_train": min_train}
    try:
        folds = walk_forward_folds(n, **kw)
    except NotEnoughData:
        # only when not even one fold fits: half the windows (rounded up) to train on
        assert (n + 1) // 2 - embargo < min_train or n < 2
        return
    assert 1 <= len(folds) <= n_folds
    previous_test_end = -1
    for f in folds:
        train, test = f.train, f.test
        assert len(train) >= min_train and len(test) >= 1
        assert np.all(np.diff(train) == 1) and np.all(np.diff(test) == 1)  # contiguous
        assert train.max() + embargo < test.min()  # train strictly before test, gap kept
        assert test.min() == previous_test_end + 1 or previous_test_end == -1
        assert test.min() > previous_test_end  # test folds move forward in time
        previous_test_end = int(test.max())
        if anchored:
            assert train.min() == 0
    assert previous_test_end == n - 1  # the test folds reach the last window
    if len(folds) < n_folds:  # reduced only as far as needed: one more fold does not fit
        assert len(walk_forward_folds(n, **{**kw, "n_folds": len(folds) + 1})) == len(folds)


# --- CPCV folds -------------------------------------------------------------------------------


def test_cpcv_folds_by_hand() -> None:
    # 8 windows in 4 groups of 2, 2 test groups -> 6 folds; embargo 1 after each test group.
    folds = _lists(cpcv_folds(8, groups=4, test_groups=2, embargo=1))
    assert folds == [
        ([5, 6, 7], [0, 1, 2, 3]),
        ([3, 7], [0, 1, 4, 5]),
        ([3, 4, 5], [0, 1, 6, 7]),
        ([0, 1, 7], [2, 3, 4, 5]),
        ([0, 1, 5], [2, 3, 6, 7]),
        ([0, 1, 2, 3], [4, 5, 6, 7]),
    ]


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(2, 50),
    groups=st.integers(2, 8),
    test_groups=st.integers(1, 4),
    embargo=st.integers(0, 3),
)
def test_cpcv_folds_properties(n: int, groups: int, test_groups: int, embargo: int) -> None:
    try:
        folds = cpcv_folds(n, groups=groups, test_groups=test_groups, embargo=embargo)
    except NotEnoughData:
        return
    g = min(groups, n)
    assert len(folds) == math.comb(g, test_groups)
    times_tested = np.zeros(n, dtype=int)
    for f in folds:
        assert np.intersect1d(f.train, f.test).size == 0
        assert np.all(np.diff(f.train) > 0) and np.all(np.diff(f.test) > 0)  # time order
        times_tested[f.test] += 1
        tested = set(f.test.tolist())
        # every window in the embargo after a test group is out of train
        for w in f.test.tolist():
            if w + 1 not in tested:
                for k in range(1, embargo + 1):
                    assert w + k not in set(f.train.tolist())
    assert np.all(times_tested == math.comb(g - 1, test_groups - 1))


def test_cpcv_folds_reject() -> None:
    with pytest.raises(NotEnoughData, match="more than test_groups"):
        cpcv_folds(20, groups=2, test_groups=2)
    with pytest.raises(NotEnoughData, match="at least 3 windows"):
        cpcv_folds(2, groups=6, test_groups=2)
    with pytest.raises(NotEnoughData, match="no window left to train"):
        cpcv_folds(4, groups=4, test_groups=2, embargo=3)


# --- walk-forward selection -----------------------------------------------------------------


def test_walk_forward_by_hand() -> None:
    m = np.array(
        [
            [5.0, 5.0, -1.0, -1.0, -1.0, -1.0],  # early luck
            [1.0, 1.0, 2.0, 2.0, 2.0, 3.0],  # steady
            [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],  # not trading
        ]
    )
    folds = [
        Fold(np.array([0, 1]), np.array([2, 3])),
        Fold(np.array([0, 1, 2, 3]), np.array([4, 5])),
    ]
    # fold 0: train means 5, 1, 0 -> row 0 -> test -1, -1
    # fold 1: train means 2, 1.5, 0 -> row 0 -> test -1, -1
    r = walk_forward(m, folds, baselines=(1, 2))
    assert r.chosen == [0, 0]
    np.testing.assert_array_equal(r.oos, [-1, -1, -1, -1])
    np.testing.assert_array_equal(r.windows, [2, 3, 4, 5])
    assert r.mean == -1.0 and r.t == -math.inf
    np.testing.assert_array_equal(r.baseline_oos[1], [2, 2, 2, 3])
    np.testing.assert_array_equal(r.baseline_oos[2], [0, 0, 0, 0])
    # the lucky row is inactive: the steady one is chosen instead
    r2 = walk_forward(m, folds, eligible=np.array([False, True, True]))
    assert r2.chosen == [1, 1]
    assert r2.mean == pytest.approx(9 / 4)
    assert r2.t == pytest.approx(t_stat(np.array([2.0, 2.0, 2.0, 3.0])))


def test_walk_forward_ties_choose_the_lowest_row() -> None:
    m = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 9.0]])
    r = walk_forward(m, [Fold(np.array([0, 1]), np.array([2]))])
    assert r.chosen == [0] and r.oos.tolist() == [0.0]


def test_walk_forward_averages_windows_tested_more_than_once() -> None:
    m = np.array([[1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 0.0, 10.0]])
    folds = cpcv_folds(4, groups=4, test_groups=2, embargo=0)
    r = walk_forward(m, folds)
    np.testing.assert_array_equal(r.windows, [0, 1, 2, 3])
    manual = np.zeros(4)
    for f, row in zip(folds, r.chosen, strict=True):
        manual[f.test] += m[row, f.test]
    np.testing.assert_allclose(r.oos, manual / 3)  # each window tested in C(3,1) = 3 folds


def test_walk_forward_rejects_bad_folds() -> None:
    m = np.zeros((2, 4))
    with pytest.raises(NotEnoughData, match="window 4"):
        walk_forward(m, [Fold(np.array([0]), np.array([4]))])
    with pytest.raises(NotEnoughData, match="same windows"):
        walk_forward(m, [Fold(np.array([0, 1]), np.array([1, 2]))])
    with pytest.raises(NotEnoughData, match="baseline row 5"):
        walk_forward(m, walk_forward_folds(4, embargo=0), baselines=(5,))
    with pytest.raises(NotEnoughData, match="no trial is eligible"):
        walk_forward(m, walk_forward_folds(4, embargo=0), eligible=np.array([False, False]))
    with pytest.raises(NotEnoughData, match="at least one fold"):
        walk_forward(m, [])


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_windows=st.integers(5, 30),
    row=st.integers(0, 5),
    cpcv=st.booleans(),
)
def test_walk_forward_always_chooses_a_row_better_in_every_window(
    seed: int, n_windows: int, row: int, cpcv: bool
) -> None:
    rng = np.random.default_rng(seed)
    m = rng.normal(size=(6, n_windows))
    m[row] = np.delete(m, row, axis=0).max(axis=0) + 0.5
    folds = cpcv_folds(n_windows, groups=5) if cpcv else walk_forward_folds(n_windows)
    r = walk_forward(m, folds, baselines=(row,))
    assert set(r.chosen) == {row}
    np.testing.assert_allclose(r.oos, m[row, r.windows])
    np.testing.assert_allclose(r.oos, r.baseline_oos[row])
    assert r.mean == pytest.approx(float(m[row, r.windows].mean()))


def test_walk_forward_finds_planted_skill() -> None:
    picks = 0
    for seed in range(10):
        rng = np.random.default_rng(seed)
        m = rng.normal(size=(100, 48))
        m[42] += 1.0  # one trial in 100 with an edge of one standard deviation per window
        r = walk_forward(m, walk_forward_folds(48, n_folds=4, embargo=1), baselines=(0,))
        # the first fold trains on 9 windows only, where the luckiest of 99 noise rows can
        # still beat the skilled one; with more history the choice settles on it
        assert r.chosen[-1] == 42 and r.chosen.count(42) >= 2, (seed, r.chosen)
        picks += r.chosen.count(42)
        assert r.t >= 2.0 and r.mean > 0.5
        assert len(r.oos) == 38  # chunks of 10,10,10,9,9: all but the first are tested
    assert picks >= 32  # of 40 fold choices


def test_walk_forward_on_noise_rarely_reaches_t_2() -> None:
    ts = []
    for seed in range(40):
        rng = np.random.default_rng(1000 + seed)
        m = rng.normal(size=(100, 48))
        ts.append(walk_forward(m, walk_forward_folds(48)).t)
    assert sum(t >= 2.0 for t in ts) <= 4, ts  # about 2.5% expected under no skill
    assert abs(float(np.mean(ts))) < 0.6

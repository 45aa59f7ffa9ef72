"""Out-of-sample selection on a trials x windows matrix: walk-forward and CPCV folds.

A fold is two sets of column indices (windows in time order): choose a trial on `train`
by the deploy rule (`select.Rule`), score it on `test`. Windows close to a test set are
kept out of the train set (the embargo), so serial correlation between neighbouring
windows cannot carry test information into the choice.

Reference: López de Prado (2018), "Advances in Financial Machine Learning", Wiley,
ch. 7 (purging and embargo) and ch. 12 (combinatorial purged cross-validation).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from pk8opt.validation.stats import NotEnoughData, as_matrix, t_stat


def _frozen(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


@dataclass(frozen=True)
class Fold:
    """Column indices (sorted, disjoint) of the windows to choose on and to score on."""

    train: np.ndarray
    test: np.ndarray


@dataclass(frozen=True)
class WalkForwardResult:
    """Out-of-sample record of choosing on each fold's train part.

    `oos` holds the chosen trials' P&L on the tested windows (`windows`, time order). When
    folds test a window more than once (CPCV), its value is the mean over those folds; for
    walk-forward folds it is exactly the test folds' P&L concatenated. `mean` and `t` are
    of `oos`. `baseline_oos[row]` is the given baseline row on the same windows.
    """

    oos: np.ndarray
    chosen: list[int]
    folds: list[Fold]
    mean: float
    t: float
    baseline_oos: dict[int, np.ndarray]
    windows: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=int))


def _fold(train: np.ndarray, test: np.ndarray) -> Fold:
    return Fold(
        train=_frozen(np.asarray(train, dtype=int)), test=_frozen(np.asarray(test, dtype=int))
    )


def _walk_forward_try(
    n_windows: int, n_folds: int, embargo: int, anchored: bool, min_train: int
) -> list[Fold] | None:
    chunks = np.array_split(np.arange(n_windows), n_folds + 1)
    folds = []
    for k in range(n_folds):
        before = np.concatenate(chunks[: k + 1]) if anchored else chunks[k]
        train = before[: max(0, len(before) - embargo)]
        test = chunks[k + 1]
        if len(train) < min_train or len(test) == 0:
            return None
        folds.append(_fold(train, test))
    return folds


def walk_forward_folds(
    n_windows: int,
    *,
    n_folds: int = 4,
    embargo: int = 1,
    anchored: bool = True,
    min_train: int = 2,
) -> list[Fold]:
    """Time-ordered folds: train on the past, test on the next chunk of windows.

    The windows are cut into n_folds + 1 contiguous chunks (sizes differ by at most one,
    earlier chunks the larger). Fold k trains on chunks 0..k (`anchored`) or on chunk k
    only (rolling), minus its last `embargo` windows, and tests on chunk k + 1, whole; so
    the test chunks tile the windows after the first chunk. When a fold would train on
    fewer than `min_train` windows, n_folds is reduced until every fold fits; when not even
    one fold fits, raises naming how many windows are needed.
    """
    if n_folds < 1:
        raise NotEnoughData(f"n_folds must be >= 1; got {n_folds}")
    if embargo < 0:
        raise NotEnoughData(f"embargo must be >= 0 windows; got {embargo}")
    if min_train < 1:
        raise NotEnoughData(f"min_train must be >= 1 window; got {min_train}")
    for k in range(n_folds, 0, -1):
        folds = _walk_forward_try(n_windows, k, embargo, anchored, min_train)
        if folds is not None:
            return folds
    need = next(
        n
        for n in range(2, 2 * (min_train + embargo) + 2)
        if _walk_forward_try(n, 1, embargo, anchored, min_train) is not None
    )
    raise NotEnoughData(
        f"walk-forward needs at least {need} windows for one fold (half of them to train on: "
        f"min_train {min_train} + embargo {embargo}); the data has {n_windows}: record more "
        "windows, or lower validation.embargo_windows"
    )


def cpcv_folds(
    n_windows: int, *, groups: int = 6, test_groups: int = 2, embargo: int = 1
) -> list[Fold]:
    """Combinatorial purged cross-validation folds (López de Prado 2018, ch. 12).

    The windows are cut into `groups` contiguous groups (fewer when there are fewer
    windows); every choice of `test_groups` of them is one fold's test set, C(groups,
    test_groups) folds in `itertools.combinations` order. The train set is every other
    window minus the `embargo` windows right after each test group. Each window is
    tested in C(groups - 1, test_groups - 1) folds.
    """
    if test_groups < 1:
        raise NotEnoughData(f"test_groups must be >= 1; got {test_groups}")
    if embargo < 0:
        raise NotEnoughData(f"embargo must be >= 0 windows; got {embargo}")
    if groups <= test_groups:
        raise NotEnoughData(
            f"groups ({groups}) must be more than test_groups ({test_groups}) so that "
            "something is left to train on"
        )
    g = min(groups, n_windows)
    if g <= test_groups:
        raise NotEnoughData(
            f"CPCV with {test_groups} test groups needs at least {test_groups + 1} windows; "
            f"the data has {n_windows}"
        )
    parts = np.array_split(np.arange(n_windows), g)
    folds = []
    for chosen in combinations(range(g), test_groups):
        test = np.concatenate([parts[i] for i in chosen])
        out = np.zeros(n_windows, dtype=bool)
        out[test] = True
        for i in chosen:
            end = int(parts[i][-1]) + 1
            out[end : end + embargo] = True
        train = np.flatnonzero(~out)
        if train.size == 0:
            raise NotEnoughData(
                f"CPCV fold testing groups {chosen} has no window left to train on; "
                f"use fewer test_groups or a smaller embargo ({embargo})"
            )
        folds.append(_fold(train, test))
    return folds


def _check_folds(folds: list[Fold], n_windows: int) -> None:
    if not folds:
        raise NotEnoughData("walk_forward needs at least one fold")
    for i, f in enumerate(folds):
        for name, idx in (("train", f.train), ("test", f.test)):
            if idx.size == 0:
                raise NotEnoughData(f"fold {i} has an empty {name} set")
            if idx.min() < 0 or idx.max() >= n_windows:
                raise NotEnoughData(
                    f"fold {i} {name} refers to window {int(idx.max())}; the matrix has "
                    f"{n_windows} windows"
                )
        if np.intersect1d(f.train, f.test).size:
            raise NotEnoughData(f"fold {i} trains and tests on the same windows")


def walk_forward(
    matrix: np.ndarray,
    folds: list[Fold],
    *,
    baselines: tuple[int, ...] = (),
    eligible: np.ndarray | None = None,
    choose: Callable[[np.ndarray], int] | None = None,
) -> WalkForwardResult:
    """Choose on each fold's train windows, score on its test windows.

    `choose(train_windows)` gives the chosen row: the deploy rule (`select.Rule.choose`),
    so the out-of-sample record is the evidence for what deploy ships. Without it, the
    row with the best mean P&L per window over `fold.train` is chosen (ties -> the lowest
    row; rows where `eligible` is False are never chosen, e.g. trials active in too few
    windows). Its P&L on `fold.test` is the out-of-sample record. `baselines` are rows
    (the defaults, not trading) reported on the same windows for comparison.
    """
    m = as_matrix(matrix)
    n_rows, n_windows = m.shape
    if n_rows == 0:
        raise NotEnoughData("walk_forward needs at least one trial row")
    _check_folds(folds, n_windows)
    for b in baselines:
        if not 0 <= b < n_rows:
            raise NotEnoughData(f"baseline row {b} is not in the matrix ({n_rows} rows)")
    allowed = np.ones(n_rows, dtype=bool) if eligible is None else np.asarray(eligible, bool)
    if allowed.shape != (n_rows,):
        raise NotEnoughData(f"eligible must have one flag per row ({n_rows}); got {allowed.shape}")
    if not allowed.any():
        raise NotEnoughData("no trial is eligible to be chosen (all inactive)")
    total = np.zeros(n_windows)
    times = np.zeros(n_windows)
    chosen = []
    for f in folds:
        if choose is not None:
            row = int(choose(f.train))
        else:
            row = int(np.argmax(np.where(allowed, m[:, f.train].mean(axis=1), -np.inf)))
        chosen.append(row)
        total[f.test] += m[row, f.test]
        times[f.test] += 1
    windows = np.flatnonzero(times)
    oos = total[windows] / times[windows]
    return WalkForwardResult(
        oos=_frozen(oos),
        chosen=chosen,
        folds=list(folds),
        mean=float(oos.mean()) if oos.size else math.nan,
        t=t_stat(oos),
        baseline_oos={b: _frozen(m[b, windows].copy()) for b in baselines},
        windows=_frozen(windows),
    )

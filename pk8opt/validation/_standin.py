"""Temporary stand-ins for the statistics (replaced by stats/walkforward/verdict)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import combinations
from statistics import NormalDist

import numpy as np

_N = NormalDist()


@dataclass(frozen=True)
class PBOResult:
    pbo: float
    logits: np.ndarray
    n_splits: int
    blocks: int


def pbo_cscv(matrix: np.ndarray, blocks: int = 8) -> PBOResult:
    m = np.asarray(matrix, float)
    n, t = m.shape
    s = min(blocks, t - t % 2)
    parts = np.array_split(np.arange(t), s)
    logits = []
    for train in combinations(range(s), s // 2):
        tr = np.concatenate([parts[i] for i in train])
        te = np.concatenate([parts[i] for i in range(s) if i not in train])
        b = int(np.argmax(m[:, tr].mean(axis=1)))
        perf = m[:, te].mean(axis=1)
        x = perf[b]
        rank = np.count_nonzero(perf < x) + (np.count_nonzero(perf == x) + 1) / 2
        w = rank / (n + 1)
        logits.append(math.log(w / (1 - w)))
    la = np.array(logits)
    return PBOResult(float(np.mean(la <= 0)), la, len(la), s)


def t_stat(x: np.ndarray) -> float:
    a = np.asarray(x, float)
    if a.size < 2 or a.std(ddof=1) == 0:
        return math.nan
    return float(a.mean() / (a.std(ddof=1) / math.sqrt(a.size)))


def sharpe(x: np.ndarray) -> float:
    a = np.asarray(x, float)
    if a.size < 2 or a.std(ddof=1) == 0:
        return math.nan
    return float(a.mean() / a.std(ddof=1))


@dataclass(frozen=True)
class DSRResult:
    dsr: float
    psr: float
    sr: float
    sr0: float
    n_obs: int
    skew: float
    kurt: float
    n_trials: int
    sr_variance: float


def deflated_sharpe(x: np.ndarray, n_trials: int, sr_variance: float) -> DSRResult:
    a = np.asarray(x, float)
    sr = sharpe(a)
    g = 0.5772156649015329
    n = max(2, n_trials)
    sr0 = math.sqrt(max(sr_variance, 0.0)) * (
        (1 - g) * _N.inv_cdf(1 - 1 / n) + g * _N.inv_cdf(1 - 1 / (n * math.e))
    )

    def psr(s0: float) -> float:
        if not math.isfinite(sr) or a.size < 2:
            return math.nan
        return _N.cdf((sr - s0) * math.sqrt(a.size - 1))

    return DSRResult(psr(sr0), psr(0.0), sr, sr0, int(a.size), 0.0, 3.0, n_trials, sr_variance)


def lower_quartile(values: np.ndarray) -> float:
    a = np.asarray(values, float)
    return float(np.quantile(a, 0.25)) if a.size else math.nan


@dataclass(frozen=True)
class Fold:
    train: tuple[int, ...]
    test: tuple[int, ...]


def walk_forward_folds(
    n_windows: int, *, n_folds: int = 4, embargo: int = 1, anchored: bool = True, min_train: int = 2
) -> list[Fold]:
    out: list[Fold] = []
    size = max(1, (n_windows - min_train - embargo) // n_folds)
    start = min_train + embargo
    while start < n_windows and len(out) < n_folds:
        test = tuple(range(start, min(n_windows, start + size)))
        end = start - embargo
        train = tuple(range(0 if anchored else max(0, end - min_train), end))
        out.append(Fold(train, test))
        start += size
    return out


def cpcv_folds(
    n_windows: int, *, groups: int = 6, test_groups: int = 2, embargo: int = 1
) -> list[Fold]:
    parts = np.array_split(np.arange(n_windows), groups)
    out = []
    for test in combinations(range(groups), test_groups):
        te = sorted(int(i) for g in test for i in parts[g])
        banned = set(te) | {i + d for i in te for d in range(-embargo, embargo + 1)}
        tr = [i for i in range(n_windows) if i not in banned]
        out.append(Fold(tuple(tr), tuple(te)))
    return out


@dataclass(frozen=True)
class WalkForwardResult:
    oos: np.ndarray
    chosen: tuple[int, ...]
    folds: tuple[Fold, ...]
    mean: float
    t: float
    baseline_oos: dict[int, np.ndarray] = field(default_factory=dict)


def walk_forward(
    matrix: np.ndarray,
    folds: list[Fold],
    *,
    baselines: tuple[int, ...] = (),
    eligible: np.ndarray | None = None,
) -> WalkForwardResult:
    m = np.asarray(matrix, float)
    ok = np.ones(m.shape[0], bool) if eligible is None else np.asarray(eligible, bool)
    pick = [i for i in range(m.shape[0]) if ok[i]]
    if not pick or not folds:
        raise ValueError("nothing to choose")
    oos: list[float] = []
    chosen = []
    base: dict[int, list[float]] = {b: [] for b in baselines}
    for f in folds:
        tr, te = list(f.train), list(f.test)
        c = pick[int(np.argmax(m[pick][:, tr].mean(axis=1)))]
        chosen.append(c)
        oos += list(m[c, te])
        for b in baselines:
            base[b] += list(m[b, te])
    a = np.array(oos)
    return WalkForwardResult(
        a,
        tuple(chosen),
        tuple(folds),
        float(a.mean()) if a.size else math.nan,
        t_stat(a),
        {b: np.array(v) for b, v in base.items()},
    )


@dataclass(frozen=True)
class Thresholds:
    min_oos_t: float = 2.0
    min_dsr: float = 0.95
    max_pbo: float = 0.2
    min_lockbox_pnl_per_window: float = 0.0
    min_active_windows: int = 3


@dataclass(frozen=True)
class Figures:
    pbo: float
    dsr: float
    psr: float
    n_trials: int
    oos_pnl_per_window: float
    oos_t: float
    lockbox_pnl_per_window: float | None
    active_windows: int


@dataclass(frozen=True)
class Check:
    name: str
    value: float | None
    threshold: str
    passed: bool


@dataclass(frozen=True)
class Verdict:
    passed: bool
    checks: list[Check]

    def tag(self) -> str:
        if self.passed:
            return "pass"
        return "fail: " + ", ".join(c.name for c in self.checks if not c.passed)


def _ok(x: float | None, good: bool) -> bool:
    return x is not None and math.isfinite(x) and good


def judge(f: Figures, t: Thresholds) -> Verdict:
    lb = f.lockbox_pnl_per_window
    checks = [
        Check(
            "oos_pnl_per_window",
            f.oos_pnl_per_window,
            "> 0",
            _ok(f.oos_pnl_per_window, f.oos_pnl_per_window > 0),
        ),
        Check("oos_t", f.oos_t, f">= {t.min_oos_t:g}", _ok(f.oos_t, f.oos_t >= t.min_oos_t)),
        Check("dsr", f.dsr, f">= {t.min_dsr:g}", _ok(f.dsr, f.dsr >= t.min_dsr)),
        Check("pbo", f.pbo, f"<= {t.max_pbo:g}", _ok(f.pbo, f.pbo <= t.max_pbo)),
        Check(
            "lockbox_pnl_per_window",
            lb,
            f">= {t.min_lockbox_pnl_per_window:g}",
            lb is not None and _ok(lb, lb >= t.min_lockbox_pnl_per_window),
        ),
        Check(
            "active_windows",
            float(f.active_windows),
            f">= {t.min_active_windows}",
            f.active_windows >= t.min_active_windows,
        ),
    ]
    return Verdict(all(c.passed for c in checks), checks)

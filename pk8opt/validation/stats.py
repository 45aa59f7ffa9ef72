"""Statistics of overfitting on a trials x windows matrix: PBO, Sharpe, PSR, DSR.

Pure functions, numpy only: a matrix (rows = candidate trials, columns = time windows in
time order, values = USDC P&L per window) or one row of it in, numbers out. Every Sharpe
ratio here is per window (mean / standard deviation of the window P&L), never annualised.

References:
- Bailey, Borwein, López de Prado, Zhu (2015), "The Probability of Backtest Overfitting",
  Journal of Computational Finance 20(4).
- Bailey, López de Prado (2014), "The Deflated Sharpe Ratio: Correcting for Selection Bias,
  Backtest Overfitting and Non-Normality", Journal of Portfolio Management 40(5).
- Bailey, López de Prado (2012), "The Sharpe Ratio Efficient Frontier", Journal of Risk
  15(2): the standard error of an estimated Sharpe ratio under non-normal returns.
- Lo (2002), "The Statistics of Sharpe Ratios", Financial Analysts Journal 58(4).
- López de Prado (2020), "Machine Learning for Asset Managers", §8 (the False Strategy
  Theorem: the expected maximum Sharpe ratio of N skill-less strategies).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import combinations
from statistics import NormalDist

import numpy as np

from pk8opt.errors import Pk8Error

EULER_GAMMA = 0.5772156649015329
_NORMAL = NormalDist()


class NotEnoughData(Pk8Error, ValueError):
    """A matrix or series is too small (or malformed) for the statistic asked of it."""


def _frozen(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def as_matrix(matrix: np.ndarray, *, what: str = "matrix") -> np.ndarray:
    """The trials x windows matrix as a 2-D float array; raises on NaN/inf or a wrong shape."""
    m = np.asarray(matrix, dtype=float)
    if m.ndim != 2:
        raise NotEnoughData(f"{what} must be 2-D (trials x windows); got shape {m.shape}")
    if not np.isfinite(m).all():
        bad = np.argwhere(~np.isfinite(m))[0]
        raise NotEnoughData(
            f"{what} has a non-finite value at trial row {bad[0]}, window column {bad[1]}; "
            "every candidate must be replayed on every window"
        )
    return m


# --- PBO by combinatorially symmetric cross-validation ---------------------------------


@dataclass(frozen=True)
class PBOResult:
    """Probability of backtest overfitting and what it was computed from.

    `logits[i]` belongs to the i-th split, splits in `itertools.combinations(range(blocks),
    blocks // 2)` order (the train blocks; the test blocks are the rest). `train_best`,
    `is_mean` and `oos_mean` are the chosen row, its mean P&L per window on the train half
    and on the test half, per split (the in-sample vs out-of-sample scatter).
    """

    pbo: float
    logits: np.ndarray
    n_splits: int
    blocks: int
    train_best: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=int))
    is_mean: np.ndarray = field(default_factory=lambda: np.empty(0))
    oos_mean: np.ndarray = field(default_factory=lambda: np.empty(0))
    beside_oos: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))

    def beats(self, i: int) -> float:
        """Share of splits in which the train-best trial earned more on the test half than
        the i-th row of `beside` (a baseline such as the defaults); nan without one."""
        if self.beside_oos.shape[0] <= i or not self.oos_mean.size:
            return math.nan
        return float(np.mean(self.oos_mean > self.beside_oos[i]))

    @property
    def prob_oos_loss(self) -> float:
        """Share of splits in which the train-best trial lost money on the test half.

        Bailey et al. (2015) call it the probability of loss; nan without per-split means.
        """
        return float(np.mean(self.oos_mean < 0)) if self.oos_mean.size else math.nan


def cscv_blocks(n_windows: int, blocks: int = 8) -> int:
    """The number of CSCV blocks used for `n_windows` windows when `blocks` are asked for."""
    if blocks < 2 or blocks % 2:
        raise NotEnoughData(f"blocks must be an even number >= 2; got {blocks}")
    if n_windows < 2:
        raise NotEnoughData(f"PBO needs at least 2 windows; the matrix has {n_windows}")
    if n_windows >= blocks:
        return blocks
    return n_windows - n_windows % 2


def pbo_cscv(matrix: np.ndarray, blocks: int = 8, beside: np.ndarray | None = None) -> PBOResult:
    """PBO of choosing the trial with the best mean P&L per window (Bailey et al. 2015).

    The windows (columns, in time order) are cut into S contiguous blocks (S = `blocks`,
    or the largest even number <= the number of windows when there are fewer; blocks
    differ in size by at most one window when S does not divide them). For each of the
    C(S, S/2) ways to pick S/2 blocks as the train half (the rest is the test half), the
    trial with the best mean on the train half (ties -> the lowest row) is ranked among all
    N trials on the test half (rank 1 = worst, ties share their average rank); its relative
    rank w = rank / (N + 1) gives the logit ln(w / (1 - w)). PBO is the share of splits
    with logit <= 0: the train-best trial did no better than the median out of sample.
    A matrix whose rows are all equal gives PBO 1: there is nothing to choose.
    `beside` (rows on the same windows, e.g. the defaults) are neither chosen nor ranked:
    their mean on each split's test half is kept in `beside_oos` for comparison.
    """
    m = as_matrix(matrix)
    side = np.empty((0, m.shape[1])) if beside is None else as_matrix(beside, what="beside")
    if side.shape[1] != m.shape[1]:
        raise NotEnoughData(f"beside has {side.shape[1]} windows; the matrix has {m.shape[1]}")
    n_trials, n_windows = m.shape
    if n_trials < 2:
        raise NotEnoughData(
            f"PBO needs at least 2 trials to choose from; the matrix has {n_trials}"
        )
    s = cscv_blocks(n_windows, blocks)
    parts = np.array_split(np.arange(n_windows), s)
    sums = np.stack([m[:, p].sum(axis=1) for p in parts], axis=1)  # trials x blocks
    side_sums = np.stack([side[:, p].sum(axis=1) for p in parts], axis=1)
    counts = np.array([len(p) for p in parts], dtype=float)
    splits = list(combinations(range(s), s // 2))
    logits = np.empty(len(splits))
    best = np.empty(len(splits), dtype=int)
    is_mean = np.empty(len(splits))
    oos_mean = np.empty(len(splits))
    side_oos = np.empty((side.shape[0], len(splits)))
    all_blocks = np.arange(s)
    for i, train in enumerate(splits):
        test = np.setdiff1d(all_blocks, train)
        train_perf = sums[:, train].sum(axis=1) / counts[list(train)].sum()
        test_perf = sums[:, test].sum(axis=1) / counts[test].sum()
        b = int(np.argmax(train_perf))  # first maximum: ties -> lowest row
        x = test_perf[b]
        rank = np.count_nonzero(test_perf < x) + (np.count_nonzero(test_perf == x) + 1) / 2
        w = rank / (n_trials + 1)
        logits[i] = math.log(w / (1 - w))
        best[i], is_mean[i], oos_mean[i] = b, train_perf[b], x
        side_oos[:, i] = side_sums[:, test].sum(axis=1) / counts[test].sum()
    return PBOResult(
        pbo=float(np.mean(logits <= 0)),
        logits=_frozen(logits),
        n_splits=len(splits),
        blocks=s,
        train_best=_frozen(best),
        is_mean=_frozen(is_mean),
        oos_mean=_frozen(oos_mean),
        beside_oos=_frozen(side_oos),
    )


# --- t-statistic, Sharpe, moments --------------------------------------------------------


def _series(x: np.ndarray) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if a.ndim != 1:
        raise NotEnoughData(f"expected one series of P&L per window (1-D); got shape {a.shape}")
    return a


def _ratio(mean: float, sd: float) -> float:
    """mean / sd with the conventions for no spread: +inf, -inf, or nan for a zero mean."""
    if math.isnan(mean) or math.isnan(sd):
        return math.nan
    if sd == 0.0:
        return math.copysign(math.inf, mean) if mean != 0.0 else math.nan
    return mean / sd


def t_stat(x: np.ndarray) -> float:
    """t-statistic of the mean: mean / (std(ddof=1) / sqrt(n)).

    n < 2 -> nan. No spread (every value equal) -> +inf for a positive mean, -inf for a
    negative one, nan for zero. Any NaN in x -> nan.
    """
    a = _series(x)
    if a.size < 2:
        return math.nan
    return _ratio(float(a.mean()), float(a.std(ddof=1)) / math.sqrt(a.size))


def sharpe(x: np.ndarray) -> float:
    """Sharpe ratio per window: mean / std(ddof=1), not annualised.

    Same conventions as `t_stat`: n < 2 -> nan; no spread -> +-inf, or nan for a zero mean.
    """
    a = _series(x)
    if a.size < 2:
        return math.nan
    return _ratio(float(a.mean()), float(a.std(ddof=1)))


def moments(x: np.ndarray) -> tuple[float, float]:
    """(skewness, kurtosis) from the population moments; kurtosis NON-excess (normal = 3).

    skew = m3 / m2^1.5, kurt = m4 / m2^2 with m_k = mean((x - mean)^k). nan when there
    is no spread or fewer than 2 values.
    """
    a = _series(x)
    if a.size < 2:
        return math.nan, math.nan
    d = a - a.mean()
    m2 = float(np.mean(d**2))
    if not m2 > 0.0:
        return math.nan, math.nan
    return float(np.mean(d**3)) / m2**1.5, float(np.mean(d**4)) / m2**2


def sr_variance(matrix: np.ndarray) -> float:
    """Variance (ddof=1) of the rows' per-window Sharpe ratios, rows without one skipped.

    How much the candidates' Sharpe ratios spread; reported beside the deflated Sharpe
    ratio, not used in it (see `null_sr_variance`): on a market with an edge the spread is
    real skill, not luck. Rows with no spread (e.g. a not-trading row of zeros) have no
    Sharpe ratio and are left out; nan when fewer than 2 rows have one.
    """
    m = as_matrix(matrix)
    srs = np.array([sharpe(row) for row in m])
    srs = srs[np.isfinite(srs)]
    if srs.size < 2:
        return math.nan
    return float(np.var(srs, ddof=1))


def null_sr_variance(n_obs: int) -> float:
    """Estimation variance of a per-window Sharpe ratio whose true value is 0: 1 / (T - 1).

    The variance of the Sharpe ratio estimate is (1 - skew * SR + (kurt - 1) / 4 * SR^2) /
    (T - 1) (Lo 2002; Bailey & López de Prado 2012); at SR = 0 it is 1 / (T - 1) whatever
    the skewness and kurtosis. This is V of the False Strategy Theorem: the spread of N
    Sharpe estimates of strategies without skill, the null the deflated Sharpe ratio tests
    against. T < 2 -> nan.
    """
    if n_obs < 2:
        return math.nan
    return 1.0 / (n_obs - 1)


# --- PSR, expected maximum Sharpe, DSR ---------------------------------------------------


def expected_max_sharpe(n_trials: int, sr_variance: float) -> float:
    """Expected maximum Sharpe ratio of `n_trials` skill-less trials (Bailey & López de Prado 2014).

    SR0 = sqrt(V) * ((1 - g) * Phi^-1(1 - 1/N) + g * Phi^-1(1 - 1/(N e))), g the
    Euler-Mascheroni constant, V the variance of the trials' Sharpe estimates under the
    null of no skill (`null_sr_variance`). N <= 1 -> 0: one trial is not a selection.
    V nan -> nan; V < 0 raises.
    """
    if math.isnan(sr_variance):
        return math.nan
    if sr_variance < 0:
        raise NotEnoughData(f"sr_variance must be >= 0; got {sr_variance}")
    if n_trials <= 1:
        return 0.0
    n = float(n_trials)
    z = (1 - EULER_GAMMA) * _NORMAL.inv_cdf(1 - 1 / n) + EULER_GAMMA * _NORMAL.inv_cdf(
        1 - 1 / (n * math.e)
    )
    return math.sqrt(sr_variance) * z


def _psr(sr: float, sr0: float, n_obs: int, skew: float, kurt: float) -> float:
    if not (math.isfinite(sr) and math.isfinite(sr0) and math.isfinite(skew)):
        return math.nan
    if not math.isfinite(kurt) or n_obs < 2:
        return math.nan
    var = 1 - skew * sr + (kurt - 1) / 4 * sr**2
    if not var > 0.0:
        return math.nan
    return _NORMAL.cdf((sr - sr0) * math.sqrt(n_obs - 1) / math.sqrt(var))


def probabilistic_sharpe(x: np.ndarray, sr0: float = 0.0) -> float:
    """Probability that the true per-window Sharpe ratio of `x` exceeds `sr0`.

    PSR = Phi((SR - SR0) * sqrt(T - 1) / sqrt(1 - skew * SR + (kurt - 1) / 4 * SR^2)), T the
    number of windows, skew and kurt (non-excess) from `moments`. nan when the Sharpe ratio
    or the moments are undefined (fewer than 2 windows, no spread) or the variance term is
    not positive: a nan never passes a threshold.
    """
    a = _series(x)
    skew, kurt = moments(a)
    return _psr(sharpe(a), sr0, a.size, skew, kurt)


@dataclass(frozen=True)
class DSRResult:
    """Deflated Sharpe ratio of one series, with every input it was computed from."""

    dsr: float
    psr: float
    sr: float
    sr0: float
    n_obs: int
    skew: float
    kurt: float
    n_trials: int
    sr_variance: float


def deflated_sharpe(x: np.ndarray, n_trials: int, sr_variance: float | None = None) -> DSRResult:
    """Deflated Sharpe ratio (Bailey & López de Prado 2014) of the chosen trial's series `x`.

    DSR = PSR(SR0) with SR0 = `expected_max_sharpe(n_trials, V)`: the probability that the
    trial's Sharpe ratio beats the best one that `n_trials` trials without skill would
    show by luck. `n_trials` counts every trial the search tried (pruned and failed ones
    too). V is the null variance 1 / (T - 1) (`null_sr_variance`, T = len(x)) unless
    `sr_variance` is given. PSR's own standard error is taken at the estimated SR with the
    series' skewness and kurtosis, as in the paper. `psr` beside it is PSR against 0.
    """
    a = _series(x)
    skew, kurt = moments(a)
    sr = sharpe(a)
    if sr_variance is None:
        sr_variance = null_sr_variance(int(a.size))
    sr0 = expected_max_sharpe(n_trials, sr_variance)
    return DSRResult(
        dsr=_psr(sr, sr0, a.size, skew, kurt),
        psr=_psr(sr, 0.0, a.size, skew, kurt),
        sr=sr,
        sr0=sr0,
        n_obs=int(a.size),
        skew=skew,
        kurt=kurt,
        n_trials=int(n_trials),
        sr_variance=float(sr_variance),
    )


# --- proportions ------------------------------------------------------------------------


def binomial_interval(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion k / n (Wilson 1927; Brown, Cai & DasGupta
    2001, "Interval Estimation for a Binomial Proportion", Statistical Science 16(2)).

    Unlike p +- z sqrt(p(1-p)/n) it stays inside [0, 1] and is not empty at k = 0 or
    k = n: 0 of 20 gives (0, 0.161). n = 0 -> (0, 1): nothing is known.
    """
    if n < 0 or not 0 <= k <= n:
        raise NotEnoughData(f"a proportion needs 0 <= k <= n; got k={k}, n={n}")
    if n == 0:
        return 0.0, 1.0
    z = _NORMAL.inv_cdf(0.5 + level / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


# --- robustness -------------------------------------------------------------------------


def lower_quartile(values: np.ndarray) -> float:
    """Robustness score of a neighbourhood: the 25% quantile of its results.

    A plateau (most neighbours good) scores high, an isolated spike low. Empty or any NaN
    -> nan: a neighbour that could not be scored must not make the place look better.
    """
    a = np.asarray(values, dtype=float).ravel()
    if a.size == 0 or np.isnan(a).any():
        return math.nan
    return float(np.quantile(a, 0.25))

"""The validation statistics against hand-computed cases, a brute-force reference, and noise."""

from __future__ import annotations

import math
from itertools import combinations
from statistics import NormalDist

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from pk8opt.errors import Pk8Error
from pk8opt.validation import (
    NotEnoughData,
    binomial_interval,
    deflated_sharpe,
    expected_max_sharpe,
    lower_quartile,
    null_sr_variance,
    pbo_cscv,
    probabilistic_sharpe,
    sharpe,
    sr_variance,
    t_stat,
)

LN2, LN3 = math.log(2), math.log(3)
PHI = NormalDist().cdf

# --- PBO: hand-enumerated splits ----------------------------------------------------------


def test_pbo_two_trials_four_windows_by_hand() -> None:
    # A = [1, 2, 3, -2], B = 0 (not trading); blocks = 4 -> one window per block.
    # train blocks | train means A/B -> chosen | test means A/B | rank of chosen | logit
    # {0,1}        | 1.5 / 0 -> A             | 0.5 / 0        | 2              | ln(2)
    # {0,2}        | 2   / 0 -> A             | 0   / 0 (tie)  | 1.5            | 0
    # {0,3}        | -.5 / 0 -> B             | 2.5 / 0        | 1              | -ln(2)
    # {1,2}        | 2.5 / 0 -> A             | -.5 / 0        | 1              | -ln(2)
    # {1,3}        | 0   / 0 (tie) -> A       | 2   / 0        | 2              | ln(2)
    # {2,3}        | .5  / 0 -> A             | 1.5 / 0        | 2              | ln(2)
    # w = rank / 3: 2/3 -> ln 2, 1/2 -> 0, 1/3 -> -ln 2. Logit <= 0 in 3 of 6 splits.
    r = pbo_cscv(np.array([[1, 2, 3, -2], [0, 0, 0, 0]]), blocks=4)
    assert r.blocks == 4 and r.n_splits == 6
    np.testing.assert_allclose(r.logits, [LN2, 0, -LN2, -LN2, LN2, LN2], atol=1e-12)
    assert r.pbo == 0.5
    assert list(r.train_best) == [0, 0, 1, 0, 0, 0]
    np.testing.assert_allclose(r.is_mean, [1.5, 2, 0, 2.5, 0, 0.5])
    np.testing.assert_allclose(r.oos_mean, [0.5, 0, 0, -0.5, 2, 1.5])
    assert r.prob_oos_loss == 1 / 6  # only split {1,2} lost money out of sample


def test_pbo_three_trials_average_ranks_by_hand() -> None:
    # R0 = [5,0,0,0] (one lucky window), R1 = [2,2,2,2] (steady), R2 = [0,3,0,0].
    # {0,1}: train 2.5/2/1.5 -> R0; test 0/2/0 -> R0 ties R2 at ranks 1,2 -> 1.5; w=.375
    # {0,2}: train 2.5/2/0 -> R0;   test 0/2/1.5 -> rank 1; w = .25 -> ln(1/3)
    # {0,3}: train 2.5/2/0 -> R0;   test 0/2/1.5 -> rank 1 -> ln(1/3)
    # {1,2}: train 0/2/1.5 -> R1;   test 2.5/2/0 -> rank 2; w = .5 -> 0
    # {1,3}: train 0/2/1.5 -> R1;   test 2.5/2/0 -> 0
    # {2,3}: train 0/2/0 -> R1;     test 2.5/2/1.5 -> 0
    r = pbo_cscv(np.array([[5, 0, 0, 0], [2, 2, 2, 2], [0, 3, 0, 0]]), blocks=4)
    np.testing.assert_allclose(r.logits, [math.log(0.375 / 0.625), -LN3, -LN3, 0, 0, 0], atol=1e-12)
    assert r.pbo == 1.0


def test_pbo_blocks_group_contiguous_windows() -> None:
    # Each window of the 2x4 case doubled: 4 blocks of 2 windows give the same splits.
    a = np.repeat(np.array([[1, 2, 3, -2], [0, 0, 0, 0]]), 2, axis=1)
    r = pbo_cscv(a, blocks=4)
    np.testing.assert_allclose(r.logits, [LN2, 0, -LN2, -LN2, LN2, LN2], atol=1e-12)


def test_pbo_identical_rows_is_one() -> None:
    r = pbo_cscv(np.ones((5, 16)), blocks=8)
    assert r.n_splits == math.comb(8, 4) == 70
    assert r.pbo == 1.0 and np.all(r.logits == 0)


def test_pbo_fewer_windows_than_blocks_uses_largest_even() -> None:
    m = np.arange(14, dtype=float).reshape(2, 7)
    r = pbo_cscv(m, blocks=8)
    assert r.blocks == 6 and r.n_splits == math.comb(6, 3)
    assert pbo_cscv(m[:, :3], blocks=8).blocks == 2
    assert pbo_cscv(m[:, :2], blocks=8).n_splits == 2


@pytest.mark.parametrize(
    ("matrix", "blocks", "words"),
    [
        (np.zeros((3, 1)), 8, "at least 2 windows"),
        (np.zeros((1, 8)), 8, "at least 2 trials"),
        (np.zeros((3, 8)), 5, "even"),
        (np.zeros((3, 8)), 0, "even"),
        (np.zeros(8), 8, "2-D"),
        (np.array([[0.0, 1.0], [np.nan, 0.0]]), 2, "row 1, window column 0"),
    ],
)
def test_pbo_rejects_unusable_input(matrix: np.ndarray, blocks: int, words: str) -> None:
    with pytest.raises(NotEnoughData, match=words) as err:
        pbo_cscv(matrix, blocks=blocks)
    assert isinstance(err.value, ValueError) and isinstance(err.value, Pk8Error)


def _pbo_reference(m: np.ndarray, s: int) -> tuple[float, list[float]]:
    """CSCV written out the slow way: explicit column lists and ranks by counting."""
    n, t = m.shape
    # s contiguous blocks; when s does not divide t, the first t % s blocks are one larger
    cols, start = [], 0
    for b in range(s):
        size = t // s + (1 if b < t % s else 0)
        cols.append(list(range(start, start + size)))
        start += size
    logits = []
    for train_blocks in combinations(range(s), s // 2):
        train = [c for b in train_blocks for c in cols[b]]
        test = [c for b in range(s) if b not in train_blocks for c in cols[b]]
        train_mean = [sum(m[i][c] for c in train) / len(train) for i in range(n)]
        best = train_mean.index(max(train_mean))
        test_mean = [sum(m[i][c] for c in test) / len(test) for i in range(n)]
        below = sum(1 for v in test_mean if v < test_mean[best])
        equal = sum(1 for v in test_mean if v == test_mean[best])
        w = (below + (equal + 1) / 2) / (n + 1)
        logits.append(math.log(w / (1 - w)))
    return sum(1 for x in logits if x <= 0) / len(logits), logits


@settings(max_examples=60, deadline=None)
@given(
    m=st.integers(2, 6).flatmap(
        lambda n: st.integers(2, 13).flatmap(
            lambda t: arrays(np.int64, (n, t), elements=st.integers(-3, 3))
        )
    ),
    blocks=st.sampled_from([2, 4, 6, 8]),
)
def test_pbo_matches_brute_force_reference(m: np.ndarray, blocks: int) -> None:
    # Integer P&L keeps every sum exact, so ties are ties in both implementations.
    r = pbo_cscv(m, blocks=blocks)
    pbo, logits = _pbo_reference(m.astype(float), r.blocks)
    assert r.pbo == pbo
    np.testing.assert_allclose(r.logits, logits, atol=1e-12)
    n = m.shape[0]
    assert np.all(np.abs(r.logits) <= math.log(n) + 1e-12)


@settings(max_examples=40, deadline=None)
@given(
    m=arrays(np.int64, (4, 8), elements=st.integers(-5, 5)),
    scale=st.integers(1, 7),
    shift=st.integers(-10, 10),
)
def test_pbo_invariant_to_positive_affine_change(m: np.ndarray, scale: int, shift: int) -> None:
    # Only ranks matter: P&L in another currency unit or with a fixed fee per window
    # gives the same PBO (integers keep the comparisons exact).
    a = pbo_cscv(m, blocks=4)
    b = pbo_cscv(m * scale + shift, blocks=4)
    assert a.pbo == b.pbo
    np.testing.assert_allclose(a.logits, b.logits)


@settings(max_examples=40, deadline=None)
@given(
    m=arrays(np.int64, (5, 10), elements=st.integers(-4, 4)),
    row=st.integers(0, 4),
    blocks=st.sampled_from([2, 4, 6, 8]),
)
def test_pbo_of_a_row_better_in_every_window_is_zero(m: np.ndarray, row: int, blocks: int) -> None:
    # A setting that beats every other one in every single window is chosen in every
    # split and ranks first out of sample: logit ln(N), PBO 0.
    m = m.copy()
    m[row] = np.delete(m, row, axis=0).max(axis=0) + 1
    r = pbo_cscv(m, blocks=blocks)
    assert r.pbo == 0.0
    assert np.all(r.train_best == row)
    np.testing.assert_allclose(r.logits, math.log(5))


# --- PBO on noise and on planted skill ----------------------------------------------------


def test_pbo_of_pure_noise_is_near_one_half() -> None:
    pbos = []
    for seed in range(30):
        rng = np.random.default_rng(seed)
        pbos.append(pbo_cscv(rng.normal(size=(200, 64)), blocks=8).pbo)
    assert 0.4 <= float(np.mean(pbos)) <= 0.6, pbos


def test_pbo_with_planted_skill_is_near_zero() -> None:
    for seed in range(10):
        rng = np.random.default_rng(100 + seed)
        m = rng.normal(size=(200, 64))
        m[[3, 77, 150]] += 1.0  # three trials with a true edge of one standard deviation
        r = pbo_cscv(m, blocks=8)
        assert r.pbo < 0.1, (seed, r.pbo)
        assert set(r.train_best.tolist()) <= {3, 77, 150}
        assert r.prob_oos_loss == 0.0


# --- t-statistic and Sharpe -----------------------------------------------------------------


def test_t_stat_and_sharpe_by_hand() -> None:
    x = np.array([1.0, 2.0, 3.0, 6.0])  # mean 3, sample sd sqrt(14/3)
    sd = math.sqrt(((1 - 3) ** 2 + (2 - 3) ** 2 + 0 + (6 - 3) ** 2) / 3)
    assert sharpe(x) == pytest.approx(3 / sd)
    assert t_stat(x) == pytest.approx(3 / (sd / 2))


def test_t_stat_and_sharpe_edge_conventions() -> None:
    for f in (t_stat, sharpe):
        assert math.isnan(f(np.array([])))
        assert math.isnan(f(np.array([5.0])))
        assert f(np.array([2.0, 2.0, 2.0])) == math.inf
        assert f(np.array([-1.0, -1.0])) == -math.inf
        assert math.isnan(f(np.zeros(4)))
        assert math.isnan(f(np.array([1.0, np.nan, 2.0])))


# --- expected maximum Sharpe -----------------------------------------------------------------


def test_expected_max_sharpe_known_values() -> None:
    g = 0.5772156649015329
    assert expected_max_sharpe(1, 4.0) == 0.0
    assert expected_max_sharpe(0, 4.0) == 0.0
    # N = 2: Phi^-1(1/2) = 0, Phi^-1(1 - 1/(2e)) = Phi^-1(0.816060) = 0.900453
    # (inverse normal values found by bisection on math.erf, independent of NormalDist)
    assert expected_max_sharpe(2, 1.0) == pytest.approx(g * 0.900453, abs=1e-6)
    # N = 100: Phi^-1(0.99) = 2.326348, Phi^-1(1 - 1/(100e)) = Phi^-1(0.996321) = 2.680210
    assert expected_max_sharpe(100, 1.0) == pytest.approx(
        (1 - g) * 2.326348 + g * 2.680210, abs=1e-6
    )
    # scales with the standard deviation of the trials' Sharpe ratios
    assert expected_max_sharpe(100, 0.25) == pytest.approx(expected_max_sharpe(100, 1.0) / 2)
    assert math.isnan(expected_max_sharpe(10, math.nan))
    with pytest.raises(NotEnoughData, match="sr_variance"):
        expected_max_sharpe(10, -1.0)


@pytest.mark.parametrize("n", [10, 100, 1000])
def test_expected_max_sharpe_approximates_the_max_of_normals(n: int) -> None:
    # The formula approximates E[max of N standard normals]; check by simulation.
    rng = np.random.default_rng(n)
    simulated = rng.standard_normal((4000, n)).max(axis=1).mean()
    assert expected_max_sharpe(n, 1.0) == pytest.approx(simulated, rel=0.03)


# --- PSR and DSR -----------------------------------------------------------------------------


def test_psr_by_hand_on_a_skewed_series() -> None:
    # x = [0,0,0,4]: mean 1, deviations -1,-1,-1,3; m2 = 12/4 = 3, m3 = 24/4 = 6,
    # m4 = 84/4 = 21 -> skew = 6/3^1.5 = 2/sqrt(3), kurt = 21/9 = 7/3 (non-excess);
    # sample sd = sqrt(12/3) = 2 -> SR = 1/2; T = 4.
    skew, kurt, sr = 2 / math.sqrt(3), 7 / 3, 0.5
    z = sr * math.sqrt(3) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2)
    x = np.array([0.0, 0.0, 0.0, 4.0])
    assert probabilistic_sharpe(x) == pytest.approx(PHI(z), abs=1e-12)
    assert PHI(z) == pytest.approx(0.88829, abs=1e-5)
    z0 = (sr - 0.2) * math.sqrt(3) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2)
    assert probabilistic_sharpe(x, sr0=0.2) == pytest.approx(PHI(z0), abs=1e-12)


def test_dsr_by_hand() -> None:
    # x = [-1, 1, 1, 3]: mean 1, deviations -2,0,0,2; m2 = 2, m3 = 0, m4 = 8
    # -> skew 0, kurt 2; sample sd = sqrt(8/3) -> SR = sqrt(3/8).
    x = np.array([-1.0, 1.0, 1.0, 3.0])
    sr = math.sqrt(3 / 8)
    g = 0.5772156649015329
    inv = NormalDist().inv_cdf
    v, n = 0.04, 50
    sr0 = math.sqrt(v) * ((1 - g) * inv(1 - 1 / n) + g * inv(1 - 1 / (n * math.e)))
    denom = math.sqrt(1 - 0 * sr + (2 - 1) / 4 * sr**2)
    d = deflated_sharpe(x, n_trials=n, sr_variance=v)
    assert (d.n_obs, d.n_trials, d.sr_variance) == (4, 50, 0.04)
    assert d.skew == pytest.approx(0.0, abs=1e-12) and d.kurt == pytest.approx(2.0)
    assert d.sr == pytest.approx(sr) and d.sr0 == pytest.approx(sr0)
    assert d.dsr == pytest.approx(PHI((sr - sr0) * math.sqrt(3) / denom), abs=1e-12)
    assert d.psr == pytest.approx(PHI(sr * math.sqrt(3) / denom), abs=1e-12)
    assert d.dsr < d.psr  # deflating for 50 trials can only lower it
    # one trial: nothing to deflate for
    one = deflated_sharpe(x, n_trials=1, sr_variance=v)
    assert one.sr0 == 0.0 and one.dsr == one.psr


def test_psr_of_a_long_normal_series_follows_the_normal_formula() -> None:
    # For normal returns skew ~ 0 and kurt ~ 3: denominator sqrt(1 + SR^2 / 2).
    rng = np.random.default_rng(7)
    x = rng.normal(0.1, 1.0, size=20_000)
    sr = sharpe(x)
    expected = PHI(sr * math.sqrt(len(x) - 1) / math.sqrt(1 + sr**2 / 2))
    assert probabilistic_sharpe(x) == pytest.approx(expected, abs=2e-3)


def test_psr_and_dsr_undefined_are_nan() -> None:
    assert math.isnan(probabilistic_sharpe(np.zeros(10)))  # not trading: no Sharpe ratio
    assert math.isnan(probabilistic_sharpe(np.array([1.0])))
    assert math.isnan(probabilistic_sharpe(np.full(5, 2.0)))  # no spread
    assert math.isnan(deflated_sharpe(np.zeros(10), 10, 0.1).dsr)
    assert math.isnan(deflated_sharpe(np.arange(10.0), 10, math.nan).dsr)


def test_sr_variance_skips_rows_without_a_sharpe_ratio() -> None:
    m = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [1.0, 1.0, 4.0], [2.0, 0.0, 1.0]])
    srs = [sharpe(m[0]), sharpe(m[2]), sharpe(m[3])]
    assert sr_variance(m) == pytest.approx(float(np.var(srs, ddof=1)))
    assert math.isnan(sr_variance(np.zeros((3, 5))))


def test_null_sr_variance_by_hand() -> None:
    # Var(SR-hat) = (1 - skew SR + (kurt - 1)/4 SR^2) / (T - 1) is 1 / (T - 1) at SR = 0
    assert null_sr_variance(5) == 0.25 and null_sr_variance(2) == 1.0
    assert math.isnan(null_sr_variance(1)) and math.isnan(null_sr_variance(0))


@pytest.mark.parametrize("t", [16, 64])
def test_null_sr_variance_is_the_spread_of_sharpe_estimates_without_skill(t: int) -> None:
    rng = np.random.default_rng(t)
    srs = [sharpe(rng.standard_t(5, size=t)) for _ in range(20_000)]  # fat tails too
    assert float(np.var(srs)) == pytest.approx(null_sr_variance(t), rel=0.1)


def test_dsr_defaults_to_the_null_variance_by_hand() -> None:
    # x = [-1, 1, 1, 3] (see test_dsr_by_hand): T = 4, so V = 1/3
    x = np.array([-1.0, 1.0, 1.0, 3.0])
    d = deflated_sharpe(x, n_trials=50)
    assert d.sr_variance == pytest.approx(1 / 3)
    assert d.sr0 == pytest.approx(expected_max_sharpe(50, 1 / 3))
    assert d.dsr == pytest.approx(deflated_sharpe(x, 50, 1 / 3).dsr, abs=1e-15)


def test_dsr_of_the_best_noise_trial_rarely_reaches_095() -> None:
    # independent trials without skill: the best of 200 looks convincing undeflated, and
    # deflated for 200 trials passes 0.95 in at most a few percent of the draws
    passes, undeflated = 0, 0
    for seed in range(200):
        rng = np.random.default_rng(seed)
        m = rng.normal(size=(200, 64))
        best = int(np.argmax(m.mean(axis=1)))
        d = deflated_sharpe(m[best], n_trials=200)
        undeflated += d.psr > 0.95
        passes += d.dsr >= 0.95
    assert undeflated >= 190  # PSR against 0 would take nearly every one
    assert passes <= 10  # <= 5% (1 of 200 with these seeds)


def test_dsr_of_correlated_noise_trials_is_conservative() -> None:
    # trials that share most of their noise (a search around one point): the best of them
    # is less lucky than the best of 200 independent ones, so the DSR passes even less
    passes = 0
    for seed in range(100):
        rng = np.random.default_rng(1000 + seed)
        common = rng.normal(size=64)
        m = 0.9 * common + math.sqrt(1 - 0.81) * rng.normal(size=(200, 64))
        m -= m.mean(axis=1, keepdims=True)  # no skill in any row
        m += rng.normal(scale=0.05, size=(200, 1))  # luck of the draw per trial only
        best = int(np.argmax(m.mean(axis=1)))
        passes += deflated_sharpe(m[best], n_trials=200).dsr >= 0.95
    assert passes <= 5


def test_dsr_of_planted_skill_is_above_095() -> None:
    for seed in range(10):
        rng = np.random.default_rng(100 + seed)
        m = rng.normal(size=(200, 64))
        m[[3, 77, 150]] += 1.0
        for row in (3, 77, 150):
            assert deflated_sharpe(m[row], n_trials=200).dsr > 0.95


def test_a_market_where_skill_spreads_the_candidates_still_passes() -> None:
    # half the candidates have skill (SR ~ 1 per window), half none: the spread of their
    # Sharpe ratios is the skill itself. Measured against it (V = spread), SR0 grows with
    # the edge and the best candidate is refused; measured against the null (V = 1/(T-1))
    # it passes, and scaling the edge up only makes it pass more surely.
    rng = np.random.default_rng(5)
    m = rng.normal(size=(40, 16))
    m[:20] += 1.0
    best = int(np.argmax(m.mean(axis=1)))
    assert deflated_sharpe(m[best], 40, sr_variance(m)).dsr < 0.95
    assert deflated_sharpe(m[best], 40).dsr > 0.95
    bigger = m.copy()
    bigger[:20] += 7.0
    assert deflated_sharpe(bigger[best], 40).dsr >= deflated_sharpe(m[best], 40).dsr


# --- proportions ------------------------------------------------------------------------------


def test_wilson_interval_by_hand() -> None:
    # 0 of n: (0, z^2 / (n + z^2)); z = 1.959964 at 95%
    z2 = 1.959964**2
    lo, hi = binomial_interval(0, 20)
    assert lo == 0.0 and hi == pytest.approx(z2 / (20 + z2), abs=1e-6)
    lo, hi = binomial_interval(20, 20)
    assert hi == 1.0 and lo == pytest.approx(20 / (20 + z2), abs=1e-6)
    lo, hi = binomial_interval(10, 20)  # symmetric around 1/2
    assert lo + hi == pytest.approx(1.0) and lo == pytest.approx(0.2993, abs=1e-4)
    assert binomial_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(NotEnoughData, match="0 <= k <= n"):
        binomial_interval(3, 2)


def test_wilson_interval_covers_the_true_rate() -> None:
    rng = np.random.default_rng(2)
    p, n = 0.9, 40
    ks = rng.binomial(n, p, size=4000)
    covered = np.mean([lo <= p <= hi for lo, hi in (binomial_interval(int(k), n) for k in ks)])
    assert 0.92 <= covered <= 0.98  # about 95%


# --- robustness -------------------------------------------------------------------------------


def test_lower_quartile_ranks_a_plateau_above_a_spike() -> None:
    plateau = np.array([4.0, 5.0, 5.0, 6.0, 5.0, 4.0, 6.0, 5.0, 5.0])
    spike = np.array([-3.0, -2.0, -4.0, -1.0, 40.0, -2.0, -3.0, -1.0, -2.0])
    assert spike.max() > plateau.max()  # the spike's best point beats the plateau's
    assert lower_quartile(plateau) > lower_quartile(spike)
    assert lower_quartile(np.array([1.0, 2.0, 3.0, 4.0, 5.0])) == 2.0
    assert math.isnan(lower_quartile(np.array([])))
    assert math.isnan(lower_quartile(np.array([1.0, np.nan, 3.0])))


def test_results_are_immutable() -> None:
    r = pbo_cscv(np.array([[1, 2, 3, -2], [0, 0, 0, 0]]), blocks=4)
    with pytest.raises(ValueError, match="read-only"):
        r.logits[0] = 5.0
    with pytest.raises(AttributeError):
        r.pbo = 0.0  # type: ignore[misc]

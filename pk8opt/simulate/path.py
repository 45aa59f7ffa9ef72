"""The underlying's price path: a latent log price on a 100 ms grid, Binance and Chainlink
prints derived from it, the same for every session that covers the same seconds.

Three nested layers, each a Gaussian bridge between the anchors of the layer above, so
consecutive windows join exactly and the whole is one continuous path:

1. day anchors: an AR(1) in log price (slow pull towards the symbol's base level);
2. window anchors within a day: Gaussian increments scaled by a per-window volatility
   regime multiplier (AR(1) in logs), bridged to the next day's anchor;
3. the 100 ms path within a window: increments scaled by an intra-window stochastic
   volatility (OU in logs), plus Poisson jumps, bridged to the next window's anchor.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pk8opt.simulate.model import SECONDS_PER_YEAR, SimModel, SymbolModel

EPOCH_S = 1_767_225_600  # 2026-01-01T00:00:00Z: day 0 of the day-anchor walk
DT_S = 0.1  # latent path grid
STEPS_PER_S = 10


def rng_for(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng([seed & 0xFFFFFFFFFFFFFFFF, *keys])


def symbol_code(symbol: str) -> int:
    return int.from_bytes(symbol.upper().encode(), "big")


COMMON = int.from_bytes(b"common", "big")  # the key of the factor all symbols share


def mixed(
    rng: np.random.Generator,
    common: np.random.Generator | None,
    rho: float,
    draw: Callable[[np.random.Generator], np.ndarray],
) -> np.ndarray:
    """`draw` from the symbol's own generator, blended with the same draw from the common
    one: sqrt(1 - rho) * own + sqrt(rho) * common keeps each series' law and makes two
    symbols' series correlated by rho (the own draw alone when there is no common one)."""
    own = draw(rng)
    if common is None or rho <= 0:
        return own
    return math.sqrt(1.0 - rho) * own + math.sqrt(rho) * draw(common)


def _common_rng(model: SimModel, seed: int, *keys: int) -> np.random.Generator | None:
    """The shared factor's generator for the same layer and window, or None without one."""
    return rng_for(seed, COMMON, *keys) if model.symbol_correlation > 0 else None


def _day_dev(sym: SymbolModel, model: SimModel, seed: int, day: int) -> float:
    """Log price deviation from log(base) at 00:00 UTC of `day` (days since EPOCH_S)."""
    n = abs(day)
    if n == 0:
        return 0.0
    rng = rng_for(seed, symbol_code(sym.symbol), 1, 0 if day > 0 else 1)
    common = _common_rng(model, seed, 1, 0 if day > 0 else 1)
    z = mixed(rng, common, model.symbol_correlation, lambda g: g.standard_normal(n))
    eps = z * sym.annual_vol * math.sqrt(86400 / SECONDS_PER_YEAR)
    phi = 1.0 - model.day_reversion
    return float(np.dot(phi ** np.arange(n - 1, -1, -1), eps))


def ar1(rng: np.random.Generator, n: int, phi: float, sd: float) -> np.ndarray:
    z = rng.standard_normal(n) * sd
    out = np.empty(n)
    out[0] = z[0]
    k = math.sqrt(1.0 - phi * phi)
    for i in range(1, n):
        out[i] = phi * out[i - 1] + k * z[i]
    return out


def window_anchors(
    sym: SymbolModel, model: SimModel, seed: int, day: int, step_s: int
) -> tuple[np.ndarray, np.ndarray]:
    """Log-price deviations at the window boundaries of `day`, and each window's regime."""
    per_day = 86400 // step_s
    x0 = _day_dev(sym, model, seed, day)
    x1 = _day_dev(sym, model, seed, day + 1)
    rng = rng_for(seed, symbol_code(sym.symbol), 2, day + 1_000_000, step_s)
    common = _common_rng(model, seed, 2, day + 1_000_000, step_s)
    rho, phi, sd = model.symbol_correlation, model.regime_persistence, model.regime_vol_of_vol
    v = np.exp(mixed(rng, common, rho, lambda g: ar1(g, per_day, phi, sd)))
    v *= math.sqrt(per_day / float(np.sum(v * v)))
    sd_w = sym.annual_vol * math.sqrt(step_s / SECONDS_PER_YEAR)
    z = mixed(rng, common, rho, lambda g: g.standard_normal(per_day))
    e = z * sd_w * v
    w = v * v
    e += w / w.sum() * ((x1 - x0) - e.sum())
    return x0 + np.concatenate(([0.0], np.cumsum(e))), v


@dataclass(frozen=True)
class WindowPath:
    start_s: int
    log_price: np.ndarray  # n + 1 points at DT_S from start_s to start_s + step
    regime: float  # the window's volatility multiplier (1 = the symbol's annual_vol)
    noise_binance: np.ndarray  # one standard normal per second of the window
    noise_chainlink: np.ndarray


def window_path(
    sym: SymbolModel, model: SimModel, seed: int, start_s: int, step_s: int
) -> WindowPath:
    day, within = divmod(start_s - EPOCH_S, 86400)
    anchors, v = window_anchors(sym, model, seed, day, step_s)
    k = within // step_s
    a0, a1 = anchors[k], anchors[k + 1]
    n = step_s * STEPS_PER_S
    rng = rng_for(seed, symbol_code(sym.symbol), 3, start_s, step_s)
    common = _common_rng(model, seed, 3, start_s, step_s)
    rho, sd = model.symbol_correlation, model.intra_vol_of_vol
    phi = math.exp(-math.log(2) / model.intra_vol_halflife_s * DT_S)
    s = np.exp(mixed(rng, common, rho, lambda g: ar1(g, n, phi, sd)))
    s /= math.sqrt(float(np.mean(s * s)))
    sd_w = sym.annual_vol * math.sqrt(step_s / SECONDS_PER_YEAR) * float(v[k])
    z = mixed(rng, common, rho, lambda g: g.standard_normal(n))
    inc = z * s * (sd_w / math.sqrt(n))
    for _ in range(int(rng.poisson(model.jumps_per_hour * step_s / 3600))):
        inc[int(rng.integers(n))] += rng.standard_normal() * model.jump_size_sd * sd_w
    w = s * s
    inc += w / w.sum() * ((a1 - a0) - inc.sum())
    path = math.log(sym.base_price) + a0 + np.concatenate(([0.0], np.cumsum(inc)))
    noise = rng_for(seed, symbol_code(sym.symbol), 4, start_s, step_s).standard_normal((2, step_s))
    return WindowPath(start_s, path, float(v[k]), noise[0], noise[1])


@dataclass(frozen=True)
class SessionPath:
    """The latent path over [t0_s, t0_s + len * DT_S) and the printed series per second."""

    t0_s: int
    log_price: np.ndarray
    regime: float  # regime multiplier of the session's own window
    seconds: np.ndarray  # whole Unix seconds covered
    binance: np.ndarray  # Binance print at each of `seconds` (rounded to its decimals)
    chainlink: np.ndarray  # Chainlink value at each of `seconds`

    def x_at(self, t_s: float) -> float:
        i = int(round((t_s - self.t0_s) * STEPS_PER_S))
        return float(self.log_price[min(max(i, 0), len(self.log_price) - 1)])

    def chainlink_at(self, second: int) -> float:
        return float(self.chainlink[second - int(self.seconds[0])])


def session_path(
    sym: SymbolModel, model: SimModel, seed: int, start_s: int, step_s: int, tail_s: int
) -> SessionPath:
    """The path from one window before `start_s` to `tail_s` after the window end."""
    windows = [window_path(sym, model, seed, start_s - step_s, step_s)]
    cur = window_path(sym, model, seed, start_s, step_s)
    windows.append(cur)
    nxt_start = start_s + step_s
    while nxt_start < start_s + step_s + tail_s:
        windows.append(window_path(sym, model, seed, nxt_start, step_s))
        nxt_start += step_s
    log_price = np.concatenate([w.log_price[:-1] for w in windows] + [windows[-1].log_price[-1:]])
    noise_b = np.concatenate([w.noise_binance for w in windows])
    noise_c = np.concatenate([w.noise_chainlink for w in windows])
    t0 = start_s - step_s
    lag = int(round(model.chainlink_lag_s * STEPS_PER_S))
    first = (lag + STEPS_PER_S - 1) // STEPS_PER_S  # first second with a lagged latent value
    seconds = np.arange(t0 + first, nxt_start, dtype=np.int64)
    idx = (seconds - t0) * STEPS_PER_S
    b = 1 + noise_b[first:] * model.binance_noise_bp * 1e-4
    binance = np.round(np.exp(log_price[idx]) * b, sym.binance_decimals)
    c = 1 + noise_c[first:] * model.chainlink_noise_bp * 1e-4
    chainlink = np.exp(log_price[idx - lag]) * c
    return SessionPath(t0, log_price, cur.regime, seconds, binance, chainlink)

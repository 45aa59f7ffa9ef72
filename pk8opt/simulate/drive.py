"""Driving the market: fair value from the path, the makers' view of it, message
intensities, and the loop that turns them into requotes, level updates and trades."""

from __future__ import annotations

import math

import numpy as np

from pk8opt.simulate.market import MarketSim
from pk8opt.simulate.model import SECONDS_PER_YEAR, SimModel, SymbolModel
from pk8opt.simulate.path import DT_S, STEPS_PER_S, SessionPath, ar1


def _phi(x: np.ndarray) -> np.ndarray:
    return 0.5 * np.array([math.erfc(-v / math.sqrt(2)) for v in x.tolist()])


def fair_values(
    path: SessionPath, sym: SymbolModel, times: np.ndarray, start: int, end: int
) -> np.ndarray:
    """P(Chainlink at end >= Chainlink at start) as the makers see it at each time."""
    x = path.log_price[
        np.clip(((times - path.t0_s) * STEPS_PER_S).round().astype(int), 0, len(path.log_price) - 1)
    ]
    s0 = math.log(path.chainlink_at(start))
    var_s = (sym.annual_vol * path.regime) ** 2 / SECONDS_PER_YEAR
    tau = np.maximum(end - times, 0.5)
    sd = np.sqrt(var_s * tau)
    f = _phi((x - s0 - 0.5 * var_s * tau) / sd)
    f = np.where(times < start, 0.5, f)
    cl_end = math.log(path.chainlink_at(end))
    after = 0.5 * math.erfc(-(cl_end - s0) / math.sqrt(2 * var_s * 0.5))
    f = np.where(times >= end, after, f)
    return np.clip(f, 0.003, 0.997)


def run_market(
    sim: MarketSim,
    model: SimModel,
    rng: np.random.Generator,
    fair: np.ndarray,
    times: np.ndarray,
    start: int,
    end: int,
    dump_rng: np.random.Generator | None = None,
) -> None:
    """Requotes, level updates, takers and (with `dump_rng` and `model.dump_rate`)
    uninformed sellers, step by step over `times`, into `sim.out`."""
    n = len(times)
    phi = math.exp(-math.log(2) / 5.0 * DT_S)
    center = np.clip(fair + ar1(rng, n, phi, model.mm_noise), 0.002, 0.998)
    lag = 5 * STEPS_PER_S
    moved = np.abs(fair - np.concatenate((np.full(lag, fair[0]), fair[:-lag])))
    to_end = end - times
    end_term = np.where(
        to_end >= 0,
        model.busy_end_mult * np.exp(-np.abs(to_end) / model.busy_end_s),
        model.busy_end_mult * np.exp(to_end / model.after_end_decay_s),
    )
    busy = 1 + end_term + model.busy_move_mult * np.minimum(moved / 0.05, 3.0)
    busy *= np.where(to_end < 0, np.exp(to_end / model.after_end_decay_s), 1.0)
    quotes = rng.poisson(model.quote_rate * busy * DT_S)
    trades = rng.poisson(model.trade_rate * busy * DT_S)
    spread_redraw = rng.random(n) < model.spread_redraw_rate * DT_S
    offsets = rng.integers(0, 100, size=n)
    pending: float | None = None
    was_near_end = False
    clock = 0
    inertia = model.mm_inertia_ticks
    dumps = _dump_arrivals(model, dump_rng, times, start, end)
    for i in range(n):
        t = float(times[i])
        clock = max(clock, int(t * 1000) + int(offsets[i]))
        tbb, tba = sim.targets(float(center[i]), sim.spread_ticks)
        if pending is None:
            lbb, lba = sim.quoted
            off = max(abs(lbb - tbb), abs(lba - tba)) / sim.tick
            # a hole at the top (a fill, a cancel) is refilled as a target move would be
            hole = sim.bb() < lbb or sim.ba() > lba
            if off >= inertia or hole or spread_redraw[i]:
                pending = t + float(rng.exponential(model.mm_react_s))
        if pending is not None and t >= pending:
            near_end = 0 <= end - t <= 60
            redraw = bool(spread_redraw[i]) or near_end != was_near_end
            was_near_end = near_end
            clock = sim.requote(clock, float(center[i]), near_end, redraw) + 1
            pending = None
        for _ in range(int(quotes[i])):
            clock += int(rng.integers(1, 40))
            sim.noise_quote(clock)
        for _ in range(int(trades[i])):
            clock += int(rng.integers(1, 40))
            sim.trade(clock, float(fair[i]))
        for down, shares in dumps.get(i, ()):
            clock += int(rng.integers(1, 40))
            sim.dump(clock, down, shares)


def _dump_arrivals(
    model: SimModel, rng: np.random.Generator | None, times: np.ndarray, start: int, end: int
) -> dict[int, list[tuple[bool, float]]]:
    """Uninformed sellers by step: (sells Down?, shares). Poisson, `dump_rate` per second
    per token while the window is open, sizes lognormal; nothing without `rng`."""
    if rng is None or model.dump_rate <= 0:
        return {}
    live = (times >= start) & (times < end)
    counts = rng.poisson(model.dump_rate * DT_S, size=(len(times), 2)) * live[:, None]
    out: dict[int, list[tuple[bool, float]]] = {}
    for i, token in zip(*np.nonzero(counts), strict=True):
        for _ in range(int(counts[i, token])):
            z = float(rng.standard_normal())
            shares = model.dump_size_median * math.exp(z * model.dump_size_sigma)
            out.setdefault(int(i), []).append((bool(token), shares))
    return out

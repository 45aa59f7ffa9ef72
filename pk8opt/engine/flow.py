"""Maker flow: simulated sell orders hitting resting bids, a function of time and seed.

Arrivals per token form a Poisson process of rate `flow_base` per second, drawn in
fixed 60-second blocks whose random generator is seeded by (seed, market, token, block).
The arrivals therefore depend only on time and seed, never on how many events a driver
delivers or when it asks, so replay and the live runner see the same flow.

An arrival at time t sells `flow_depth_scale * best_bid_size * exp(s*z - s^2/2)` shares
(s = `flow_noise`, z standard normal) into the bids from the best price down. It reaches
an order only after the visible size at better prices and the order's queue ahead.
"""

from __future__ import annotations

import zlib
from bisect import bisect_right

import numpy as np

BLOCK_NS = 60_000_000_000


class MakerFlow:
    def __init__(self, seed: int, market_key: str, rate_per_s: float) -> None:
        self.seed = int(seed)
        self.key = zlib.crc32(market_key.encode())
        self.rate = float(rate_per_s)
        self._blocks: dict[tuple[int, int], tuple[list[int], list[float]]] = {}

    def block(self, token: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The arrivals of `token` in block `k` (from `k * BLOCK_NS`, 60 s long): their
        times in ns (int64, ascending) and normal draws z (float64). Drawn anew at each
        call, always the same for the same seed, market, token and block."""
        rng = np.random.default_rng([self.seed, self.key, token, k])
        n = int(rng.poisson(self.rate * BLOCK_NS / 1e9)) if self.rate > 0 else 0
        offsets = np.sort(rng.integers(0, BLOCK_NS, n, dtype=np.int64))
        z = rng.standard_normal(n)
        return offsets + k * BLOCK_NS, z

    def arrivals(self, token: int, first: int, last: int) -> tuple[np.ndarray, np.ndarray]:
        """`block` of blocks `first` to `last` (included), joined: times and z."""
        parts = [self.block(token, k) for k in range(first, last + 1)]
        if not parts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def _block(self, token: int, k: int) -> tuple[list[int], list[float]]:
        got = self._blocks.get((token, k))
        if got is None:
            times, z = self.block(token, k)
            got = self._blocks[(token, k)] = (times.tolist(), z.tolist())
        return got

    def next_after(self, token: int, t_ns: int) -> tuple[int, float]:
        """The first arrival strictly after `t_ns`: (time_ns, z).

        Compiled twin: pk8opt.backtest.compiled.engine.next_flow.
        """
        if self.rate <= 0:
            return (1 << 62, 0.0)
        k = max(t_ns, 0) // BLOCK_NS
        for _ in range(10_000):
            times, z = self._block(token, k)
            lo = bisect_right(times, t_ns)
            if lo < len(times):
                return times[lo], z[lo]
            k += 1
        return (1 << 62, 0.0)

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

import numpy as np

BLOCK_NS = 60_000_000_000


class MakerFlow:
    def __init__(self, seed: int, market_key: str, rate_per_s: float) -> None:
        self.seed = int(seed)
        self.key = zlib.crc32(market_key.encode())
        self.rate = float(rate_per_s)
        self._blocks: dict[tuple[int, int], tuple[list[int], list[float]]] = {}

    def _block(self, token: int, k: int) -> tuple[list[int], list[float]]:
        got = self._blocks.get((token, k))
        if got is None:
            rng = np.random.default_rng([self.seed, self.key, token, k])
            n = int(rng.poisson(self.rate * BLOCK_NS / 1e9)) if self.rate > 0 else 0
            offsets = np.sort(rng.integers(0, BLOCK_NS, n, dtype=np.int64))
            z = rng.standard_normal(n)
            got = ((offsets + k * BLOCK_NS).tolist(), z.tolist())
            self._blocks[(token, k)] = got
        return got

    def next_after(self, token: int, t_ns: int) -> tuple[int, float]:
        """The first arrival strictly after `t_ns`: (time_ns, z)."""
        if self.rate <= 0:
            return (1 << 62, 0.0)
        k = max(t_ns, 0) // BLOCK_NS
        for _ in range(10_000):
            times, z = self._block(token, k)
            lo, hi = 0, len(times)
            while lo < hi:  # bisect_right
                mid = (lo + hi) // 2
                if times[mid] <= t_ns:
                    lo = mid + 1
                else:
                    hi = mid
            if lo < len(times):
                return times[lo], z[lo]
            k += 1
        return (1 << 62, 0.0)

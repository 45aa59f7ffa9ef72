"""Maker flow: simulated sell orders hitting resting bids, a function of time and seed.

Arrivals per token form a Poisson process of rate `flow_base` per second, drawn in
fixed 60-second blocks whose random generator is seeded by (seed, market, token, block).
The arrivals therefore depend only on time and seed, never on how many events a driver
delivers or when it asks, so replay and the live runner see the same flow.

An arrival at time t sells `flow_depth_scale * best_bid_size * exp(s*z - s^2/2)` shares
(s = `flow_noise`, z standard normal) into the bids from the best price down. It reaches
an order only after the visible size at better prices and the order's queue ahead.

Cost. `MakerFlow.block` is the definition; seeding its generator (numpy's SeedSequence
hash, then PCG64's initial state) costs more than the draws at the default rate. The
drivers draw through `MakerFlow.draw` instead: the same numbers, from the generator
state numpy's seeding gives, kept per block (`_seeded`: it does not depend on the rate,
so replaying a session again, at any rate, seeds nothing) and set on one reused
generator. The compiled replay draws the same numbers from the same kept states
(`block_states`) with numpy's algorithms compiled (pk8opt.backtest.compiled.flow_draws).
"""

from __future__ import annotations

import zlib
from bisect import bisect_right
from collections import OrderedDict

import numpy as np

BLOCK_NS = 60_000_000_000

# (seed, market key, token, block) -> the PCG64 state numpy's seeding of that block's
# generator gives, packed (state << 128 | inc). About 380 bytes a block; the oldest go
# past _SEEDED_MAX (25 MB: about 1,700 fifteen-minute sessions of both tokens)
_SEEDED: OrderedDict[tuple[int, int, int, int], int] = OrderedDict()
_SEEDED_MAX = 1 << 16
_MASK128 = (1 << 128) - 1
_MASK64 = (1 << 64) - 1


def _seeded(seed: int, key: int, token: int, k: int) -> int:
    """The packed initial state of block `k`'s generator (see `_SEEDED`)."""
    where = (seed, key, token, k)
    got = _SEEDED.get(where)
    if got is None:
        st = np.random.PCG64([seed, key, token, k]).state["state"]
        got = st["state"] << 128 | st["inc"]
        if len(_SEEDED) >= _SEEDED_MAX:
            _SEEDED.popitem(last=False)
        _SEEDED[where] = got
    return got


def block_states(seed: int, key: int, token: int, first: int, last: int) -> np.ndarray:
    """The initial generator states (`_seeded`) of blocks `first` to `last` (included)
    of `token`, a row of four uint64 words each: the state's high and low word, then
    the increment's. What the compiled replay draws its arrivals from
    (pk8opt.backtest.compiled.flow_draws)."""
    words: list[int] = []
    for k in range(first, last + 1):
        p = _seeded(seed, key, token, k)
        words += (p >> 192, (p >> 128) & _MASK64, (p >> 64) & _MASK64, p & _MASK64)
    return np.array(words, dtype=np.uint64).reshape(-1, 4)


class MakerFlow:
    def __init__(self, seed: int, market_key: str, rate_per_s: float) -> None:
        self.seed = int(seed)
        self.key = zlib.crc32(market_key.encode())
        self.rate = float(rate_per_s)
        self._blocks: dict[tuple[int, int], tuple[list[int], list[float]]] = {}
        self._rng: np.random.Generator | None = None  # `draw`'s, made on first use

    def block(self, token: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The arrivals of `token` in block `k` (from `k * BLOCK_NS`, 60 s long): their
        times in ns (int64, ascending) and normal draws z (float64). Drawn anew at each
        call, always the same for the same seed, market, token and block."""
        rng = np.random.default_rng([self.seed, self.key, token, k])
        n = int(rng.poisson(self.rate * BLOCK_NS / 1e9)) if self.rate > 0 else 0
        offsets = np.sort(rng.integers(0, BLOCK_NS, n, dtype=np.int64))
        z = rng.standard_normal(n)
        return offsets + k * BLOCK_NS, z

    def draw(self, token: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """`block(token, k)`, drawn from the kept seeding (`_seeded`) by this flow's
        generator: the same calls from the same state give the same numbers. Its times
        as offsets from the block's start (sorted) and z."""
        if self.rate <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        rng = self._rng
        if rng is None:
            rng = self._rng = np.random.Generator(np.random.PCG64(0))
        packed = _seeded(self.seed, self.key, token, k)
        rng.bit_generator.state = {
            "bit_generator": "PCG64",
            "state": {"state": packed >> 128, "inc": packed & _MASK128},
            "has_uint32": 0,
            "uinteger": 0,
        }
        n = int(rng.poisson(self.rate * BLOCK_NS / 1e9))
        offsets = rng.integers(0, BLOCK_NS, n, dtype=np.int64)
        offsets.sort()
        return offsets, rng.standard_normal(n)

    def arrivals(self, token: int, first: int, last: int) -> tuple[np.ndarray, np.ndarray]:
        """`block` of blocks `first` to `last` (included), joined: times and z."""
        parts = [self.draw(token, k) for k in range(first, last + 1)]
        if not parts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        starts = np.arange(first, last + 1, dtype=np.int64) * BLOCK_NS
        times = np.concatenate([p[0] for p in parts])
        times += np.repeat(starts, [len(p[1]) for p in parts])
        return times, np.concatenate([p[1] for p in parts])

    def _block(self, token: int, k: int) -> tuple[list[int], list[float]]:
        got = self._blocks.get((token, k))
        if got is None:
            offsets, z = self.draw(token, k)
            offsets += k * BLOCK_NS
            got = self._blocks[(token, k)] = (offsets.tolist(), z.tolist())
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

"""The maker flow's arrivals as numba code: the very numbers `MakerFlow.block` draws
with numpy (pk8opt/engine/flow.py), all the blocks of a token in one call.

Why. A calibration trial at a new flow rate draws every block of every session again
(about 17 blocks of each token a fifteen-minute session). numpy pays per block a state
set and a Python call per draw, and per number an indirect call to the generator; here
the generator and the three draws compile together into one loop over the blocks.

What. Per block, from the generator state numpy's seeding of it gives
(`pk8opt.engine.flow.block_states`): `n = poisson(lam)`, then n int64 offsets in
[0, BLOCK_NS) (`integers(0, BLOCK_NS, n, dtype=int64)`), sorted, then n standard normal
z (`standard_normal(n)`). Each is a port of numpy's own algorithm, so that the same
state gives the same numbers, bit for bit:

- the generator: PCG64 of numpy/random/src/pcg64/pcg64.h (`pcg64_next64`: a 128-bit
  LCG advanced, then its XSL-RR output), each 128-bit word held as two uint64. These
  draws take whole 64-bit outputs only, so PCG64's buffered 32-bit half never counts;
- `poisson`: `random_poisson` of numpy/random/src/distributions/distributions.c (the
  multiplication method below lam 10, Hoermann's PTRS from 10 up, with its
  `random_loggam`), on `next_double` = (next 64 bits >> 11) / 2**53;
- `offset`: `random_bounded_uint64_fill` of distributions.c for a range above 32 bits
  (`bounded_lemire_uint64`, Lemire's method; rng = high - 1 - low = BLOCK_NS - 1);
- `normal`: `random_standard_normal` of distributions.c (the ziggurat; its tables in
  `ziggurat`).

The offsets are sorted by bucket then insertion (uniform, about one a bucket); any
correct sort of int64s gives the same bytes. tests/unit/backtest/test_compiled_flow_draws.py
compares each part with numpy exactly, and fails first if numpy changes an algorithm.
"""

from __future__ import annotations

import math

import numpy as np

from pk8opt.backtest.compiled.jit import nopython, nopython_noref
from pk8opt.backtest.compiled.ziggurat import FI, KI, NOR_INV_R, NOR_R, WI
from pk8opt.engine.flow import BLOCK_NS

_U0, _U1, _U8 = np.uint64(0), np.uint64(1), np.uint64(8)
_M32 = np.uint64(0xFFFFFFFF)
_SH32, _SH58, _SH11 = np.uint64(32), np.uint64(58), np.uint64(11)
_LOW63 = np.uint64(63)
_MUL_HI = np.uint64(2549297995355413924)  # PCG_DEFAULT_MULTIPLIER_HIGH
_MUL_LO = np.uint64(4865540595714422341)  # PCG_DEFAULT_MULTIPLIER_LOW
_TO_DOUBLE = 1.0 / 9007199254740992.0  # 2**-53
# the offsets' range (rng + 1, rng = BLOCK_NS - 1) and Lemire's rejection threshold
# (UINT64_MAX - rng) % (rng + 1), given to the compiled code as arguments: numba's disk
# cache is checked against the files of `jit.SOURCES`, which pk8opt/engine/flow.py is not
_RANGE = np.uint64(BLOCK_NS)
_THRESHOLD = np.uint64(((1 << 64) - 1 - (BLOCK_NS - 1)) % BLOCK_NS)
_BYTE, _SIGN = np.uint64(0xFF), np.uint64(0x000FFFFFFFFFFFFF)
_LOGGAM_A = np.array(
    [
        8.333333333333333e-02, -2.777777777777778e-03, 7.936507936507937e-04,
        -5.952380952380952e-04, 8.417508417508418e-04, -1.917526917526918e-03,
        6.410256410256410e-03, -2.955065359477124e-02, 1.796443723688307e-01,
        -1.39243221690590e00,
    ]
)  # fmt: skip
_LG2PI = 1.8378770664093453e00  # log(2 pi), as random_loggam writes it
_LAM_MAX = 1e9  # above it (or not a number): numpy's own draws (and its errors)
_LEMIRE64 = BLOCK_NS - 1 > 0xFFFFFFFF  # the range `offset` draws as numpy does


@nopython_noref
def mul_high(a, b):
    """No Python twin: the high 64 bits of the 128-bit product a * b."""
    a_lo, a_hi = a & _M32, a >> _SH32
    b_lo, b_hi = b & _M32, b >> _SH32
    lo_hi = a_lo * b_hi
    hi_lo = a_hi * b_lo
    mid = ((a_lo * b_lo) >> _SH32) + (lo_hi & _M32) + (hi_lo & _M32)
    return a_hi * b_hi + (lo_hi >> _SH32) + (hi_lo >> _SH32) + (mid >> _SH32)


@nopython_noref
def next64(st):
    """No Python twin: PCG64's next output (numpy's pcg64.h, `pcg64_next64`). `st`: the
    state's high and low words, then the increment's, advanced in place."""
    hi, lo = st[0], st[1]
    new_lo = lo * _MUL_LO
    new_hi = mul_high(lo, _MUL_LO) + lo * _MUL_HI + hi * _MUL_LO
    lo = new_lo + st[3]
    hi = new_hi + st[2] + (_U1 if lo < new_lo else _U0)
    st[0], st[1] = hi, lo
    x = hi ^ lo
    rot = hi >> _SH58
    return (x >> rot) | (x << ((_U0 - rot) & _LOW63))


@nopython_noref
def next_double(st):
    """No Python twin: a double in [0, 1) from 53 bits (numpy's `next_double`)."""
    return float(np.int64(next64(st) >> _SH11)) * _TO_DOUBLE


@nopython_noref
def loggam(x):
    """No Python twin: log gamma of x, numpy's `random_loggam` (distributions.c)."""
    if x == 1.0 or x == 2.0:
        return 0.0
    n = int(7.0 - x) if x < 7.0 else 0
    x0 = x + n
    x2 = (1.0 / x0) * (1.0 / x0)
    gl0 = _LOGGAM_A[9]
    for k in range(8, -1, -1):
        gl0 *= x2
        gl0 += _LOGGAM_A[k]
    gl = gl0 / x0 + 0.5 * _LG2PI + (x0 - 0.5) * math.log(x0) - x0
    if x < 7.0:
        for _ in range(n):
            gl -= math.log(x0 - 1.0)
            x0 -= 1.0
    return gl


@nopython_noref
def poisson(st, lam):
    """No Python twin: a Poisson draw of mean lam, numpy's `random_poisson`
    (distributions.c): `random_poisson_mult` below 10, `random_poisson_ptrs` from 10."""
    if lam == 0.0:
        return 0
    if lam < 10.0:
        enlam = math.exp(-lam)
        x, prod = 0, 1.0
        while True:
            prod *= next_double(st)
            if prod > enlam:
                x += 1
            else:
                return x
    slam, loglam = math.sqrt(lam), math.log(lam)
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    invalpha = 1.1239 + 1.1328 / (b - 3.4)
    vr = 0.9277 - 3.6224 / (b - 2)
    while True:
        u = next_double(st) - 0.5
        v = next_double(st)
        us = 0.5 - abs(u)
        k = int(math.floor((2 * a / us + b) * u + lam + 0.43))
        if us >= 0.07 and v <= vr:
            return k
        if k < 0 or (us < 0.013 and v > us):
            continue
        if (math.log(v) + math.log(invalpha) - math.log(a / (us * us) + b)) <= (
            -lam + k * loglam - loggam(float(k + 1))
        ):
            return k


@nopython_noref
def offset(st, span, threshold):
    """No Python twin: an int64 in [0, span), numpy's `bounded_lemire_uint64`
    (distributions.c) for rng = span - 1 (above 32 bits), as
    `random_bounded_uint64_fill` draws it. `span`, `threshold`: `_RANGE`, `_THRESHOLD`."""
    x = next64(st)
    leftover = x * span
    if leftover < span:
        while leftover < threshold:
            x = next64(st)
            leftover = x * span
    return np.int64(mul_high(x, span))


@nopython_noref
def normal(st):
    """No Python twin: a standard normal draw, numpy's ziggurat `random_standard_normal`
    (distributions.c): its first try, which returns 99.3% of the time (kept small, so
    that it compiles into its caller), then `normal_retried`."""
    r = next64(st)
    idx = r & _BYTE
    r >>= _U8
    rabs = (r >> _U1) & _SIGN
    x = float(np.int64(rabs)) * WI[idx]  # below 2**52: exact, and a cheap conversion
    if r & _U1:
        x = -x
    if rabs < KI[idx]:
        return x
    return normal_retried(st, idx, rabs, x)


@nopython_noref
def normal_retried(st, idx, rabs, x):
    """No Python twin: `random_standard_normal` (distributions.c) from its try of strip
    `idx` (`rabs`, giving `x`) on, that try not inside the strip's rectangle: the tail
    (strip 0) or the wedge, then the next try."""
    while True:
        if idx == _U0:
            while True:
                xx = -NOR_INV_R * math.log1p(-next_double(st))
                yy = -math.log1p(-next_double(st))
                if yy + yy > xx * xx:
                    return -(NOR_R + xx) if (rabs >> _U8) & _U1 else NOR_R + xx
        elif (FI[idx - _U1] - FI[idx]) * next_double(st) + FI[idx] < math.exp(-0.5 * x * x):
            return x
        r = next64(st)
        idx = r & _BYTE
        r >>= _U8
        rabs = (r >> _U1) & _SIGN
        x = float(np.int64(rabs)) * WI[idx]
        if r & _U1:
            x = -x
        if rabs < KI[idx]:
            return x


@nopython_noref
def sorted_offsets(st, out, tmp, heads, span, threshold):
    """No Python twin: fills `out` with `offset` draws, sorted: each drawn into `tmp`
    and counted in its bucket (2**shift ns wide: about one offset a bucket), moved to
    its bucket's place in `out`, then sorted there by insertion. Scratch: `tmp` of
    len(out) and `heads` of 2 len(out) + 2 at least."""
    n = out.shape[0]
    shift, m = 0, np.int64(span) - 1
    while m > 0:  # the bits of span - 1, less those of n
        shift += 1
        m >>= 1
    m = n
    while m > 0 and shift > 0:
        shift -= 1
        m >>= 1
    nb = ((np.int64(span) - 1) >> shift) + 1  # at most 2 n
    for j in range(nb + 1):
        heads[j] = 0
    for i in range(n):
        x = offset(st, span, threshold)
        tmp[i] = x
        heads[(x >> shift) + 1] += 1
    for j in range(nb):
        heads[j + 1] += heads[j]
    for i in range(n):
        x = tmp[i]
        j = x >> shift
        out[heads[j]] = x
        heads[j] += 1
    for i in range(1, n):
        x = out[i]
        j = i
        while j > 0 and out[j - 1] > x:
            out[j] = out[j - 1]
            j -= 1
        out[j] = x


@nopython
def draw_blocks(states, lam, first, span, threshold):
    """No Python twin (its definition, drawn with numpy: pk8opt.engine.flow.MakerFlow.block).
    The arrivals of blocks `first`, `first` + 1, ... (one a row of `states`: its
    generator's initial state words, see `next64`), joined: times in ns, z. `span`,
    `threshold`: `_RANGE` (the block's length) and `_THRESHOLD`."""
    m = states.shape[0]
    after = states.copy()
    counts = np.zeros(m + 1, dtype=np.int64)
    for b in range(m):
        counts[b + 1] = counts[b] + poisson(after[b], lam)
    widest = 0
    for b in range(m):
        widest = max(widest, counts[b + 1] - counts[b])
    times = np.empty(counts[m], dtype=np.int64)
    z = np.empty(counts[m], dtype=np.float64)
    tmp = np.empty(widest, dtype=np.int64)
    heads = np.empty(2 * widest + 2, dtype=np.int64)
    for b in range(m):
        st = after[b]
        lo, hi = counts[b], counts[b + 1]
        sorted_offsets(st, times[lo:hi], tmp, heads, span, threshold)
        start = (first + b) * np.int64(span)
        for i in range(lo, hi):
            times[i] += start
            z[i] = normal(st)
    return times, z


def arrivals(states: np.ndarray, rate: float, first: int) -> tuple[np.ndarray, np.ndarray] | None:
    """`MakerFlow.arrivals` at `rate` per second, from its blocks' initial states (rows
    of `pk8opt.engine.flow.block_states`, the first of block `first`): times in ns and
    z. None where numpy's own draws must run: a rate of no finite mean or past
    `_LAM_MAX`, or blocks too short for `offset`. A rate of zero or less draws nothing,
    as `MakerFlow.draw`."""
    rate = float(rate)
    if rate <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    lam = rate * BLOCK_NS / 1e9  # as MakerFlow.block computes it
    if not (lam < _LAM_MAX and _LEMIRE64):
        return None
    return draw_blocks(states, lam, first, _RANGE, _THRESHOLD)

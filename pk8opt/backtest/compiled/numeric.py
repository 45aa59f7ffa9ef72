"""Float arithmetic the compiled replay must do exactly as Python does.

`round5(x)` is CPython's `round(x, 5)` for finite x >= 0: the exact binary value of x
rounded to 5 decimals, ties to even, then the nearest double. A naive
`rint(x * 1e5) / 1e5` differs where `x * 1e5` rounds across a half; here the product is
taken exactly (Dekker's two-product: 1e5 fits in 17 bits, so the split of x alone is
enough) and the tie is decided on the exact value. Tested against `round` in
tests/unit/test_compiled_numeric.py.
"""

from __future__ import annotations

import numpy as np

from pk8opt.backtest.compiled.jit import nopython

_SPLIT = 134217729.0  # 2**27 + 1
MIN_FEE_USDC = 0.00001


@nopython
def round5(x: float) -> float:
    y = x * 100000.0
    c = _SPLIT * x
    xh = c - (c - x)
    xl = x - xh
    err = (xh * 100000.0 - y) + xl * 100000.0  # x * 1e5 == y + err exactly
    r = np.floor(y)
    s = (y - r - 0.5) + err  # the sign of (exact fraction - 1/2)
    if s > 0.0 or (s == 0.0 and r % 2.0 != 0.0):
        r += 1.0
    return r / 100000.0


@nopython
def taker_fee(shares: float, price: float, has: bool, rate: float, exponent: float) -> float:
    """`engine.fees.taker_fee_usdc` (has: a fee schedule is set)."""
    if not has or rate <= 0.0 or shares <= 0.0:
        return 0.0
    raw = shares * rate * (price * (1.0 - price)) ** exponent
    v = round5(raw)
    return v if v > MIN_FEE_USDC else MIN_FEE_USDC


@nopython
def maker_rebate(
    shares: float, price: float, has: bool, rate: float, exponent: float, rebate_rate: float
) -> float:
    """`engine.fees.maker_rebate_usdc`."""
    if not has or rebate_rate <= 0.0:
        return 0.0
    return rebate_rate * taker_fee(shares, price, has, rate, exponent)

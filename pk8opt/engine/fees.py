"""Taker fees from the market's own fee schedule, and the maker rebate they fund
(PROTOCOL.md "Fees").

`round5`, `taker_fee` and `maker_rebate` are the one source of the fee arithmetic: plain
Python the engine calls, written only with what numba compiles, so the compiled replay
compiles these very functions (`pk8opt.backtest.compiled.numeric`). Keep them so: floats
and ints, `math`, no objects; a change here changes both engines alike.
"""

from __future__ import annotations

from pk8opt.recordings.manifest import FeeSchedule

MIN_FEE_USDC = 0.00001
_SPLIT = 134217729.0  # 2**27 + 1


def round5(x: float) -> float:
    """CPython's `round(x, 5)` for finite x >= 0, in arithmetic numba compiles alike.

    The exact binary value of x rounded to 5 decimals, ties to even, then the nearest
    double. A naive `rint(x * 1e5) / 1e5` differs where `x * 1e5` rounds across a half;
    here the product is taken exactly (Dekker's two-product: 1e5 fits in 17 bits, so the
    split of x alone is enough) and the tie is decided on the exact value. Tested against
    `round` in tests/unit/backtest/test_compiled_replay.py.

    Compiled twin: pk8opt.backtest.compiled.numeric.round5 (this function, compiled).
    """
    y = x * 100000.0
    c = _SPLIT * x
    xh = c - (c - x)
    xl = x - xh
    err = (xh * 100000.0 - y) + xl * 100000.0  # x * 1e5 == y + err exactly
    r = y - y % 1.0  # floor(y), exactly, as a float (y >= 0)
    s = (y - r - 0.5) + err  # the sign of (exact fraction - 1/2)
    if s > 0.0 or (s == 0.0 and r % 2.0 != 0.0):
        r += 1.0
    return r / 100000.0


def taker_fee(shares: float, price: float, has: bool, rate: float, exponent: float) -> float:
    """`taker_fee_usdc` over plain numbers (has: a fee schedule is set).

    Compiled twin: pk8opt.backtest.compiled.numeric.taker_fee (this function, compiled).
    """
    if not has or rate <= 0.0 or shares <= 0.0:
        return 0.0
    raw = shares * rate * (price * (1.0 - price)) ** exponent
    v = round5(raw)
    return v if v > MIN_FEE_USDC else MIN_FEE_USDC


def maker_rebate(
    shares: float, price: float, has: bool, rate: float, exponent: float, rebate_rate: float
) -> float:
    """`maker_rebate_usdc` over plain numbers.

    Compiled twin: pk8opt.backtest.compiled.numeric.maker_rebate (this function, compiled).
    """
    if not has or rebate_rate <= 0.0:
        return 0.0
    return rebate_rate * taker_fee(shares, price, has, rate, exponent)


def taker_fee_usdc(shares: float, price: float, schedule: FeeSchedule | None) -> float:
    """`C * rate * (p * (1 - p)) ** exponent`, rounded to 5 decimals, at least 0.00001.

    No schedule (or a zero rate) means no fee. Makers never call this: they pay nothing.
    """
    if schedule is None:
        return 0.0
    return taker_fee(shares, price, True, schedule.rate, schedule.exponent)


def maker_rebate_usdc(shares: float, price: float, schedule: FeeSchedule | None) -> float:
    """Estimated rebate earned by a maker fill: `rebate_rate` of the fee its taker paid.

    Makers share `rebate_rate` of the taker fees daily, pro rata of their filled maker
    liquidity; a maker's share of the pool is then the rebate rate times the fees of the
    trades that took its orders. It is paid the next day, so the engine counts it apart
    from cash (`rebate_est_usdc`), never in the session's P&L.
    """
    if schedule is None:
        return 0.0
    s = schedule
    return maker_rebate(shares, price, True, s.rate, s.exponent, s.rebate_rate)

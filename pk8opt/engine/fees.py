"""Taker fees from the market's own fee schedule (PROTOCOL.md "Fees")."""

from __future__ import annotations

from pk8opt.recordings.manifest import FeeSchedule

MIN_FEE_USDC = 0.00001


def taker_fee_usdc(shares: float, price: float, schedule: FeeSchedule | None) -> float:
    """`C * rate * (p * (1 - p)) ** exponent`, rounded to 5 decimals, at least 0.00001.

    No schedule (or a zero rate) means no fee. Makers never call this: they pay nothing.
    """
    if schedule is None or schedule.rate <= 0.0 or shares <= 0.0:
        return 0.0
    raw = shares * schedule.rate * (price * (1.0 - price)) ** schedule.exponent
    return max(round(raw, 5), MIN_FEE_USDC)

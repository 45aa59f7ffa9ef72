"""Taker fees from the market's own fee schedule, and the maker rebate they fund
(PROTOCOL.md "Fees")."""

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


def maker_rebate_usdc(shares: float, price: float, schedule: FeeSchedule | None) -> float:
    """Estimated rebate earned by a maker fill: `rebate_rate` of the fee its taker paid.

    Makers share `rebate_rate` of the taker fees daily, pro rata of their filled maker
    liquidity; a maker's share of the pool is then the rebate rate times the fees of the
    trades that took its orders. It is paid the next day, so the engine counts it apart
    from cash (`rebate_est_usdc`), never in the session's P&L.
    """
    if schedule is None or schedule.rebate_rate <= 0.0:
        return 0.0
    return schedule.rebate_rate * taker_fee_usdc(shares, price, schedule)

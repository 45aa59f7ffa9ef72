"""The built-in strategies' quotes as numba functions, for the compiled replay.

Each is `quote(p, ctx, out)`: `p` the strategy's `compiled_params()`, `ctx` the context
(`pk8opt.backtest.compiled.kernel.C_*`, NaN for a missing price), `out` six floats, per
token (Up, then Down): price (NaN: no order), shares, reason (an index into the
strategy's `whys`). Each mirrors its class's `quote` operation for operation, so both
give the same answers (tests/unit/test_compiled_replay.py).
"""

from __future__ import annotations

import math

from pk8opt.backtest.compiled.jit import nopython_noref

EPS = 1e-9

# kernel.C_* positions
_TAU, _WINDOW, _BY, _AY, _BN, _AN = 0, 1, 2, 3, 4, 5
_MIN_SIZE, _TICK_UP, _TICK_DN, _QY, _QN, _COST_Y, _COST_N, _EXPOSURE = 8, 10, 11, 12, 13, 14, 15, 16


@nopython_noref
def _set(out, leg, px, q, why):
    out[3 * leg] = px
    out[3 * leg + 1] = q
    out[3 * leg + 2] = why


@nopython_noref
def noop(p, ctx, out):
    """whys: ("noop",)"""
    _set(out, 0, math.nan, 0.0, 0)
    _set(out, 1, math.nan, 0.0, 0)


@nopython_noref
def fixed(p, ctx, out):
    """p: up_price, down_price, size, max_inventory; whys: ("off", "CAP", "fixed")"""
    for leg in range(2):
        px = p[leg]
        held = ctx[_QY + leg]
        if px <= 0.0:
            _set(out, leg, math.nan, 0.0, 0)
        elif held >= p[3]:
            _set(out, leg, math.nan, 0.0, 1)
        else:
            _set(out, leg, px, p[2], 2)


@nopython_noref
def join(p, ctx, out):
    """p: up (0/1), down (0/1), size; whys: ("off", "BOOK", "join")"""
    for leg in range(2):
        if p[leg] == 0.0:
            _set(out, leg, math.nan, 0.0, 0)
            continue
        bid = ctx[_BY] if leg == 0 else ctx[_BN]
        if bid != bid:
            _set(out, leg, math.nan, 0.0, 1)
        else:
            _set(out, leg, bid, p[2], 2)


# balanced_arb: whys are its gates, then "lag", "entry"
ZONE, BOOK, CROSSED, SPREAD, CAP, IMBALANCE, EDGE, PRICE, EXPOSURE, LAG, ENTRY = range(11)


@nopython_noref
def _arb_leg(p, ctx, out, leg, bid, ask, tick, q_leg, q_other, cost_other, px, px_other):
    # p: 0 limit, 1 spread, 2 min_px, 3 max_px, 4 size, 5 max_inventory, 6 max_imbalance,
    # 7 max_exposure_usdc, 8 stop_before_end_seconds, 9 start_after_seconds,
    # 10 join_ticks, 11 lag_boost_ticks
    if bid >= ask:
        _set(out, leg, math.nan, 0.0, CROSSED)
        return
    if ask - bid > int(p[1]):
        _set(out, leg, math.nan, 0.0, SPREAD)
        return
    if q_leg >= p[5] - EPS:
        _set(out, leg, math.nan, 0.0, CAP)
        return
    lead = q_leg - q_other
    if lead >= p[6] - EPS and lead > EPS:
        _set(out, leg, math.nan, 0.0, IMBALANCE)
        return
    limit = int(p[0])
    lagging = -lead > EPS
    if lagging:
        cap = int(math.floor((limit - cost_other * 1000) + EPS))
        c = cap // tick * tick
        if c < px:
            px = c
    elif px + px_other > limit:
        _set(out, leg, math.nan, 0.0, EDGE)
        return
    if px < int(p[2]) or px < tick or px > int(p[3]):
        _set(out, leg, math.nan, 0.0, PRICE)
        return
    size = p[4]
    q = size if size >= ctx[_MIN_SIZE] else ctx[_MIN_SIZE]
    if ctx[_EXPOSURE] + q * px / 1000.0 > p[7] + EPS:
        _set(out, leg, math.nan, 0.0, EXPOSURE)
        return
    _set(out, leg, px / 1000.0, q, LAG if lagging else ENTRY)


@nopython_noref
def balanced_arb(p, ctx, out):
    tau = ctx[_TAU]
    if tau < p[8] or tau > ctx[_WINDOW] - p[9]:
        _set(out, 0, math.nan, 0.0, ZONE)
        _set(out, 1, math.nan, 0.0, ZONE)
        return
    if ctx[_BY] != ctx[_BY] or ctx[_AY] != ctx[_AY] or ctx[_BN] != ctx[_BN] or ctx[_AN] != ctx[_AN]:
        _set(out, 0, math.nan, 0.0, BOOK)
        _set(out, 1, math.nan, 0.0, BOOK)
        return
    by = int(ctx[_BY] * 1000.0 + 0.5)
    ay = int(ctx[_AY] * 1000.0 + 0.5)
    bn = int(ctx[_BN] * 1000.0 + 0.5)
    an = int(ctx[_AN] * 1000.0 + 0.5)
    tu = int(ctx[_TICK_UP] * 1000.0 + 0.5)
    td = int(ctx[_TICK_DN] * 1000.0 + 0.5)
    qy = ctx[_QY]
    qn = ctx[_QN]
    join = int(p[10])
    boost = int(p[11])
    base_up = by + join * tu + (boost * tu if qn - qy > EPS else 0)
    if base_up > ay - tu:
        base_up = ay - tu
    base_dn = bn + join * td + (boost * td if qy - qn > EPS else 0)
    if base_dn > an - td:
        base_dn = an - td
    _arb_leg(p, ctx, out, 0, by, ay, tu, qy, qn, ctx[_COST_N], base_up, base_dn)
    _arb_leg(p, ctx, out, 1, bn, an, td, qn, qy, ctx[_COST_Y], base_dn, base_up)

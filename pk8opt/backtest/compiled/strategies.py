"""The built-in strategies' quotes as numba functions, for the compiled replay.

Each is `quote(p, ctx, out)`: `p` the strategy's `compiled_params()`, `ctx` the context,
`out` the quote, all laid out in `context` (`C_*`, `OUT_*` and each strategy's own slots
of `p`). Each mirrors its class's `quote` operation for operation, so both give the same
answers (tests/unit/backtest/test_compiled_replay.py; tests/unit/backtest/test_twins.py
fails when one side changes without the other).
"""

from __future__ import annotations

import math

from pk8opt.backtest.compiled.context import (
    ARB_JOIN_TICKS,
    ARB_LAG_BOOST_TICKS,
    ARB_LIMIT,
    ARB_MAX_EXPOSURE,
    ARB_MAX_IMBALANCE,
    ARB_MAX_INVENTORY,
    ARB_MAX_PX,
    ARB_MIN_PX,
    ARB_SIZE,
    ARB_SPREAD,
    ARB_START_AFTER,
    ARB_STOP_BEFORE_END,
    C_AN,
    C_AY,
    C_BN,
    C_BY,
    C_COST_N,
    C_COST_Y,
    C_EXPOSURE,
    C_MIN_SIZE,
    C_QN,
    C_QY,
    C_TAU,
    C_TICK_DN,
    C_TICK_UP,
    C_WINDOW,
    FIXED_MAX_INVENTORY,
    FIXED_SIZE,
    FIXED_UP_PRICE,
    JOIN_SIZE,
    JOIN_UP,
    OUT_PX,
    OUT_Q,
    OUT_WHY,
    OUT_WIDTH,
)
from pk8opt.backtest.compiled.jit import nopython_noref

EPS = 1e-9


@nopython_noref
def _set(out, leg, px, q, why):
    """No Python twin: the compiled form of `Desired(px, q, why)` for one leg."""
    out[OUT_WIDTH * leg + OUT_PX] = px
    out[OUT_WIDTH * leg + OUT_Q] = q
    out[OUT_WIDTH * leg + OUT_WHY] = why


@nopython_noref
def noop(p, ctx, out):
    """Twin of pk8opt.strategies.noop.NoopStrategy.quote. whys: ("noop",)"""
    _set(out, 0, math.nan, 0.0, 0)
    _set(out, 1, math.nan, 0.0, 0)


@nopython_noref
def fixed(p, ctx, out):
    """Twin of pk8opt.strategies.fixed.FixedStrategy.quote, with Twin of
    pk8opt.strategies.fixed.FixedStrategy._leg written out inside.
    p: `FIXED_*`; whys: ("off", "CAP", "fixed")"""
    for leg in range(2):
        px = p[FIXED_UP_PRICE + leg]
        held = ctx[C_QY + leg]
        if px <= 0.0:
            _set(out, leg, math.nan, 0.0, 0)
        elif held >= p[FIXED_MAX_INVENTORY]:
            _set(out, leg, math.nan, 0.0, 1)
        else:
            _set(out, leg, px, p[FIXED_SIZE], 2)


@nopython_noref
def join(p, ctx, out):
    """Twin of pk8opt.strategies.join.JoinStrategy.quote, with Twin of
    pk8opt.strategies.join.JoinStrategy._leg written out inside.
    p: `JOIN_*`; whys: ("off", "BOOK", "join")"""
    for leg in range(2):
        if p[JOIN_UP + leg] == 0.0:
            _set(out, leg, math.nan, 0.0, 0)
            continue
        bid = ctx[C_BY] if leg == 0 else ctx[C_BN]
        if bid != bid:
            _set(out, leg, math.nan, 0.0, 1)
        else:
            _set(out, leg, bid, p[JOIN_SIZE], 2)


# balanced_arb: whys are its gates, then "lag", "entry"
ZONE, BOOK, CROSSED, SPREAD, CAP, IMBALANCE, EDGE, PRICE, EXPOSURE, LAG, ENTRY = range(11)


@nopython_noref
def _arb_leg(p, ctx, out, leg, bid, ask, tick, q_leg, q_other, cost_other, px, px_other):
    """Twin of pk8opt.strategies.balanced_arb.BalancedArbStrategy._leg (p: `ARB_*`)."""
    if bid >= ask:
        _set(out, leg, math.nan, 0.0, CROSSED)
        return
    if ask - bid > int(p[ARB_SPREAD]):
        _set(out, leg, math.nan, 0.0, SPREAD)
        return
    if q_leg >= p[ARB_MAX_INVENTORY] - EPS:
        _set(out, leg, math.nan, 0.0, CAP)
        return
    lead = q_leg - q_other
    if lead >= p[ARB_MAX_IMBALANCE] - EPS and lead > EPS:
        _set(out, leg, math.nan, 0.0, IMBALANCE)
        return
    limit = int(p[ARB_LIMIT])
    lagging = -lead > EPS
    if lagging:
        cap = int(math.floor((limit - cost_other * 1000) + EPS))
        c = cap // tick * tick
        if c < px:
            px = c
    elif px + px_other > limit:
        _set(out, leg, math.nan, 0.0, EDGE)
        return
    if px < int(p[ARB_MIN_PX]) or px < tick or px > int(p[ARB_MAX_PX]):
        _set(out, leg, math.nan, 0.0, PRICE)
        return
    size = p[ARB_SIZE]
    q = size if size >= ctx[C_MIN_SIZE] else ctx[C_MIN_SIZE]
    if ctx[C_EXPOSURE] + q * px / 1000.0 > p[ARB_MAX_EXPOSURE] + EPS:
        _set(out, leg, math.nan, 0.0, EXPOSURE)
        return
    _set(out, leg, px / 1000.0, q, LAG if lagging else ENTRY)


@nopython_noref
def balanced_arb(p, ctx, out):
    """Twin of pk8opt.strategies.balanced_arb.BalancedArbStrategy.quote (p: `ARB_*`)."""
    tau = ctx[C_TAU]
    if tau < p[ARB_STOP_BEFORE_END] or tau > ctx[C_WINDOW] - p[ARB_START_AFTER]:
        _set(out, 0, math.nan, 0.0, ZONE)
        _set(out, 1, math.nan, 0.0, ZONE)
        return
    if (
        ctx[C_BY] != ctx[C_BY]
        or ctx[C_AY] != ctx[C_AY]
        or ctx[C_BN] != ctx[C_BN]
        or ctx[C_AN] != ctx[C_AN]
    ):
        _set(out, 0, math.nan, 0.0, BOOK)
        _set(out, 1, math.nan, 0.0, BOOK)
        return
    by = int(ctx[C_BY] * 1000.0 + 0.5)
    ay = int(ctx[C_AY] * 1000.0 + 0.5)
    bn = int(ctx[C_BN] * 1000.0 + 0.5)
    an = int(ctx[C_AN] * 1000.0 + 0.5)
    tu = int(ctx[C_TICK_UP] * 1000.0 + 0.5)
    td = int(ctx[C_TICK_DN] * 1000.0 + 0.5)
    qy = ctx[C_QY]
    qn = ctx[C_QN]
    join = int(p[ARB_JOIN_TICKS])
    boost = int(p[ARB_LAG_BOOST_TICKS])
    base_up = by + join * tu + (boost * tu if qn - qy > EPS else 0)
    if base_up > ay - tu:
        base_up = ay - tu
    base_dn = bn + join * td + (boost * td if qy - qn > EPS else 0)
    if base_dn > an - td:
        base_dn = an - td
    _arb_leg(p, ctx, out, 0, by, ay, tu, qy, qn, ctx[C_COST_N], base_up, base_dn)
    _arb_leg(p, ctx, out, 1, bn, an, td, qn, qy, ctx[C_COST_Y], base_dn, base_up)

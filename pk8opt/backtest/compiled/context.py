"""The layout of what a compiled strategy reads and writes (docs/strategies.md
"Compiled strategies"): the context `ctx` (`C_*`), the quote `out` (`OUT_*`), and the
parameters `p` of each built-in strategy (its class's `compiled_params()`, in order).

A compiled quote is `quote(p, ctx, out)`; `ctx` holds the fields of
`strategies.base.StrategyContext` as floats (NaN for a missing price), `out` per token
(Up, then Down) `OUT_WIDTH` floats: price (NaN: no order), shares, reason (an index into
the class's `whys`), the Down leg's at `OUT_WIDTH + OUT_*`.
"""

from __future__ import annotations

# the strategy's context: StrategyContext's fields, as floats
(
    C_TAU,
    C_WINDOW,
    C_BY,
    C_AY,
    C_BN,
    C_AN,
    C_UP_MID,
    C_DOWN_MID,
    C_MIN_SIZE,
    C_TICK,
    C_TICK_UP,
    C_TICK_DN,
    C_QY,
    C_QN,
    C_COST_Y,
    C_COST_N,
    C_EXPOSURE,
    C_T_NS,
    N_CTX,
) = range(19)

# the quote: per leg (0 Up, 1 Down) at OUT_WIDTH * leg
OUT_PX, OUT_Q, OUT_WHY, OUT_WIDTH = range(4)
N_OUT = 2 * OUT_WIDTH

# p of FixedStrategy.compiled_params (the Down price follows the Up price)
FIXED_UP_PRICE, FIXED_DOWN_PRICE, FIXED_SIZE, FIXED_MAX_INVENTORY = range(4)
# p of JoinStrategy.compiled_params (0/1 per leg; the Down flag follows the Up flag)
JOIN_UP, JOIN_DOWN, JOIN_SIZE = range(3)
# p of BalancedArbStrategy.compiled_params
(
    ARB_LIMIT,
    ARB_SPREAD,
    ARB_MIN_PX,
    ARB_MAX_PX,
    ARB_SIZE,
    ARB_MAX_INVENTORY,
    ARB_MAX_IMBALANCE,
    ARB_MAX_EXPOSURE,
    ARB_STOP_BEFORE_END,
    ARB_START_AFTER,
    ARB_JOIN_TICKS,
    ARB_LAG_BOOST_TICKS,
) = range(12)

"""The compiled replay of one session: the paper engine, the trade loop and a strategy.

This is `trading.stepper.SessionStepper` driven frame by frame (`replay.drive_events`),
written once more as numba code over the session's record stream
(`SessionCache.rec_*`): the same rules, the same order of operations, the same float
arithmetic, so its results and event log are identical to the Python engine's
(tests/unit/backtest/test_compiled_replay.py). The Python code stays the reference: a
change of a rule goes there first, then here.

The files mirror their Python twins: `engine` (engine/paper.py and the account),
`responses` (engine/responses.py), `trader` (trading/trader.py), `strategies` (the
built-in strategies' quotes); this module keeps the hot loop `run_kernel` and the
strategy dispatch. The arrays' slots are named in `layout`, the strategy's context and
quote in `context` (its `C_*` are re-exported here, where docs/strategies.md points).
tests/unit/backtest/test_twins.py lists the twin pairs and fails when one side changes
without the other.
"""

from __future__ import annotations

import types
from typing import Any

from pk8opt.backtest.compiled import strategies as SC
from pk8opt.backtest.compiled.context import (
    C_AN,
    C_AY,
    C_BN,
    C_BY,
    C_COST_N,
    C_COST_Y,
    C_DOWN_MID,
    C_EXPOSURE,
    C_MIN_SIZE,
    C_QN,
    C_QY,
    C_T_NS,
    C_TAU,
    C_TICK,
    C_TICK_DN,
    C_TICK_UP,
    C_UP_MID,
    C_WINDOW,
    N_CTX,
)
from pk8opt.backtest.compiled.engine import (
    advance,
    check_cross,
    close_window,
    next_due,
    on_level,
    on_trade,
)
from pk8opt.backtest.compiled.jit import (
    nopython_noref,
    nopython_noref_uncached,
)
from pk8opt.backtest.compiled.layout import (
    CASH,
    DEPN,
    HELD_DOWN,
    HELD_PAYOUT,
    HELD_UP,
    N_TOP,
    NONE,
    NOW,
    O_PHANTOM,
    O_PRICE,
    P_CLOSE,
    P_DELAY,
    POS0,
    POS1,
    Q_CASH,
    REC_ASK_LEVEL,
    REC_BID_LEVEL,
    SIDE_ASK,
    TOK_DOWN,
    TOK_UP,
)
from pk8opt.backtest.compiled.trader import (
    context,
    finish,
    quiet,
    trader_act,
    trader_pre,
    trader_quoted,
)

# the context's slots, re-exported where docs/strategies.md points compiled quotes to them
__all__ = [
    "BUILTIN",
    "kernel_for",
    "run_kernel",
    "C_AN",
    "C_AY",
    "C_BN",
    "C_BY",
    "C_COST_N",
    "C_COST_Y",
    "C_DOWN_MID",
    "C_EXPOSURE",
    "C_MIN_SIZE",
    "C_QN",
    "C_QY",
    "C_TAU",
    "C_TICK",
    "C_TICK_DN",
    "C_TICK_UP",
    "C_T_NS",
    "C_UP_MID",
    "C_WINDOW",
    "N_CTX",
]

# The built-in strategies' quotes, chosen by number: the kernel's signature then holds no
# function, so numba's disk cache serves every process (a function argument's type names
# the function object, which differs from one process to the next). A user's strategy
# gets its own kernel instead (`kernel_for`).
SID_NOOP, SID_FIXED, SID_JOIN, SID_BALANCED_ARB = range(4)
BUILTIN = {
    "pk8opt.backtest.compiled.strategies:noop": SID_NOOP,
    "pk8opt.backtest.compiled.strategies:fixed": SID_FIXED,
    "pk8opt.backtest.compiled.strategies:join": SID_JOIN,
    "pk8opt.backtest.compiled.strategies:balanced_arb": SID_BALANCED_ARB,
}

_kernels: dict[Any, Any] = {}


@nopython_noref
def _quote(sid, p, ctx, out):
    """No Python twin: the built-in strategy `sid`'s compiled quote (`BUILTIN`)."""
    if sid == SID_BALANCED_ARB:
        SC.balanced_arb(p, ctx, out)
    elif sid == SID_JOIN:
        SC.join(p, ctx, out)
    elif sid == SID_FIXED:
        SC.fixed(p, ctx, out)
    else:
        SC.noop(p, ctx, out)


def kernel_for(quote: Any) -> Any:
    """`run_kernel` calling `quote(p, ctx, out)` for a strategy outside the built-in ones:
    the same code with its own `_quote`, compiled once per process (not cached on disk)."""
    got = _kernels.get(quote)
    if got is None:
        shim = nopython_noref_uncached(lambda sid, p, ctx, out: quote(p, ctx, out))
        fn = getattr(run_kernel, "py_func")  # noqa: B009 - numba's dispatcher attribute
        scope = dict(fn.__globals__)
        scope["_quote"] = shim
        clone = types.FunctionType(fn.__code__, scope, fn.__name__, fn.__defaults__)
        got = _kernels[quote] = nopython_noref_uncached(clone)
    return got


@nopython_noref
def run_kernel(
    sid, sp, gates, times, top, ticks, rfr, rkind, rtok, rprice, rold, rnew,
    IP, FP, bp, ft0, fz0, ft1, fz1,
    S, F, OI, OF, R, NR, TD, TS, TA, TO, QD, QK, QO, QQ, QP, FL, FLF, EQT, EQV, EV, EVF,
    REJ, GATE, MV, KEYI, QUOTE, CTX, BB, BA, DQ, DH, top_cur, tick_cur, HELD,
):  # fmt: skip
    """Twin of pk8opt.trading.stepper.SessionStepper.step_rows, over a whole session as
    pk8opt.backtest.replay.drive_events drives it, then Twin of
    pk8opt.trading.stepper.SessionStepper.settle.

    Replays one session into the buffers `layout.buffers()` made (no allocation here:
    the compiled code then keeps no reference counts, which would cost more than the
    replay itself). Long on purpose: this is the hot loop, one frame or decision per
    turn, and what runs per record stays inline; the engine, the responses and the
    trade loop it calls are in `engine`, `responses` and `trader`."""
    F[CASH] = FP[Q_CASH]
    nf = times.shape[0]
    nr = rfr.shape[0]
    delay = IP[P_DELAY]
    close = IP[P_CLOSE]
    pend = 0  # decisions on frames pend .. k-1 are still to be taken
    r = 0
    k = 0  # the next frame
    while True:
        # the decision on frame `pend` comes before frame k when due at or before it (on
        # the local clock, right after its frame); after the last frame, up to the close
        if pend < k and times[pend] + delay <= (times[k] if k < nf else close):
            tt = times[pend] + delay
            decide = True
        elif k < nf:
            tt = times[k]
            decide = False
        else:
            break
        if next_due(S, NR, IP, TD) <= tt:
            advance(S, F, OI, OF, R, NR, QD, QK, QO, QQ, QP, FL, FLF, EV, EVF, IP, FP, BB, BA,
                    DQ, DH, TD, TS, TA, TO, top_cur, ft0, fz0, ft1, fz1, tt)  # fmt: skip
        elif tt > S[NOW]:
            S[NOW] = tt
        if decide:
            if not quiet(S, KEYI, IP, QD, bp, tt, top, ticks, pend):
                step = trader_pre(S, F, OI, OF, IP, QD, QK, QO, QQ, QP, EQT, EQV, MV, KEYI,
                                  bp, tt, top, ticks, pend)  # fmt: skip
                if step == 1:
                    context(F, IP, FP, CTX, tt, top[pend], ticks[pend])
                    _quote(sid, sp, CTX, QUOTE)
                    trader_quoted(S, KEYI, QUOTE, GATE, gates, bp, tt, top, ticks, pend)
                if step:
                    trader_act(S, F, OI, OF, IP, FP, EV, EVF, REJ, TD, TS, TA, TO, QUOTE, bp,
                               top_cur, tick_cur, tt, ticks, pend)  # fmt: skip
            pend += 1
            continue
        # frame k: its records, in the order the tracker made them
        while r < nr and rfr[r] == k:
            kind = rkind[r]
            tok = rtok[r]
            p = rprice[r]
            if kind == REC_ASK_LEVEL:
                BA[tok, p] = rnew[r]
                if S[DEPN] > 0 and DH[tok, p]:
                    DH[tok, p] = 0
                    DQ[tok, p] = 0.0
                    S[DEPN] -= 1
            elif kind == REC_BID_LEVEL:
                BB[tok, p] = rnew[r]
                for i in range(NR[tok]):  # only an order at that price hears of it
                    if OI[R[tok, i], O_PRICE] == p:
                        on_level(OI, OF, R, NR, FP, tok, p, rold[r], rnew[r])
                        break
            elif NR[tok] > 0:
                on_trade(S, F, OI, OF, R, NR, QD, QK, QO, QQ, QP, FL, FLF, EV, EVF, IP, FP,
                         tok, p, rnew[r])  # fmt: skip
            r += 1
        for i in range(N_TOP):
            top_cur[i] = top[k, i]
        tick_cur[TOK_UP] = ticks[k, TOK_UP]
        tick_cur[TOK_DOWN] = ticks[k, TOK_DOWN]
        # a cross needs an ask at or below a resting bid (or a phantom order to update)
        cross = False
        for tok in range(2):
            ask = top_cur[2 * tok + SIDE_ASK]
            if ask != NONE:
                for i in range(NR[tok]):
                    o = R[tok, i]
                    if OI[o, O_PHANTOM] or OI[o, O_PRICE] >= ask:
                        cross = True
        if cross:
            check_cross(S, F, OI, OF, R, NR, QD, QK, QO, QQ, QP, FL, FLF, EV, EVF, IP, FP, BA,
                        DQ, DH, top_cur)  # fmt: skip
        k += 1
    advance(S, F, OI, OF, R, NR, QD, QK, QO, QQ, QP, FL, FLF, EV, EVF, IP, FP, BB, BA,
            DQ, DH, TD, TS, TA, TO, top_cur, ft0, fz0, ft1, fz1, close)  # fmt: skip
    held0 = F[POS0]
    held1 = F[POS1]
    payout = close_window(S, F, OI, OF, R, NR, QD, QK, QO, QQ, QP, EV, EVF, IP, close)
    finish(S, F, EQT, EQV, close)
    HELD[HELD_UP] = held0
    HELD[HELD_DOWN] = held1
    HELD[HELD_PAYOUT] = payout

"""The compiled twin of `pk8opt.trading.trader.Trader`: the trade loop's shortcut, the
strategy's context, gate counts, the requote rules and equity sampling, over the flat
arrays laid out in `layout` (the context and quote in `context`).

Each function names its Python twin; tests/unit/backtest/test_twins.py fails when one
side changes without the other.
"""

from __future__ import annotations

import numpy as np

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
    OUT_PX,
    OUT_Q,
    OUT_WHY,
    OUT_WIDTH,
)
from pk8opt.backtest.compiled.engine import (
    cancel,
    submit,
)
from pk8opt.backtest.compiled.jit import (
    nopython_noref,
    nopython_noref_inline,
)
from pk8opt.backtest.compiled.layout import (
    CALLS,
    CASH,
    COST0,
    EPS,
    EQ_SEQ,
    HAS_EQ,
    HAS_KEY,
    HAS_QUOTE,
    KCOST0,
    KCOST1,
    KEY_B0,
    KEY_B1,
    KEY_EQ_TOP,
    KEY_SEQ,
    KEY_TICK0,
    KEY_TICK1,
    KEY_TOP,
    KPOS0,
    KPOS1,
    KSEQ,
    LAST0,
    LGATE0,
    MID0,
    N_TOP,
    NEQ,
    NEVER,
    NEXT_WAKE,
    O_CREQ,
    O_PRICE,
    O_SDONE,
    O_SFILLED,
    O_SIZE,
    O_STATUS,
    O_SUBMIT,
    OPEN,
    OVER,
    P_ENABLED,
    P_END,
    P_MAXAGE,
    P_MINREQ,
    P_MINTICKS,
    P_RESP,
    P_SKIP,
    P_WARMUP,
    POS0,
    Q_MIN_SIZE,
    Q_WINDOW_S,
    QH,
    QT,
    REJECTED,
    RES,
    SIDE_ASK,
    SIDE_BID,
    START,
    TOK_DOWN,
    TOK_UP,
    TOP_ASK0,
    TOP_ASK1,
    TOP_BID0,
    TOP_BID1,
    WORK0,
)
from pk8opt.backtest.compiled.responses import resp_receive


@nopython_noref
def sample_equity(S, F, EQT, EQV, MV, t, top):
    """Twin of pk8opt.trading.trader.Trader._sample_equity, with Twin of
    pk8opt.engine.accounting.Account.equity written out inside."""
    for tok in range(2):
        bid = top[2 * tok + SIDE_BID]
        ask = top[2 * tok + SIDE_ASK]
        if bid >= 0 and ask >= 0:
            F[MID0 + tok] = (bid + ask) / 2000.0
            MV[tok] = 1
    value = F[CASH] + F[RES]
    for tok in range(2):
        q = F[POS0 + tok]
        if q != 0.0:
            if MV[tok]:
                value += q * F[MID0 + tok]
            else:
                value += F[COST0 + tok]
    j = S[NEQ]
    if j < EQT.shape[0]:
        EQT[j] = t
        EQV[j] = value
        S[NEQ] = j + 1
    else:
        S[OVER] = 1


@nopython_noref
def act(
    S, F, OI, OF, IP, FP, EV, EVF, REJ, TD, TS, TA, TO, top_cur, tick_cur, leg, px, q, why, t,
    tick,
):  # fmt: skip
    """Twin of pk8opt.trading.trader.Trader._act: the requote rules on one token; returns
    the next wake-up time."""
    o = S[WORK0 + leg]
    if o >= 0 and (OI[o, O_SDONE] or OI[o, O_STATUS] == REJECTED or OI[o, O_CREQ]):
        o = -1
        S[WORK0 + leg] = -1
    if px != px or q <= 0.0:
        if o >= 0:
            cancel(S, OI, IP, TD, TS, TA, TO, t, o)
            S[WORK0 + leg] = -1
        return NEVER
    ready_at = S[LAST0 + leg] + IP[P_MINREQ]
    price = int(np.rint(px * 1000))
    if o < 0:
        if t >= ready_at:
            return place(S, F, OI, OF, IP, FP, EV, EVF, REJ, TD, TS, TA, TO, top_cur, tick_cur,
                         leg, t, price, q, why)  # fmt: skip
        return ready_at
    diff = abs(price - OI[o, O_PRICE])
    differs = diff > 0 or abs(q - OF[o, O_SIZE]) > EPS
    if not differs:
        return NEVER
    must = (diff > 0 and diff >= IP[P_MINTICKS] * tick) or q < (
        OF[o, O_SIZE] - OF[o, O_SFILLED]
    ) - EPS
    aged_at = OI[o, O_SUBMIT] + IP[P_MAXAGE]
    if must or t >= aged_at:
        if t >= ready_at:
            cancel(S, OI, IP, TD, TS, TA, TO, t, o)
            S[WORK0 + leg] = -1
            return place(S, F, OI, OF, IP, FP, EV, EVF, REJ, TD, TS, TA, TO, top_cur, tick_cur,
                         leg, t, price, q, why)  # fmt: skip
        return ready_at
    return aged_at


@nopython_noref
def place(
    S, F, OI, OF, IP, FP, EV, EVF, REJ, TD, TS, TA, TO, top_cur, tick_cur, leg, t, price, q, why
):
    """Twin of pk8opt.trading.trader.Trader._place."""
    o = submit(S, F, OI, OF, IP, FP, EV, EVF, REJ, TD, TS, TA, TO, top_cur, tick_cur,
               t, leg, price, q, why)  # fmt: skip
    S[LAST0 + leg] = t
    if o >= 0 and OI[o, O_STATUS] <= OPEN:
        S[WORK0 + leg] = o
        return NEVER
    S[WORK0 + leg] = -1
    return t + IP[P_MINREQ]


@nopython_noref_inline
def same_inputs(S, KEYI, bp, t, tops, tickss, k):
    """Twin of pk8opt.trading.trader.Trader.on_frame (its shortcut's key): whether the
    strategy's inputs are those of its last call: the top and ticks of frame k, the known
    state, and the tau bucket of t."""
    return (
        S[HAS_KEY]
        and KEYI[KEY_TOP + TOP_BID0] == tops[k, TOP_BID0]
        and KEYI[KEY_TOP + TOP_ASK0] == tops[k, TOP_ASK0]
        and KEYI[KEY_TOP + TOP_BID1] == tops[k, TOP_BID1]
        and KEYI[KEY_TOP + TOP_ASK1] == tops[k, TOP_ASK1]
        and KEYI[KEY_TICK0] == tickss[k, TOK_UP]
        and KEYI[KEY_TICK1] == tickss[k, TOK_DOWN]
        and S[KEY_SEQ] == S[KSEQ]
        and S[KEY_B0] == np.searchsorted(bp, t, side="left")
        and S[KEY_B1] == np.searchsorted(bp, t, side="right")
    )


@nopython_noref
def trader_pre(S, F, OI, OF, IP, QD, QK, QO, QQ, QP, EQT, EQV, MV, KEYI, bp, t, tops, tickss, k):
    """Twin of pk8opt.trading.trader.Trader.on_frame up to the strategy call: 0 done, 1 ask
    the strategy, 2 reuse the quote (one market update: top and ticks of frame k, decided
    on at t)."""
    top = tops[k]
    if IP[P_RESP]:
        resp_receive(S, F, OI, OF, QD, QK, QO, QQ, QP, t)
    skip = IP[P_SKIP] != 0
    kseq = S[KSEQ]
    same = skip and same_inputs(S, KEYI, bp, t, tops, tickss, k)
    if same and t < S[NEXT_WAKE]:
        return 0
    if (
        not S[HAS_EQ]
        or KEYI[KEY_EQ_TOP + TOP_BID0] != top[TOP_BID0]
        or KEYI[KEY_EQ_TOP + TOP_ASK0] != top[TOP_ASK0]
        or KEYI[KEY_EQ_TOP + TOP_BID1] != top[TOP_BID1]
        or KEYI[KEY_EQ_TOP + TOP_ASK1] != top[TOP_ASK1]
        or S[EQ_SEQ] != kseq
    ):
        sample_equity(S, F, EQT, EQV, MV, t, top)
        for i in range(N_TOP):
            KEYI[KEY_EQ_TOP + i] = top[i]
        S[EQ_SEQ] = kseq
        S[HAS_EQ] = 1
    if S[START] < 0:
        S[START] = t
    if not IP[P_ENABLED]:
        S[NEXT_WAKE] = NEVER
        return 0
    if t < S[START] + IP[P_WARMUP]:
        S[NEXT_WAKE] = S[START] + IP[P_WARMUP]
        return 0
    if not skip or not same or not S[HAS_QUOTE]:
        return 1
    return 2


@nopython_noref
def trader_quoted(S, KEYI, QUOTE, GATE, GATES, bp, t, tops, tickss, k):
    """Twin of pk8opt.trading.trader.Trader._count_gates, after the strategy answered:
    remember its inputs, count its gates."""
    top = tops[k]
    ticks = tickss[k]
    S[CALLS] += 1
    for i in range(N_TOP):
        KEYI[KEY_TOP + i] = top[i]
    KEYI[KEY_TICK0] = ticks[TOK_UP]
    KEYI[KEY_TICK1] = ticks[TOK_DOWN]
    S[KEY_SEQ] = S[KSEQ]
    S[KEY_B0] = np.searchsorted(bp, t, side="left")
    S[KEY_B1] = np.searchsorted(bp, t, side="right")
    S[HAS_KEY] = 1
    S[HAS_QUOTE] = 1
    # gate counts: a gate counts once per stretch of updates it holds
    for leg in range(2):
        px = QUOTE[OUT_WIDTH * leg + OUT_PX]
        w = int(QUOTE[OUT_WIDTH * leg + OUT_WHY])
        gate = w if (px != px and GATES[w]) else -1
        if gate != S[LGATE0 + leg]:
            if gate >= 0:
                GATE[gate] += 1
            S[LGATE0 + leg] = gate


@nopython_noref
def trader_act(
    S, F, OI, OF, IP, FP, EV, EVF, REJ, TD, TS, TA, TO, QUOTE, bp, top_cur, tick_cur, t,
    tickss, k,
):  # fmt: skip
    """Twin of pk8opt.trading.trader.Trader.on_frame after the quote: the requote rules on
    both tokens, the next wake."""
    ticks = tickss[k]
    b0 = np.searchsorted(bp, t, side="left")
    w0 = act(S, F, OI, OF, IP, FP, EV, EVF, REJ, TD, TS, TA, TO, top_cur, tick_cur, TOK_UP,
             QUOTE[OUT_PX], QUOTE[OUT_Q], int(QUOTE[OUT_WHY]), t, ticks[TOK_UP])  # fmt: skip
    w1 = act(S, F, OI, OF, IP, FP, EV, EVF, REJ, TD, TS, TA, TO, top_cur, tick_cur, TOK_DOWN,
             QUOTE[OUT_WIDTH + OUT_PX], QUOTE[OUT_WIDTH + OUT_Q],
             int(QUOTE[OUT_WIDTH + OUT_WHY]), t, ticks[TOK_DOWN])  # fmt: skip
    wake = w0 if w0 < w1 else w1
    if b0 < bp.shape[0]:
        nb = bp[b0] if bp[b0] > t else bp[b0] + 1
        if nb < wake:
            wake = nb
    S[NEXT_WAKE] = wake


@nopython_noref
def context(F, IP, FP, CTX, t, top, ticks):
    """Twin of pk8opt.trading.trader.Trader._context (the context as floats, `context.C_*`)."""
    b_up = top[TOP_BID0]
    a_up = top[TOP_ASK0]
    b_dn = top[TOP_BID1]
    a_dn = top[TOP_ASK1]
    nan = np.nan
    CTX[C_TAU] = (IP[P_END] - t) / 1e9
    CTX[C_WINDOW] = FP[Q_WINDOW_S]
    CTX[C_BY] = b_up / 1000.0 if b_up >= 0 else nan
    CTX[C_AY] = a_up / 1000.0 if a_up >= 0 else nan
    CTX[C_BN] = b_dn / 1000.0 if b_dn >= 0 else nan
    CTX[C_AN] = a_dn / 1000.0 if a_dn >= 0 else nan
    CTX[C_UP_MID] = (b_up + a_up) / 2000.0 if b_up >= 0 and a_up >= 0 else nan
    CTX[C_DOWN_MID] = (b_dn + a_dn) / 2000.0 if b_dn >= 0 and a_dn >= 0 else nan
    CTX[C_MIN_SIZE] = FP[Q_MIN_SIZE]
    CTX[C_TICK] = (ticks[TOK_UP] if ticks[TOK_UP] > ticks[TOK_DOWN] else ticks[TOK_DOWN]) / 1000.0
    CTX[C_TICK_UP] = ticks[TOK_UP] / 1000.0
    CTX[C_TICK_DN] = ticks[TOK_DOWN] / 1000.0
    qy = F[KPOS0]
    qn = F[KPOS1]
    cy = F[KCOST0]
    cn = F[KCOST1]
    CTX[C_QY] = qy
    CTX[C_QN] = qn
    CTX[C_COST_Y] = cy / qy if qy > 0.0 else 0.0
    CTX[C_COST_N] = cn / qn if qn > 0.0 else 0.0
    CTX[C_EXPOSURE] = cy + cn
    CTX[C_T_NS] = float(t)


@nopython_noref_inline
def quiet(S, KEYI, IP, QD, bp, t, top, ticks, k):
    """Twin of pk8opt.trading.trader.Trader.on_frame's shortcut: whether it would return at
    once, with no response due."""
    if IP[P_RESP] and S[QH] < S[QT] and QD[S[QH]] <= t:
        return False
    return bool(IP[P_SKIP]) and t < S[NEXT_WAKE] and same_inputs(S, KEYI, bp, t, top, ticks, k)


@nopython_noref
def finish(S, F, EQT, EQV, t):
    """Twin of pk8opt.trading.trader.Trader.finish: the final equity sample."""
    j = S[NEQ]
    if j < EQT.shape[0]:
        EQT[j] = t
        EQV[j] = F[CASH] + F[RES]
        S[NEQ] = j + 1
    else:
        S[OVER] = 1

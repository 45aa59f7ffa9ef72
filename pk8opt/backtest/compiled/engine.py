"""The compiled twin of `pk8opt.engine.paper.PaperEngine` (and of the `Account` it
holds): latency timers, queue position, fills, fees and settlement over the flat arrays
laid out in `layout`.

Same rules, same order of operations, same float arithmetic as the Python engine, so the
results and event log are identical (tests/unit/backtest/test_compiled_replay.py). The
Python code stays the reference: a change of a rule goes there first, then here. Each
function names its Python twin; tests/unit/backtest/test_twins.py fails when one side
changes without the other.
"""

from __future__ import annotations

import math

from pk8opt.backtest.compiled.jit import (
    nopython_noref,
    nopython_noref_inline,
)
from pk8opt.backtest.compiled.layout import (
    A_ACK,
    A_CLEAR,
    A_OPEN,
    ACC,
    CANCELLED,
    CASH,
    COST0,
    COST1,
    DEPN,
    E_CANCEL_REQ,
    E_CANCELLED,
    E_EXPIRED,
    E_FILL,
    E_OPEN,
    E_REJECT,
    E_SUBMIT,
    EPS,
    EV_I0,
    EV_I1,
    EV_I2,
    EV_KIND,
    EV_OID,
    EV_T,
    EVF_0,
    EVF_1,
    EVF_2,
    EVF_3,
    EVF_4,
    FEES,
    FILL_SEQ,
    FILLED,
    FILLS,
    FL_AFTER_CANCEL,
    FL_PRICE,
    FL_T,
    FL_TOK,
    FL_WHY,
    FLOW0,
    FLOW1,
    FLOWJ0,
    FZ0,
    MVOL,
    NEV,
    NEVER,
    NFILL,
    NONE,
    NORD,
    NOW,
    NREJ,
    NTIM,
    O_AHEAD,
    O_CREQ,
    O_DEBT,
    O_FILLED,
    O_ID,
    O_OPEN,
    O_PHANTOM,
    O_PRICE,
    O_RES,
    O_SIZE,
    O_STATUS,
    O_SUBMIT,
    O_TOK,
    O_WHY,
    OPEN,
    OPEN_SEQ,
    OVER,
    P_CCLEAR,
    P_CREQ,
    P_DEPLETE,
    P_FLOW,
    P_LOG,
    P_POST,
    P_RESP,
    P_SCHED,
    P_THROUGH_VOL,
    P_WINNER,
    PENDING,
    POS0,
    POS1,
    Q_ADD_AHEAD,
    Q_AHEAD,
    Q_FEE_EXP,
    Q_FEE_RATE,
    Q_FLOW_NOISE,
    Q_FLOW_SCALE,
    Q_MIN_SIZE,
    Q_REBATE,
    R_DONE,
    R_FILL,
    R_SCRATCH,
    REB,
    REJ_BOUNDS,
    REJ_CASH,
    REJ_COUNT,
    REJ_FIRST,
    REJ_MIN_SIZE,
    REJ_NOTIONAL,
    REJ_TICK,
    REJECTED,
    RES,
    SEQ,
    SIDE_ASK,
    SIDE_BID,
    TOK_DOWN,
    TOK_UP,
    VOL,
    W_BOOK,
    W_FLOW,
    W_QUEUE,
    W_TAKER,
    W_THROUGH,
    WFILL,
)
from pk8opt.backtest.compiled.numeric import (
    maker_rebate,
    taker_fee,
)
from pk8opt.backtest.compiled.responses import (
    resp_receive,
    resp_send,
)


@nopython_noref
def log_event(S, EV, EVF, t, kind, oid, i0, i1, i2, f0, f1, f2, f3, f4):
    """No Python twin: one row of the event log, written out by `session.write_log` as
    `PaperEngine` writes its events."""
    j = S[NEV]
    if j >= EV.shape[0]:
        S[OVER] = 1
        return
    EV[j, EV_KIND] = kind
    EV[j, EV_T] = t
    EV[j, EV_OID] = oid
    EV[j, EV_I0] = i0
    EV[j, EV_I1] = i1
    EV[j, EV_I2] = i2
    EVF[j, EVF_0] = f0
    EVF[j, EVF_1] = f1
    EVF[j, EVF_2] = f2
    EVF[j, EVF_3] = f3
    EVF[j, EVF_4] = f4
    S[NEV] = j + 1


@nopython_noref
def push(S, TD, TS, TA, TO, due, action, o):
    """Twin of pk8opt.engine.paper.PaperEngine._push (the timers as a flat list)."""
    S[SEQ] += 1
    n = S[NTIM]
    if n >= TD.shape[0]:
        S[OVER] = 1
        return
    TD[n] = due
    TS[n] = S[SEQ]
    TA[n] = action
    TO[n] = o
    S[NTIM] = n + 1


@nopython_noref
def timer_min(S, TD, TS):
    """No Python twin (the heap's pop in `PaperEngine.advance_to`): the index of the next
    timer (earliest due, then earliest pushed), -1 when none."""
    n = S[NTIM]
    best = -1
    for i in range(n):
        if best < 0 or TD[i] < TD[best] or (TD[i] == TD[best] and TS[i] < TS[best]):
            best = i
    return best


@nopython_noref
def rest_remove(R, NR, tok, o):
    """No Python twin (`list.remove` on `PaperEngine.resting`)."""
    n = NR[tok]
    for i in range(n):
        if R[tok, i] == o:
            for j in range(i, n - 1):
                R[tok, j] = R[tok, j + 1]
            NR[tok] = n - 1
            return


@nopython_noref
def release(F, OI, OF, o):
    """Twin of pk8opt.engine.accounting.Account.release."""
    F[CASH] += OF[o, O_RES]
    F[RES] -= OF[o, O_RES]
    OF[o, O_RES] = 0.0
    if abs(F[RES]) < 1e-9:
        F[RES] = 0.0


@nopython_noref
def fill(
    S, F, OI, OF, R, NR, QD, QK, QO, QQ, QP, FL, FLF, EV, EVF, IP, FP, o, qty, price, maker, why
):
    """Twin of pk8opt.engine.paper.PaperEngine._fill, with Twin of
    pk8opt.engine.accounting.Account.fill written out inside."""
    if qty <= EPS:
        return
    px = price / 1000.0
    has = IP[P_SCHED] != 0
    if maker:
        fee = 0.0
        rebate = maker_rebate(qty, px, has, FP[Q_FEE_RATE], FP[Q_FEE_EXP], FP[Q_REBATE])
    else:
        fee = taker_fee(qty, px, has, FP[Q_FEE_RATE], FP[Q_FEE_EXP])
        rebate = 0.0
    if OF[o, O_FILLED] == 0.0:
        S[WFILL] += 1
    # Account.fill
    tok = OI[o, O_TOK]
    charge = qty * px + fee
    take = charge if charge < OF[o, O_RES] else OF[o, O_RES]
    OF[o, O_RES] -= take
    F[RES] -= take
    F[CASH] -= charge - take
    F[POS0 + tok] += qty
    F[COST0 + tok] += qty * px
    F[FEES] += fee
    F[VOL] += qty * px
    if maker:
        F[MVOL] += qty * px
    F[REB] += rebate
    S[FILLS] += 1
    OF[o, O_FILLED] += qty
    S[FILL_SEQ] += 1
    now = S[NOW]
    j = S[NFILL]
    if j < FL.shape[0]:
        FL[j, FL_T] = now
        FL[j, FL_TOK] = tok
        FL[j, FL_PRICE] = price
        FL[j, FL_WHY] = why
        FL[j, FL_AFTER_CANCEL] = OI[o, O_CREQ]
        FLF[j] = qty
        S[NFILL] = j + 1
    else:
        S[OVER] = 1
    resp_ns = IP[P_RESP]
    resp_send(S, F, OI, OF, QD, QK, QO, QQ, QP, now, R_FILL, o, qty, px, resp_ns)
    if IP[P_LOG]:
        log_event(
            S,
            EV,
            EVF,
            now,
            E_FILL,
            OI[o, O_ID],
            tok,
            1 if maker else 0,
            why,
            qty,
            px,
            fee,
            rebate,
            OF[o, O_SIZE] - OF[o, O_FILLED],
        )
    if OF[o, O_SIZE] - OF[o, O_FILLED] <= EPS:
        OF[o, O_FILLED] = OF[o, O_SIZE]
        OI[o, O_STATUS] = FILLED
        rest_remove(R, NR, tok, o)
        release(F, OI, OF, o)
        resp_send(S, F, OI, OF, QD, QK, QO, QQ, QP, now, R_DONE, o, 0.0, 0.0, resp_ns)


@nopython_noref
def book_best(top_cur, tok, side):
    """Twin of pk8opt.backtest.session_cache.ArrayView.best (the top of the current frame)."""
    return top_cur[2 * tok + side]


@nopython_noref
def consumed(DQ, DH, tok, p):
    """Twin of pk8opt.engine.paper.PaperEngine._consumed (a level's stamp: DH, cleared
    by the run when the venue changes the level)."""
    if DH[tok, p]:
        return DQ[tok, p]
    return 0.0


@nopython_noref
def asks_left(BA, DQ, DH, tok, low, high):
    """Twin of pk8opt.engine.paper.PaperEngine._asks_left."""
    for p in range(low, high + 1):
        size = BA[tok, p]
        if size > 0.0 and size - consumed(DQ, DH, tok, p) > EPS:
            return True
    return False


@nopython_noref
def next_flow(ft, fz, t, j):
    """Twin of pk8opt.engine.flow.MakerFlow.next_after: the first arrival strictly after
    t, (time, z, its index).

    `j`: an index at or before that arrival, the last one found (engine time never goes
    back), searched forward from with doubling steps and then halving: a step or two
    for the arrival after the one due, instead of a search of all the session's
    arrivals (a few thousand) at every arrival. Any `j` gives the same answer."""
    n = ft.shape[0]
    if j > n or (j > 0 and ft[j - 1] > t):
        j = 0  # not at or before the answer: search from the start
    hi = j
    step = 1
    while hi < n and ft[hi] <= t:
        j = hi + 1
        hi = j + step
        step *= 2
    if hi > n:
        hi = n
    while j < hi:  # the answer is in j .. hi (hi: n, or an arrival after t)
        mid = (j + hi) >> 1
        if ft[mid] <= t:
            j = mid + 1
        else:
            hi = mid
    if j < n:
        return ft[j], fz[j], j
    return NEVER, 0.0, j


@nopython_noref
def open_order(
    S, F, OI, OF, R, NR, QD, QK, QO, QQ, QP, FL, FLF, EV, EVF, IP, FP, BB, BA, DQ, DH, top_cur,
    ft0, fz0, ft1, fz1, o,
):  # fmt: skip
    """Twin of pk8opt.engine.paper.PaperEngine._open, with Twin of
    pk8opt.engine.paper.PaperEngine._take written out inside."""
    if OI[o, O_STATUS] != PENDING:
        return
    now = S[NOW]
    OI[o, O_STATUS] = OPEN
    OI[o, O_OPEN] = now
    S[OPEN_SEQ] += 1
    if IP[P_LOG]:
        log_event(S, EV, EVF, now, E_OPEN, OI[o, O_ID], 0, 0, 0,
                  OI[o, O_PRICE] / 1000.0, OF[o, O_SIZE], 0.0, 0.0, 0.0)  # fmt: skip
    tok = OI[o, O_TOK]
    price = OI[o, O_PRICE]
    ask = book_best(top_cur, tok, SIDE_ASK)
    if ask != NONE and ask <= price:
        deplete = IP[P_DEPLETE] != 0
        for p in range(ask, price + 1):
            avail = BA[tok, p]
            if avail <= 0.0:
                continue
            if deplete:
                avail -= consumed(DQ, DH, tok, p)
                if avail <= EPS:
                    continue
            rem = OF[o, O_SIZE] - OF[o, O_FILLED]
            qty = avail if avail < rem else rem
            fill(S, F, OI, OF, R, NR, QD, QK, QO, QQ, QP, FL, FLF, EV, EVF, IP, FP,
                 o, qty, p, False, W_TAKER)  # fmt: skip
            if deplete:
                got = consumed(DQ, DH, tok, p)
                if not DH[tok, p]:
                    DH[tok, p] = 1
                    S[DEPN] += 1
                DQ[tok, p] = got + qty
            if OI[o, O_STATUS] != OPEN:
                break
        OI[o, O_PHANTOM] = 1 if (OI[o, O_STATUS] == OPEN and not deplete) else 0
    if OI[o, O_STATUS] == OPEN:
        OF[o, O_AHEAD] = FP[Q_AHEAD] * BB[tok, price]
        if NR[tok] == 0 and IP[P_FLOW]:
            if tok == 0:
                nt, nz, nj = next_flow(ft0, fz0, now, S[FLOWJ0])
            else:
                nt, nz, nj = next_flow(ft1, fz1, now, S[FLOWJ0 + 1])
            S[FLOW0 + tok] = nt
            S[FLOWJ0 + tok] = nj
            F[FZ0 + tok] = nz
        n = NR[tok]
        if n < R.shape[1]:
            R[tok, n] = o
            NR[tok] = n + 1
        else:
            S[OVER] = 1


@nopython_noref
def flow_arrival(
    S, F, OI, OF, R, NR, QD, QK, QO, QQ, QP, FL, FLF, EV, EVF, IP, FP, BB, top_cur, tok, z
):
    """Twin of pk8opt.engine.paper.PaperEngine._flow_arrival."""
    best = book_best(top_cur, tok, SIDE_BID)
    if best == NONE:
        return
    noise = FP[Q_FLOW_NOISE]
    qty = FP[Q_FLOW_SCALE] * BB[tok, best]
    qty *= math.exp(noise * z - 0.5 * noise**2)
    used = 0.0
    n = NR[tok]
    order = R[R_SCRATCH]
    for i in range(n):
        order[i] = R[tok, i]
    # by price (highest first), then id
    for a in range(1, n):
        x = order[a]
        b = a - 1
        while b >= 0 and (
            OI[order[b], O_PRICE] < OI[x, O_PRICE]
            or (OI[order[b], O_PRICE] == OI[x, O_PRICE] and OI[order[b], O_ID] > OI[x, O_ID])
        ):
            order[b + 1] = order[b]
            b -= 1
        order[b + 1] = x
    for i in range(n):
        o = order[i]
        above = used
        p = best
        op = OI[o, O_PRICE]
        while p > op and above < qty:
            above += BB[tok, p]
            p -= 1
        reach = qty - above - OF[o, O_AHEAD]
        if reach > EPS:
            rem = OF[o, O_SIZE] - OF[o, O_FILLED]
            q = reach if reach < rem else rem
            used += q
            fill(S, F, OI, OF, R, NR, QD, QK, QO, QQ, QP, FL, FLF, EV, EVF, IP, FP,
                 o, q, op, True, W_FLOW)  # fmt: skip


@nopython_noref
def advance(
    S, F, OI, OF, R, NR, QD, QK, QO, QQ, QP, FL, FLF, EV, EVF, IP, FP, BB, BA, DQ, DH,
    TD, TS, TA, TO, top_cur, ft0, fz0, ft1, fz1, t_ns,
):  # fmt: skip
    """Twin of pk8opt.engine.paper.PaperEngine.advance_to: timers and flow arrivals due at
    or before t_ns, with Twin of pk8opt.engine.paper.PaperEngine._cancel_ack and Twin of
    pk8opt.engine.paper.PaperEngine._cancel_clear written out inside."""
    flow = IP[P_FLOW] != 0
    while True:
        ti = timer_min(S, TD, TS)
        due = TD[ti] if ti >= 0 else NEVER
        ftok = -1
        if flow:
            for tok in range(2):
                if NR[tok] > 0 and S[FLOW0 + tok] < due:
                    due = S[FLOW0 + tok]
                    ftok = tok
        if due > t_ns:
            break
        S[NOW] = due
        if ftok >= 0:
            z = F[FZ0 + ftok]
            if ftok == 0:
                nt, nz, nj = next_flow(ft0, fz0, due, S[FLOWJ0])
            else:
                nt, nz, nj = next_flow(ft1, fz1, due, S[FLOWJ0 + 1])
            S[FLOW0 + ftok] = nt
            S[FLOWJ0 + ftok] = nj
            F[FZ0 + ftok] = nz
            flow_arrival(S, F, OI, OF, R, NR, QD, QK, QO, QQ, QP, FL, FLF, EV, EVF, IP, FP,
                         BB, top_cur, ftok, z)  # fmt: skip
        else:
            action = TA[ti]
            o = TO[ti]
            n = S[NTIM] - 1
            TD[ti] = TD[n]
            TS[ti] = TS[n]
            TA[ti] = TA[n]
            TO[ti] = TO[n]
            S[NTIM] = n
            if action == A_OPEN:
                open_order(S, F, OI, OF, R, NR, QD, QK, QO, QQ, QP, FL, FLF, EV, EVF, IP, FP,
                           BB, BA, DQ, DH, top_cur, ft0, fz0, ft1, fz1, o)  # fmt: skip
            elif action == A_ACK:
                if OI[o, O_STATUS] <= OPEN:
                    now = S[NOW]
                    if IP[P_LOG]:
                        log_event(S, EV, EVF, now, E_CANCEL_REQ, OI[o, O_ID], 0, 0, 0,
                                  0.0, 0.0, 0.0, 0.0, 0.0)  # fmt: skip
                    push(S, TD, TS, TA, TO, now + IP[P_CCLEAR], A_CLEAR, o)
            else:
                if OI[o, O_STATUS] <= OPEN:
                    OI[o, O_STATUS] = CANCELLED
                    rest_remove(R, NR, OI[o, O_TOK], o)
                    release(F, OI, OF, o)
                    now = S[NOW]
                    resp_send(S, F, OI, OF, QD, QK, QO, QQ, QP, now, R_DONE, o, 0.0, 0.0,
                              IP[P_RESP])  # fmt: skip
                    if IP[P_LOG]:
                        log_event(S, EV, EVF, now, E_CANCELLED, OI[o, O_ID], 0, 0, 0,
                                  OF[o, O_FILLED], 0.0, 0.0, 0.0, 0.0)  # fmt: skip
    if t_ns > S[NOW]:
        S[NOW] = t_ns


@nopython_noref
def on_level(OI, OF, R, NR, FP, tok, price, old, new):
    """Twin of pk8opt.engine.paper.PaperEngine.on_level."""
    add = FP[Q_ADD_AHEAD]
    for i in range(NR[tok]):
        o = R[tok, i]
        if OI[o, O_PRICE] != price:
            continue
        delta = new - old
        if delta > 0:
            OF[o, O_AHEAD] += add * delta
        elif delta < 0:
            removed = -delta
            debt = OF[o, O_DEBT]
            traded = removed if removed < debt else debt
            OF[o, O_DEBT] = debt - traded
            removed -= traded
            base = old - traded
            if removed > 0 and base > 0:
                left = base - removed
                OF[o, O_AHEAD] *= (left if left > 0.0 else 0.0) / base
        if OF[o, O_AHEAD] > new:
            OF[o, O_AHEAD] = new


@nopython_noref
def on_trade(S, F, OI, OF, R, NR, QD, QK, QO, QQ, QP, FL, FLF, EV, EVF, IP, FP, tok, price, size):
    """Twin of pk8opt.engine.paper.PaperEngine.on_trade."""
    n = NR[tok]
    snap = R[R_SCRATCH]
    for i in range(n):
        snap[i] = R[tok, i]
    through = size
    for i in range(n):
        o = snap[i]
        op = OI[o, O_PRICE]
        if price == op:
            OF[o, O_DEBT] += size
            ahead = OF[o, O_AHEAD]
            used = ahead if ahead < size else size
            OF[o, O_AHEAD] = ahead - used
            rest = size - used
            if rest > EPS:
                rem = OF[o, O_SIZE] - OF[o, O_FILLED]
                fill(S, F, OI, OF, R, NR, QD, QK, QO, QQ, QP, FL, FLF, EV, EVF, IP, FP,
                     o, rest if rest < rem else rem, op, True, W_QUEUE)  # fmt: skip
        elif price < op:
            qty = OF[o, O_SIZE] - OF[o, O_FILLED]
            if IP[P_THROUGH_VOL]:
                qty = qty if qty < through else through
                through -= qty
                if qty <= EPS:
                    continue
            fill(S, F, OI, OF, R, NR, QD, QK, QO, QQ, QP, FL, FLF, EV, EVF, IP, FP,
                 o, qty, op, True, W_THROUGH)  # fmt: skip


@nopython_noref
def check_cross(
    S, F, OI, OF, R, NR, QD, QK, QO, QQ, QP, FL, FLF, EV, EVF, IP, FP, BA, DQ, DH, top_cur
):
    """Twin of pk8opt.engine.paper.PaperEngine.check_cross."""
    for tok in range(2):
        n = NR[tok]
        if n == 0:
            continue
        ask = book_best(top_cur, tok, SIDE_ASK)
        if ask == NONE:
            continue
        snap = R[R_SCRATCH]
        for i in range(n):
            snap[i] = R[tok, i]
        for i in range(n):
            o = snap[i]
            op = OI[o, O_PRICE]
            if OI[o, O_PHANTOM]:
                if ask > op:
                    OI[o, O_PHANTOM] = 0
                continue
            if op >= ask:
                if S[DEPN] > 0 and not asks_left(BA, DQ, DH, tok, ask, op):
                    continue
                fill(S, F, OI, OF, R, NR, QD, QK, QO, QQ, QP, FL, FLF, EV, EVF, IP, FP,
                     o, OF[o, O_SIZE] - OF[o, O_FILLED], op, True, W_BOOK)  # fmt: skip


@nopython_noref
def cancel(S, OI, IP, TD, TS, TA, TO, t, o):
    """Twin of pk8opt.engine.paper.PaperEngine.cancel."""
    if OI[o, O_STATUS] > OPEN or OI[o, O_CREQ]:
        return
    OI[o, O_CREQ] = 1
    push(S, TD, TS, TA, TO, t + IP[P_CREQ], A_ACK, o)


@nopython_noref
def submit(
    S, F, OI, OF, IP, FP, EV, EVF, REJ, TD, TS, TA, TO, top_cur, tick_cur, t, tok, price, size,
    why,
):  # fmt: skip
    """Twin of pk8opt.engine.paper.PaperEngine.submit: the new order's row (-1 when the
    buffers are full)."""
    S[SEQ] += 1
    o = S[NORD]
    if o >= OI.shape[0]:
        S[OVER] = 1
        return -1
    S[NORD] = o + 1
    OI[o, :] = 0
    OF[o, :] = 0.0
    OI[o, O_ID] = S[SEQ]
    OI[o, O_TOK] = tok
    OI[o, O_PRICE] = price
    OI[o, O_STATUS] = PENDING
    OI[o, O_SUBMIT] = t
    OI[o, O_OPEN] = -1
    OI[o, O_WHY] = why
    OF[o, O_SIZE] = size
    tick = tick_cur[tok]
    reason = -1
    if not size >= FP[Q_MIN_SIZE] - EPS:
        reason = REJ_MIN_SIZE
    elif price % tick != 0:
        reason = REJ_TICK
    elif price < tick or price > 1000 - tick:
        reason = REJ_BOUNDS
    elif size * price < 1000.0 and 0 <= book_best(top_cur, tok, SIDE_ASK) <= price:
        reason = REJ_NOTIONAL
    else:
        px = price / 1000.0
        has = IP[P_SCHED] != 0
        need = size * px + taker_fee(size, px if px < 0.5 else 0.5, has, FP[Q_FEE_RATE],
                                     FP[Q_FEE_EXP])  # fmt: skip
        if has:
            need += 0.0001
        if need > F[CASH]:
            reason = REJ_CASH
        else:
            F[CASH] -= need
            F[RES] += need
            OF[o, O_RES] = need
    if IP[P_LOG]:
        log_event(S, EV, EVF, t, E_SUBMIT, OI[o, O_ID], tok, price, why, size, 0.0, 0.0, 0.0, 0.0)
    if reason >= 0:
        OI[o, O_STATUS] = REJECTED
        if REJ[reason, REJ_COUNT] == 0:
            REJ[reason, REJ_FIRST] = S[NREJ]
            S[NREJ] += 1
        REJ[reason, REJ_COUNT] += 1
        if IP[P_LOG]:
            log_event(S, EV, EVF, t, E_REJECT, OI[o, O_ID], reason, tick, 0,
                      0.0, 0.0, 0.0, 0.0, 0.0)  # fmt: skip
        return o
    S[ACC] += 1
    push(S, TD, TS, TA, TO, t + IP[P_POST], A_OPEN, o)
    return o


@nopython_noref_inline
def next_due(S, NR, IP, TD):
    """Twin of pk8opt.engine.paper.PaperEngine.next_timer_ns: the time of the next timer or
    flow arrival."""
    due = NEVER
    for i in range(S[NTIM]):
        if TD[i] < due:
            due = TD[i]
    if IP[P_FLOW]:
        if NR[TOK_UP] > 0 and S[FLOW0] < due:
            due = S[FLOW0]
        if NR[TOK_DOWN] > 0 and S[FLOW1] < due:
            due = S[FLOW1]
    return due


@nopython_noref
def close_window(S, F, OI, OF, R, NR, QD, QK, QO, QQ, QP, EV, EVF, IP, close):
    """Twin of pk8opt.engine.paper.PaperEngine.close: live orders expire (in id order =
    row order), winning shares pay 1 each; returns the payout."""
    for o in range(S[NORD]):
        if OI[o, O_STATUS] <= OPEN:
            OI[o, O_STATUS] = CANCELLED
            rest_remove(R, NR, OI[o, O_TOK], o)
            release(F, OI, OF, o)
            resp_send(S, F, OI, OF, QD, QK, QO, QQ, QP, close, R_DONE, o, 0.0, 0.0,
                      IP[P_RESP])  # fmt: skip
            if IP[P_LOG]:
                log_event(S, EV, EVF, close, E_EXPIRED, OI[o, O_ID], 0, 0, 0,
                          0.0, 0.0, 0.0, 0.0, 0.0)  # fmt: skip
    S[NTIM] = 0
    resp_receive(S, F, OI, OF, QD, QK, QO, QQ, QP, close)
    winner = IP[P_WINNER]
    payout = F[POS0 + winner] * 1.0
    F[CASH] += payout
    F[POS0] = 0.0
    F[POS1] = 0.0
    F[COST0] = 0.0
    F[COST1] = 0.0
    return payout

"""The compiled replay of one session: the paper engine, the trade loop and a strategy.

This is `replay.SessionStepper` driven frame by frame (`mode="events"`), written once
more as numba code over the session's record stream (`SessionCache.rec_*`): the same
rules, the same order of operations, the same float arithmetic, so its results and
event log are identical to the Python engine's (tests/unit/test_compiled_replay.py).
The Python code stays the reference: a change of a rule goes there first, then here.

State lives in flat arrays (numba has no cheap objects): `S` the integer counters,
`F` the account and the known state, `OI`/`OF` one row per order. Buffers have fixed
capacities; an append that would overflow one sets `S[OVER]` and the caller runs the
session again with larger ones.
"""

from __future__ import annotations

import math
import types
from typing import Any

import numpy as np

from pk8opt.backtest.compiled import strategies as SC
from pk8opt.backtest.compiled.jit import (
    nopython,
    nopython_noref,
    nopython_noref_inline,
    nopython_noref_uncached,
)
from pk8opt.backtest.compiled.numeric import maker_rebate, taker_fee

NEVER = 1 << 62
EPS = 1e-9
NONE = -1
NPRICE = 1024

# S: integer state
NOW, SEQ, OPEN_SEQ, FILL_SEQ, ACC, WFILL, NORD, NTIM, KSEQ, QH, QT = range(11)
NFILL, NEQ, NEV, DEPN, OVER, NREJ, FILLS, CALLS, WORK0, WORK1 = range(11, 21)
LAST0, LAST1, NEXT_WAKE, START, HAS_KEY, HAS_QUOTE, HAS_EQ, EQ_SEQ, KEY_SEQ = range(21, 30)
KEY_B0, KEY_B1, LGATE0, LGATE1, FLOW0, FLOW1, N_S = range(30, 37)
# F: float state
CASH, RES, POS0, POS1, COST0, COST1, FEES, VOL, MVOL, REB = range(10)
KPOS0, KPOS1, KCOST0, KCOST1, MID0, MID1, FZ0, FZ1, N_F = range(10, 19)
# orders: OI (int) and OF (float) columns
O_ID, O_TOK, O_PRICE, O_STATUS, O_SUBMIT, O_OPEN, O_CREQ, O_WHY, O_PHANTOM, O_SDONE = range(10)
N_OI = 10
O_SIZE, O_FILLED, O_AHEAD, O_DEBT, O_RES, O_SFILLED = range(6)
N_OF = 6
PENDING, OPEN, FILLED, CANCELLED, REJECTED = range(5)
# timers, responses
A_OPEN, A_ACK, A_CLEAR = 0, 1, 2
R_FILL, R_DONE = 0, 1
# fill reasons (markout.REASONS order)
W_QUEUE, W_THROUGH, W_BOOK, W_TAKER, W_FLOW = range(5)
# rejection reasons (the engine's order of checks)
REJ_TOKEN, REJ_MIN_SIZE, REJ_TICK, REJ_BOUNDS, REJ_NOTIONAL, REJ_CASH = range(6)
# event log rows
E_SUBMIT, E_REJECT, E_OPEN, E_FILL, E_CANCEL_REQ, E_CANCELLED, E_EXPIRED = range(7)
# IP: integer parameters
(
    P_TICK0,
    P_END,
    P_CLOSE,
    P_POST,
    P_CREQ,
    P_CCLEAR,
    P_RESP,
    P_DEPLETE,
    P_FLOW,
    P_DELAY,
    P_WARMUP,
    P_MINREQ,
    P_MINTICKS,
    P_MAXAGE,
    P_ENABLED,
    P_SKIP,
    P_LOG,
    P_SCHED,
    P_WINNER,
    N_IP,
) = range(20)
# FP: float parameters
(
    Q_ADD_AHEAD,
    Q_FLOW_SCALE,
    Q_FLOW_NOISE,
    Q_CASH,
    Q_MIN_SIZE,
    Q_FEE_RATE,
    Q_FEE_EXP,
    Q_REBATE,
    Q_WINDOW_S,
    N_FP,
) = range(10)
# the strategy's context (docs/strategies.md "Compiled strategies")
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


def buffers(caps: np.ndarray, n_whys: int, tick0: int) -> dict[str, np.ndarray]:
    """The state and output arrays of one run, by `run_kernel`'s argument names; `caps`:
    orders, fills, equity samples, log rows."""
    n_orders, n_fills, n_eq, n_ev = (int(c) for c in caps)
    S = np.zeros(N_S, dtype=np.int64)
    n_t = 2 * n_orders + 4
    n_q = n_fills + n_orders + 4
    i8, f8 = np.int64, np.float64
    return {
        "S": S,
        "F": np.zeros(N_F, dtype=f8),
        "OI": np.zeros((n_orders, N_OI), dtype=i8),
        "OF": np.zeros((n_orders, N_OF), dtype=f8),
        "R": np.zeros((3, n_orders), dtype=i8),  # resting orders per token; row 2: scratch
        "NR": np.zeros(2, dtype=i8),
        "TD": np.zeros(n_t, dtype=i8),
        "TS": np.zeros(n_t, dtype=i8),
        "TA": np.zeros(n_t, dtype=i8),
        "TO": np.zeros(n_t, dtype=i8),
        "QD": np.zeros(n_q, dtype=i8),
        "QK": np.zeros(n_q, dtype=i8),
        "QO": np.zeros(n_q, dtype=i8),
        "QQ": np.zeros(n_q, dtype=f8),
        "QP": np.zeros(n_q, dtype=f8),
        "FL": np.zeros((n_fills, 5), dtype=i8),
        "FLF": np.zeros(n_fills, dtype=f8),
        "EQT": np.zeros(n_eq, dtype=i8),
        "EQV": np.zeros(n_eq, dtype=f8),
        "EV": np.zeros((n_ev, 6), dtype=i8),
        "EVF": np.zeros((n_ev, 5), dtype=f8),
        "REJ": np.zeros((6, 2), dtype=i8),
        "GATE": np.zeros(n_whys, dtype=i8),
        "MV": np.zeros(2, dtype=i8),
        "KEYI": np.zeros(10, dtype=i8),
        "QUOTE": np.zeros(6, dtype=f8),
        "CTX": np.zeros(N_CTX, dtype=f8),
        "BB": np.zeros((2, NPRICE), dtype=f8),
        "BA": np.zeros((2, NPRICE), dtype=f8),
        "DQ": np.zeros((2, NPRICE), dtype=f8),
        "DH": np.zeros((2, NPRICE), dtype=i8),
        "top_cur": np.full(4, NONE, dtype=i8),
        "tick_cur": np.full(2, tick0, dtype=i8),
        "HELD": np.zeros(3, dtype=f8),
    }


_RESET = ("S", "F", "NR", "REJ", "GATE", "MV", "KEYI", "HELD", "BB", "BA", "DQ", "DH")


def reset(b: dict[str, np.ndarray], tick0: int) -> dict[str, np.ndarray]:
    """Make buffers from `buffers` ready for a new run (what the run reads before it
    writes it; rows of orders, fills and the rest are written before they are read)."""
    for name in _RESET:
        b[name].fill(0)
    S = b["S"]
    S[[WORK0, WORK1, START, LGATE0, LGATE1]] = -1
    S[[LAST0, LAST1]] = -NEVER
    S[[FLOW0, FLOW1]] = NEVER
    b["top_cur"].fill(NONE)
    b["tick_cur"].fill(tick0)
    return b


# ----------------------------------------------------------------------------- helpers
@nopython_noref
def _resp_send(S, F, OI, OF, QD, QK, QO, QQ, QP, t, kind, o, qty, px, resp_ns):
    if resp_ns == 0:
        _resp_apply(S, F, OI, OF, kind, o, qty, px)
        return
    j = S[QT]
    if j >= QD.shape[0]:
        S[OVER] = 1
        return
    QD[j] = t + resp_ns
    QK[j] = kind
    QO[j] = o
    QQ[j] = qty
    QP[j] = px
    S[QT] = j + 1


@nopython_noref
def _resp_apply(S, F, OI, OF, kind, o, qty, px):
    if kind == R_FILL:
        tok = OI[o, O_TOK]
        F[KPOS0 + tok] += qty
        F[KCOST0 + tok] += qty * px
        OF[o, O_SFILLED] += qty
    else:
        OI[o, O_SDONE] = 1
        if OI[o, O_CREQ]:
            return
    S[KSEQ] += 1


@nopython_noref
def _resp_receive(S, F, OI, OF, QD, QK, QO, QQ, QP, t):
    h = S[QH]
    n = S[QT]
    while h < n and QD[h] <= t:
        _resp_apply(S, F, OI, OF, QK[h], QO[h], QQ[h], QP[h])
        h += 1
    S[QH] = h


@nopython_noref
def _log(S, EV, EVF, t, kind, oid, i0, i1, i2, f0, f1, f2, f3, f4):
    j = S[NEV]
    if j >= EV.shape[0]:
        S[OVER] = 1
        return
    EV[j, 0] = kind
    EV[j, 1] = t
    EV[j, 2] = oid
    EV[j, 3] = i0
    EV[j, 4] = i1
    EV[j, 5] = i2
    EVF[j, 0] = f0
    EVF[j, 1] = f1
    EVF[j, 2] = f2
    EVF[j, 3] = f3
    EVF[j, 4] = f4
    S[NEV] = j + 1


@nopython_noref
def _push(S, TD, TS, TA, TO, due, action, o):
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
def _timer_min(S, TD, TS):
    """Index of the next timer (earliest due, then earliest pushed), -1 when none."""
    n = S[NTIM]
    best = -1
    for i in range(n):
        if best < 0 or TD[i] < TD[best] or (TD[i] == TD[best] and TS[i] < TS[best]):
            best = i
    return best


@nopython_noref
def _rest_remove(R, NR, tok, o):
    n = NR[tok]
    for i in range(n):
        if R[tok, i] == o:
            for j in range(i, n - 1):
                R[tok, j] = R[tok, j + 1]
            NR[tok] = n - 1
            return


@nopython_noref
def _release(F, OI, OF, o):
    F[CASH] += OF[o, O_RES]
    F[RES] -= OF[o, O_RES]
    OF[o, O_RES] = 0.0
    if abs(F[RES]) < 1e-9:
        F[RES] = 0.0


@nopython_noref
def _fill(
    S, F, OI, OF, R, NR, QD, QK, QO, QQ, QP, FL, FLF, EV, EVF, IP, FP, o, qty, price, maker, why
):
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
        FL[j, 0] = now
        FL[j, 1] = tok
        FL[j, 2] = price
        FL[j, 3] = why
        FL[j, 4] = OI[o, O_CREQ]
        FLF[j] = qty
        S[NFILL] = j + 1
    else:
        S[OVER] = 1
    resp_ns = IP[P_RESP]
    _resp_send(S, F, OI, OF, QD, QK, QO, QQ, QP, now, R_FILL, o, qty, px, resp_ns)
    if IP[P_LOG]:
        _log(
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
        _rest_remove(R, NR, tok, o)
        _release(F, OI, OF, o)
        _resp_send(S, F, OI, OF, QD, QK, QO, QQ, QP, now, R_DONE, o, 0.0, 0.0, resp_ns)


@nopython_noref
def _best(top_cur, tok, side):
    return top_cur[2 * tok + side]


@nopython_noref
def _consumed(DQ, DH, tok, p):
    if DH[tok, p]:
        return DQ[tok, p]
    return 0.0


@nopython_noref
def _asks_left(BA, DQ, DH, tok, low, high):
    for p in range(low, high + 1):
        size = BA[tok, p]
        if size > 0.0 and size - _consumed(DQ, DH, tok, p) > EPS:
            return True
    return False


@nopython_noref
def _next_flow(ft, fz, t):
    """The first arrival strictly after t: (time, z)."""
    j = np.searchsorted(ft, t, side="right")
    if j < ft.shape[0]:
        return ft[j], fz[j]
    return NEVER, 0.0


@nopython_noref
def _open(
    S, F, OI, OF, R, NR, QD, QK, QO, QQ, QP, FL, FLF, EV, EVF, IP, FP, BB, BA, DQ, DH, top_cur,
    ft0, fz0, ft1, fz1, o,
):  # fmt: skip
    if OI[o, O_STATUS] != PENDING:
        return
    now = S[NOW]
    OI[o, O_STATUS] = OPEN
    OI[o, O_OPEN] = now
    S[OPEN_SEQ] += 1
    if IP[P_LOG]:
        _log(S, EV, EVF, now, E_OPEN, OI[o, O_ID], 0, 0, 0,
             OI[o, O_PRICE] / 1000.0, OF[o, O_SIZE], 0.0, 0.0, 0.0)  # fmt: skip
    tok = OI[o, O_TOK]
    price = OI[o, O_PRICE]
    ask = _best(top_cur, tok, 1)
    if ask != NONE and ask <= price:
        deplete = IP[P_DEPLETE] != 0
        for p in range(ask, price + 1):
            avail = BA[tok, p]
            if avail <= 0.0:
                continue
            if deplete:
                avail -= _consumed(DQ, DH, tok, p)
                if avail <= EPS:
                    continue
            rem = OF[o, O_SIZE] - OF[o, O_FILLED]
            qty = avail if avail < rem else rem
            _fill(S, F, OI, OF, R, NR, QD, QK, QO, QQ, QP, FL, FLF, EV, EVF, IP, FP,
                  o, qty, p, False, W_TAKER)  # fmt: skip
            if deplete:
                got = _consumed(DQ, DH, tok, p)
                if not DH[tok, p]:
                    DH[tok, p] = 1
                    S[DEPN] += 1
                DQ[tok, p] = got + qty
            if OI[o, O_STATUS] != OPEN:
                break
        OI[o, O_PHANTOM] = 1 if (OI[o, O_STATUS] == OPEN and not deplete) else 0
    if OI[o, O_STATUS] == OPEN:
        OF[o, O_AHEAD] = BB[tok, price]
        if NR[tok] == 0 and IP[P_FLOW]:
            if tok == 0:
                nt, nz = _next_flow(ft0, fz0, now)
            else:
                nt, nz = _next_flow(ft1, fz1, now)
            S[FLOW0 + tok] = nt
            F[FZ0 + tok] = nz
        n = NR[tok]
        if n < R.shape[1]:
            R[tok, n] = o
            NR[tok] = n + 1
        else:
            S[OVER] = 1


@nopython_noref
def _flow_arrival(
    S, F, OI, OF, R, NR, QD, QK, QO, QQ, QP, FL, FLF, EV, EVF, IP, FP, BB, top_cur, tok, z
):
    best = _best(top_cur, tok, 0)
    if best == NONE:
        return
    noise = FP[Q_FLOW_NOISE]
    qty = FP[Q_FLOW_SCALE] * BB[tok, best]
    qty *= math.exp(noise * z - 0.5 * noise**2)
    used = 0.0
    n = NR[tok]
    order = R[2]
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
            _fill(S, F, OI, OF, R, NR, QD, QK, QO, QQ, QP, FL, FLF, EV, EVF, IP, FP,
                  o, q, op, True, W_FLOW)  # fmt: skip


@nopython_noref
def _advance(
    S, F, OI, OF, R, NR, QD, QK, QO, QQ, QP, FL, FLF, EV, EVF, IP, FP, BB, BA, DQ, DH,
    TD, TS, TA, TO, top_cur, ft0, fz0, ft1, fz1, t_ns,
):  # fmt: skip
    """PaperEngine.advance_to: timers and flow arrivals due at or before t_ns."""
    flow = IP[P_FLOW] != 0
    while True:
        ti = _timer_min(S, TD, TS)
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
                nt, nz = _next_flow(ft0, fz0, due)
            else:
                nt, nz = _next_flow(ft1, fz1, due)
            S[FLOW0 + ftok] = nt
            F[FZ0 + ftok] = nz
            _flow_arrival(S, F, OI, OF, R, NR, QD, QK, QO, QQ, QP, FL, FLF, EV, EVF, IP, FP,
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
                _open(S, F, OI, OF, R, NR, QD, QK, QO, QQ, QP, FL, FLF, EV, EVF, IP, FP,
                      BB, BA, DQ, DH, top_cur, ft0, fz0, ft1, fz1, o)  # fmt: skip
            elif action == A_ACK:
                if OI[o, O_STATUS] <= OPEN:
                    now = S[NOW]
                    if IP[P_LOG]:
                        _log(S, EV, EVF, now, E_CANCEL_REQ, OI[o, O_ID], 0, 0, 0,
                             0.0, 0.0, 0.0, 0.0, 0.0)  # fmt: skip
                    _push(S, TD, TS, TA, TO, now + IP[P_CCLEAR], A_CLEAR, o)
            else:
                if OI[o, O_STATUS] <= OPEN:
                    OI[o, O_STATUS] = CANCELLED
                    _rest_remove(R, NR, OI[o, O_TOK], o)
                    _release(F, OI, OF, o)
                    now = S[NOW]
                    _resp_send(S, F, OI, OF, QD, QK, QO, QQ, QP, now, R_DONE, o, 0.0, 0.0,
                               IP[P_RESP])  # fmt: skip
                    if IP[P_LOG]:
                        _log(S, EV, EVF, now, E_CANCELLED, OI[o, O_ID], 0, 0, 0,
                             OF[o, O_FILLED], 0.0, 0.0, 0.0, 0.0)  # fmt: skip
    if t_ns > S[NOW]:
        S[NOW] = t_ns


@nopython_noref
def _on_level(OI, OF, R, NR, FP, tok, price, old, new):
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
def _on_trade(S, F, OI, OF, R, NR, QD, QK, QO, QQ, QP, FL, FLF, EV, EVF, IP, FP, tok, price, size):
    n = NR[tok]
    snap = R[2]
    for i in range(n):
        snap[i] = R[tok, i]
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
                _fill(S, F, OI, OF, R, NR, QD, QK, QO, QQ, QP, FL, FLF, EV, EVF, IP, FP,
                      o, rest if rest < rem else rem, op, True, W_QUEUE)  # fmt: skip
        elif price < op:
            _fill(S, F, OI, OF, R, NR, QD, QK, QO, QQ, QP, FL, FLF, EV, EVF, IP, FP,
                  o, OF[o, O_SIZE] - OF[o, O_FILLED], op, True, W_THROUGH)  # fmt: skip


@nopython_noref
def _check_cross(
    S, F, OI, OF, R, NR, QD, QK, QO, QQ, QP, FL, FLF, EV, EVF, IP, FP, BA, DQ, DH, top_cur
):
    for tok in range(2):
        n = NR[tok]
        if n == 0:
            continue
        ask = _best(top_cur, tok, 1)
        if ask == NONE:
            continue
        snap = R[2]
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
                if S[DEPN] > 0 and not _asks_left(BA, DQ, DH, tok, ask, op):
                    continue
                _fill(S, F, OI, OF, R, NR, QD, QK, QO, QQ, QP, FL, FLF, EV, EVF, IP, FP,
                      o, OF[o, O_SIZE] - OF[o, O_FILLED], op, True, W_BOOK)  # fmt: skip


@nopython_noref
def _cancel(S, OI, IP, TD, TS, TA, TO, t, o):
    if OI[o, O_STATUS] > OPEN or OI[o, O_CREQ]:
        return
    OI[o, O_CREQ] = 1
    _push(S, TD, TS, TA, TO, t + IP[P_CREQ], A_ACK, o)


@nopython_noref
def _submit(
    S, F, OI, OF, IP, FP, EV, EVF, REJ, TD, TS, TA, TO, top_cur, tick_cur, t, tok, price, size,
    why,
):  # fmt: skip
    """PaperEngine.submit: the new order's row (-1 when the buffers are full)."""
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
    elif size * price < 1000.0 and 0 <= _best(top_cur, tok, 1) <= price:
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
        _log(S, EV, EVF, t, E_SUBMIT, OI[o, O_ID], tok, price, why, size, 0.0, 0.0, 0.0, 0.0)
    if reason >= 0:
        OI[o, O_STATUS] = REJECTED
        if REJ[reason, 0] == 0:
            REJ[reason, 1] = S[NREJ]
            S[NREJ] += 1
        REJ[reason, 0] += 1
        if IP[P_LOG]:
            _log(S, EV, EVF, t, E_REJECT, OI[o, O_ID], reason, tick, 0,
                 0.0, 0.0, 0.0, 0.0, 0.0)  # fmt: skip
        return o
    S[ACC] += 1
    _push(S, TD, TS, TA, TO, t + IP[P_POST], A_OPEN, o)
    return o


@nopython_noref
def _sample_equity(S, F, EQT, EQV, MV, t, top):
    for tok in range(2):
        bid = top[2 * tok]
        ask = top[2 * tok + 1]
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
def _act(
    S, F, OI, OF, IP, FP, EV, EVF, REJ, TD, TS, TA, TO, top_cur, tick_cur, leg, px, q, why, t,
    tick,
):  # fmt: skip
    """Trader._act: the requote rules on one token; returns the next wake-up time."""
    o = S[WORK0 + leg]
    if o >= 0 and (OI[o, O_SDONE] or OI[o, O_STATUS] == REJECTED or OI[o, O_CREQ]):
        o = -1
        S[WORK0 + leg] = -1
    if px != px or q <= 0.0:
        if o >= 0:
            _cancel(S, OI, IP, TD, TS, TA, TO, t, o)
            S[WORK0 + leg] = -1
        return NEVER
    ready_at = S[LAST0 + leg] + IP[P_MINREQ]
    price = int(np.rint(px * 1000))
    if o < 0:
        if t >= ready_at:
            return _place(S, F, OI, OF, IP, FP, EV, EVF, REJ, TD, TS, TA, TO, top_cur, tick_cur,
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
            _cancel(S, OI, IP, TD, TS, TA, TO, t, o)
            S[WORK0 + leg] = -1
            return _place(S, F, OI, OF, IP, FP, EV, EVF, REJ, TD, TS, TA, TO, top_cur, tick_cur,
                          leg, t, price, q, why)  # fmt: skip
        return ready_at
    return aged_at


@nopython_noref
def _place(
    S, F, OI, OF, IP, FP, EV, EVF, REJ, TD, TS, TA, TO, top_cur, tick_cur, leg, t, price, q, why
):
    o = _submit(S, F, OI, OF, IP, FP, EV, EVF, REJ, TD, TS, TA, TO, top_cur, tick_cur,
                t, leg, price, q, why)  # fmt: skip
    S[LAST0 + leg] = t
    if o >= 0 and OI[o, O_STATUS] <= OPEN:
        S[WORK0 + leg] = o
        return NEVER
    S[WORK0 + leg] = -1
    return t + IP[P_MINREQ]


@nopython_noref_inline
def _same_inputs(S, KEYI, bp, t, tops, tickss, k):
    """Whether the strategy's inputs are those of its last call (Trader._key): the top
    and ticks of frame k, the known state, and the tau bucket of t."""
    return (
        S[HAS_KEY]
        and KEYI[0] == tops[k, 0]
        and KEYI[1] == tops[k, 1]
        and KEYI[2] == tops[k, 2]
        and KEYI[3] == tops[k, 3]
        and KEYI[4] == tickss[k, 0]
        and KEYI[5] == tickss[k, 1]
        and S[KEY_SEQ] == S[KSEQ]
        and S[KEY_B0] == np.searchsorted(bp, t, side="left")
        and S[KEY_B1] == np.searchsorted(bp, t, side="right")
    )


@nopython_noref
def _trader_pre(S, F, OI, OF, IP, QD, QK, QO, QQ, QP, EQT, EQV, MV, KEYI, bp, t, tops, tickss, k):
    """Trader.on_frame up to the strategy call: 0 done, 1 ask the strategy, 2 reuse the
    quote (one market update: top and ticks of frame k, decided on at t)."""
    top = tops[k]
    if IP[P_RESP]:
        _resp_receive(S, F, OI, OF, QD, QK, QO, QQ, QP, t)
    skip = IP[P_SKIP] != 0
    kseq = S[KSEQ]
    same = skip and _same_inputs(S, KEYI, bp, t, tops, tickss, k)
    if same and t < S[NEXT_WAKE]:
        return 0
    if (
        not S[HAS_EQ]
        or KEYI[6] != top[0]
        or KEYI[7] != top[1]
        or KEYI[8] != top[2]
        or KEYI[9] != top[3]
        or S[EQ_SEQ] != kseq
    ):
        _sample_equity(S, F, EQT, EQV, MV, t, top)
        for i in range(4):
            KEYI[6 + i] = top[i]
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
def _trader_quoted(S, KEYI, QUOTE, GATE, GATES, bp, t, tops, tickss, k):
    """After the strategy answered: remember its inputs, count its gates."""
    top = tops[k]
    ticks = tickss[k]
    S[CALLS] += 1
    for i in range(4):
        KEYI[i] = top[i]
    KEYI[4] = ticks[0]
    KEYI[5] = ticks[1]
    S[KEY_SEQ] = S[KSEQ]
    S[KEY_B0] = np.searchsorted(bp, t, side="left")
    S[KEY_B1] = np.searchsorted(bp, t, side="right")
    S[HAS_KEY] = 1
    S[HAS_QUOTE] = 1
    # gate counts: a gate counts once per stretch of updates it holds
    for leg in range(2):
        px = QUOTE[3 * leg]
        w = int(QUOTE[3 * leg + 2])
        gate = w if (px != px and GATES[w]) else -1
        if gate != S[LGATE0 + leg]:
            if gate >= 0:
                GATE[gate] += 1
            S[LGATE0 + leg] = gate


@nopython_noref
def _trader_act(
    S, F, OI, OF, IP, FP, EV, EVF, REJ, TD, TS, TA, TO, QUOTE, bp, top_cur, tick_cur, t,
    tickss, k,
):  # fmt: skip
    """Trader.on_frame after the quote: the requote rules on both tokens, the next wake."""
    ticks = tickss[k]
    b0 = np.searchsorted(bp, t, side="left")
    w0 = _act(S, F, OI, OF, IP, FP, EV, EVF, REJ, TD, TS, TA, TO, top_cur, tick_cur, 0,
              QUOTE[0], QUOTE[1], int(QUOTE[2]), t, ticks[0])  # fmt: skip
    w1 = _act(S, F, OI, OF, IP, FP, EV, EVF, REJ, TD, TS, TA, TO, top_cur, tick_cur, 1,
              QUOTE[3], QUOTE[4], int(QUOTE[5]), t, ticks[1])  # fmt: skip
    wake = w0 if w0 < w1 else w1
    if b0 < bp.shape[0]:
        nb = bp[b0] if bp[b0] > t else bp[b0] + 1
        if nb < wake:
            wake = nb
    S[NEXT_WAKE] = wake


@nopython_noref
def _context(F, IP, FP, CTX, t, top, ticks):
    b_up = top[0]
    a_up = top[1]
    b_dn = top[2]
    a_dn = top[3]
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
    CTX[C_TICK] = (ticks[0] if ticks[0] > ticks[1] else ticks[1]) / 1000.0
    CTX[C_TICK_UP] = ticks[0] / 1000.0
    CTX[C_TICK_DN] = ticks[1] / 1000.0
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


# ----------------------------------------------------------------------------- strategies
# The built-in strategies' quotes, chosen by number: the kernel's signature then holds no
# function, so numba's disk cache serves every process (a function argument's type names
# the function object, which differs from one process to the next). A user's strategy
# gets its own kernel instead (`kernel_for`).
BUILTIN = {
    "pk8opt.backtest.compiled.strategies:noop": 0,
    "pk8opt.backtest.compiled.strategies:fixed": 1,
    "pk8opt.backtest.compiled.strategies:join": 2,
    "pk8opt.backtest.compiled.strategies:balanced_arb": 3,
}


@nopython_noref
def _quote(sid, p, ctx, out):
    if sid == 3:
        SC.balanced_arb(p, ctx, out)
    elif sid == 2:
        SC.join(p, ctx, out)
    elif sid == 1:
        SC.fixed(p, ctx, out)
    else:
        SC.noop(p, ctx, out)


_kernels: dict[Any, Any] = {}


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


# ----------------------------------------------------------------------------- the run
@nopython_noref_inline
def _next_due(S, NR, IP, TD):
    """The time of the next timer or flow arrival (PaperEngine.next_timer_ns)."""
    due = NEVER
    for i in range(S[NTIM]):
        if TD[i] < due:
            due = TD[i]
    if IP[P_FLOW]:
        if NR[0] > 0 and S[FLOW0] < due:
            due = S[FLOW0]
        if NR[1] > 0 and S[FLOW1] < due:
            due = S[FLOW1]
    return due


@nopython_noref_inline
def _quiet(S, KEYI, IP, QD, bp, t, top, ticks, k):
    """Whether Trader.on_frame would return at once (its shortcut), with no response due."""
    if IP[P_RESP] and S[QH] < S[QT] and QD[S[QH]] <= t:
        return False
    return bool(IP[P_SKIP]) and t < S[NEXT_WAKE] and _same_inputs(S, KEYI, bp, t, top, ticks, k)


@nopython_noref
def run_kernel(
    sid, sp, gates, times, top, ticks, rfr, rkind, rtok, rprice, rold, rnew,
    IP, FP, bp, ft0, fz0, ft1, fz1,
    S, F, OI, OF, R, NR, TD, TS, TA, TO, QD, QK, QO, QQ, QP, FL, FLF, EQT, EQV, EV, EVF,
    REJ, GATE, MV, KEYI, QUOTE, CTX, BB, BA, DQ, DH, top_cur, tick_cur, HELD,
):  # fmt: skip
    """Replay one session into the buffers `buffers()` made (no allocation here: the
    compiled code then keeps no reference counts, which would cost more than the
    replay itself)."""
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
        if _next_due(S, NR, IP, TD) <= tt:
            _advance(S, F, OI, OF, R, NR, QD, QK, QO, QQ, QP, FL, FLF, EV, EVF, IP, FP, BB, BA,
                     DQ, DH, TD, TS, TA, TO, top_cur, ft0, fz0, ft1, fz1, tt)  # fmt: skip
        elif tt > S[NOW]:
            S[NOW] = tt
        if decide:
            if not _quiet(S, KEYI, IP, QD, bp, tt, top, ticks, pend):
                step = _trader_pre(S, F, OI, OF, IP, QD, QK, QO, QQ, QP, EQT, EQV, MV, KEYI,
                                   bp, tt, top, ticks, pend)  # fmt: skip
                if step == 1:
                    _context(F, IP, FP, CTX, tt, top[pend], ticks[pend])
                    _quote(sid, sp, CTX, QUOTE)
                    _trader_quoted(S, KEYI, QUOTE, GATE, gates, bp, tt, top, ticks, pend)
                if step:
                    _trader_act(S, F, OI, OF, IP, FP, EV, EVF, REJ, TD, TS, TA, TO, QUOTE, bp,
                                top_cur, tick_cur, tt, ticks, pend)  # fmt: skip
            pend += 1
            continue
        # frame k: its records, in the order the tracker made them
        while r < nr and rfr[r] == k:
            kind = rkind[r]
            tok = rtok[r]
            p = rprice[r]
            if kind == 2:
                BA[tok, p] = rnew[r]
                if S[DEPN] > 0 and DH[tok, p]:
                    DH[tok, p] = 0
                    DQ[tok, p] = 0.0
                    S[DEPN] -= 1
            elif kind == 0:
                BB[tok, p] = rnew[r]
                for i in range(NR[tok]):  # only an order at that price hears of it
                    if OI[R[tok, i], O_PRICE] == p:
                        _on_level(OI, OF, R, NR, FP, tok, p, rold[r], rnew[r])
                        break
            elif NR[tok] > 0:
                _on_trade(S, F, OI, OF, R, NR, QD, QK, QO, QQ, QP, FL, FLF, EV, EVF, IP, FP,
                          tok, p, rnew[r])  # fmt: skip
            r += 1
        for i in range(4):
            top_cur[i] = top[k, i]
        tick_cur[0] = ticks[k, 0]
        tick_cur[1] = ticks[k, 1]
        # a cross needs an ask at or below a resting bid (or a phantom order to update)
        cross = False
        for tok in range(2):
            ask = top_cur[2 * tok + 1]
            if ask != NONE:
                for i in range(NR[tok]):
                    o = R[tok, i]
                    if OI[o, O_PHANTOM] or OI[o, O_PRICE] >= ask:
                        cross = True
        if cross:
            _check_cross(S, F, OI, OF, R, NR, QD, QK, QO, QQ, QP, FL, FLF, EV, EVF, IP, FP, BA,
                         DQ, DH, top_cur)  # fmt: skip
        k += 1
    _advance(S, F, OI, OF, R, NR, QD, QK, QO, QQ, QP, FL, FLF, EV, EVF, IP, FP, BB, BA,
             DQ, DH, TD, TS, TA, TO, top_cur, ft0, fz0, ft1, fz1, close)  # fmt: skip
    held0 = F[POS0]
    held1 = F[POS1]
    # PaperEngine.close: live orders expire (in id order = row order)
    for o in range(S[NORD]):
        if OI[o, O_STATUS] <= OPEN:
            OI[o, O_STATUS] = CANCELLED
            _rest_remove(R, NR, OI[o, O_TOK], o)
            _release(F, OI, OF, o)
            _resp_send(S, F, OI, OF, QD, QK, QO, QQ, QP, close, R_DONE, o, 0.0, 0.0,
                       IP[P_RESP])  # fmt: skip
            if IP[P_LOG]:
                _log(S, EV, EVF, close, E_EXPIRED, OI[o, O_ID], 0, 0, 0,
                     0.0, 0.0, 0.0, 0.0, 0.0)  # fmt: skip
    S[NTIM] = 0
    _resp_receive(S, F, OI, OF, QD, QK, QO, QQ, QP, close)
    winner = IP[P_WINNER]
    payout = F[POS0 + winner] * 1.0
    F[CASH] += payout
    F[POS0] = 0.0
    F[POS1] = 0.0
    F[COST0] = 0.0
    F[COST1] = 0.0
    # Trader.finish: the final equity sample
    j = S[NEQ]
    if j < EQT.shape[0]:
        EQT[j] = close
        EQV[j] = F[CASH] + F[RES]
        S[NEQ] = j + 1
    else:
        S[OVER] = 1
    HELD[0] = held0
    HELD[1] = held1
    HELD[2] = payout


@nopython
def markouts(times, top, ft, ftok, fprice, horizons):
    """`engine.markout.fills_with_markouts` over arrays: NaN where no mid is known."""
    n = ft.shape[0]
    out = np.full((n, horizons.shape[0]), np.nan)
    for i in range(n):
        tok = ftok[i]
        px = fprice[i] / 1000.0
        for h in range(horizons.shape[0]):
            j = np.searchsorted(times, ft[i] + horizons[h] * 1_000_000_000, side="right") - 1
            while j >= 0:
                bid = top[j, 2 * tok]
                ask = top[j, 2 * tok + 1]
                if bid >= 0 and ask >= 0:
                    out[i, h] = (bid + ask) / 2000.0 - px
                    break
                j -= 1
    return out


@nopython
def max_drawdown(values):
    """`metrics.max_drawdown`."""
    peak = -np.inf
    worst = 0.0
    for v in values:
        if v > peak:
            peak = v
        elif peak - v > worst:
            worst = peak - v
    return worst


@nopython
def venue_times(local, exch, delay_ns):
    """`engine.feed.frame_times` on the venue clock."""
    n = local.shape[0]
    out = np.empty(n, dtype=np.int64)
    offset = -delay_ns
    last = -NEVER
    for i in range(n):
        if exch[i] > 0:
            t = exch[i] * 1_000_000
            offset = t - local[i]
        else:
            t = local[i] + offset
        if t > last:
            last = t
        out[i] = last
    return out

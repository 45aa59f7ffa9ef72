"""The layout of the compiled replay's arrays: every slot of every array the kernel
(`kernel.run_kernel`), its engine, responses and trade loop (`engine`, `responses`,
`trader`) and the packer (`session`) read or write, by name.

State lives in flat arrays (numba has no cheap objects): `S` the integer counters, `F`
the account and the known state, `OI`/`OF` one row per order, `IP`/`FP` the run's
integer and float parameters. Buffers have fixed capacities; an append that would
overflow one sets `S[OVER]` and the caller runs the session again with larger ones.
The strategy's context and quote are laid out in `context`.

numba reads these module constants as compile-time constants. Its disk cache tracks the
source of the module a function is in only: after changing a slot here, clear the cache
(`find pk8opt -name '*.nbi' -delete`) or touch the modules that use it.
"""

from __future__ import annotations

import numpy as np

from pk8opt.backtest.compiled.context import N_CTX, N_OUT

# the kinds of the session's record stream (`SessionCache.rec_kind`)
from pk8opt.backtest.session_cache import REC_ASK_LEVEL as REC_ASK_LEVEL
from pk8opt.backtest.session_cache import REC_BID_LEVEL as REC_BID_LEVEL
from pk8opt.backtest.session_cache import REC_TRADE_BIDS as REC_TRADE_BIDS

NEVER = 1 << 62
EPS = 1e-9
NONE = -1
NPRICE = 1024  # prices in milli: 0 .. 1000, one row each

# S: integer state
NOW, SEQ, OPEN_SEQ, FILL_SEQ, ACC, WFILL, NORD, NTIM, KSEQ, QH, QT = range(11)
NFILL, NEQ, NEV, DEPN, OVER, NREJ, FILLS, CALLS, WORK0, WORK1 = range(11, 21)
LAST0, LAST1, NEXT_WAKE, START, HAS_KEY, HAS_QUOTE, HAS_EQ, EQ_SEQ, KEY_SEQ = range(21, 30)
# FLOW0/1: the time of each token's next maker-flow arrival, FLOWJ0/1 its index
KEY_B0, KEY_B1, LGATE0, LGATE1, FLOW0, FLOW1, FLOWJ0, FLOWJ1, N_S = range(30, 39)
# F: float state
CASH, RES, POS0, POS1, COST0, COST1, FEES, VOL, MVOL, REB = range(10)
KPOS0, KPOS1, KCOST0, KCOST1, MID0, MID1, FZ0, FZ1, N_F = range(10, 19)
# orders: OI (int) and OF (float) columns
O_ID, O_TOK, O_PRICE, O_STATUS, O_SUBMIT, O_OPEN, O_CREQ, O_WHY, O_PHANTOM, O_SDONE = range(10)
N_OI = 10
O_SIZE, O_FILLED, O_AHEAD, O_DEBT, O_RES, O_SFILLED = range(6)
N_OF = 6
# order status (engine.orders.Status order: PENDING and OPEN are the live ones)
PENDING, OPEN, FILLED, CANCELLED, REJECTED = range(5)
# timers, responses
A_OPEN, A_ACK, A_CLEAR = 0, 1, 2
R_FILL, R_DONE = 0, 1
# fill reasons (markout.REASONS order)
W_QUEUE, W_THROUGH, W_BOOK, W_TAKER, W_FLOW = range(5)
# rejection reasons (the engine's order of checks); REJ columns: count, order first seen
REJ_TOKEN, REJ_MIN_SIZE, REJ_TICK, REJ_BOUNDS, REJ_NOTIONAL, REJ_CASH, N_REJ = range(7)
REJ_COUNT, REJ_FIRST, N_REJ_COLS = range(3)
# event log rows: EV (int) and EVF (float) columns
E_SUBMIT, E_REJECT, E_OPEN, E_FILL, E_CANCEL_REQ, E_CANCELLED, E_EXPIRED = range(7)
EV_KIND, EV_T, EV_OID, EV_I0, EV_I1, EV_I2, N_EV = range(7)
EVF_0, EVF_1, EVF_2, EVF_3, EVF_4, N_EVF = range(6)
# fills: FL (int) columns, FLF their quantities
FL_T, FL_TOK, FL_PRICE, FL_WHY, FL_AFTER_CANCEL, N_FL = range(6)
# the book's top per frame (`top`, `top_cur`): bid then ask of Up, then of Down, so
# token tok's side side (recordings.schema BID/ASK) is at 2 * tok + side
SIDE_BID, SIDE_ASK = 0, 1
TOP_BID0, TOP_ASK0, TOP_BID1, TOP_ASK1, N_TOP = range(5)
# KEYI: the strategy's last inputs (top, ticks), then the top of the last equity sample
KEY_TOP, KEY_TICK0, KEY_TICK1, KEY_EQ_TOP, N_KEYI = 0, 4, 5, 6, 10
# tokens: the rows of NR, R, BB, BA, DQ, DH, the columns of ticks, tick_cur, MV
TOK_UP, TOK_DOWN = 0, 1
# R: resting orders of token 0 and 1, and a scratch row
R_SCRATCH, N_R = 2, 3
# HELD: what the run hands back besides the buffers
HELD_UP, HELD_DOWN, HELD_PAYOUT, N_HELD = range(4)
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
    P_THROUGH_VOL,
    N_IP,
) = range(21)
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
    Q_AHEAD,
    N_FP,
) = range(11)
# buffer capacities (`buffers`' caps)
CAP_ORDERS, CAP_FILLS, CAP_EQ, CAP_EV, N_CAPS = range(5)


def buffers(caps: np.ndarray, n_whys: int, tick0: int) -> dict[str, np.ndarray]:
    """The state and output arrays of one run, by `run_kernel`'s argument names; `caps`:
    orders, fills, equity samples, log rows (`CAP_*`)."""

    n_orders, n_fills = int(caps[CAP_ORDERS]), int(caps[CAP_FILLS])
    n_eq, n_ev = int(caps[CAP_EQ]), int(caps[CAP_EV])
    S = np.zeros(N_S, dtype=np.int64)
    n_t = 2 * n_orders + 4
    n_q = n_fills + n_orders + 4
    i8, f8 = np.int64, np.float64
    return {
        "S": S,
        "F": np.zeros(N_F, dtype=f8),
        "OI": np.zeros((n_orders, N_OI), dtype=i8),
        "OF": np.zeros((n_orders, N_OF), dtype=f8),
        "R": np.zeros((N_R, n_orders), dtype=i8),  # resting orders per token; scratch
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
        "FL": np.zeros((n_fills, N_FL), dtype=i8),
        "FLF": np.zeros(n_fills, dtype=f8),
        "EQT": np.zeros(n_eq, dtype=i8),
        "EQV": np.zeros(n_eq, dtype=f8),
        "EV": np.zeros((n_ev, N_EV), dtype=i8),
        "EVF": np.zeros((n_ev, N_EVF), dtype=f8),
        "REJ": np.zeros((N_REJ, N_REJ_COLS), dtype=i8),
        "GATE": np.zeros(n_whys, dtype=i8),
        "MV": np.zeros(2, dtype=i8),
        "KEYI": np.zeros(N_KEYI, dtype=i8),
        "QUOTE": np.zeros(N_OUT, dtype=f8),
        "CTX": np.zeros(N_CTX, dtype=f8),
        "BB": np.zeros((2, NPRICE), dtype=f8),
        "BA": np.zeros((2, NPRICE), dtype=f8),
        "DQ": np.zeros((2, NPRICE), dtype=f8),
        "DH": np.zeros((2, NPRICE), dtype=i8),
        "top_cur": np.full(N_TOP, NONE, dtype=i8),
        "tick_cur": np.full(2, tick0, dtype=i8),
        "HELD": np.zeros(N_HELD, dtype=f8),
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

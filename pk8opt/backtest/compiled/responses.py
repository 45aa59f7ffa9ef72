"""The compiled twin of `pk8opt.engine.responses`: what the trade loop knows of its own
orders and account, one response latency after the engine made it.

The messages in flight are a queue in flat arrays (`QD` due, `QK` kind, `QO` order row,
`QQ`/`QP` quantity and price), `S[QH]`/`S[QT]` its head and tail; the known state is
`F[KPOS0..]`/`F[KCOST0..]`, `OF[:, O_SFILLED]`, `OI[:, O_SDONE]` and the counter `S[KSEQ]`.
Each function names its Python twin; tests/unit/backtest/test_twins.py fails when one
side changes without the other.
"""

from __future__ import annotations

from pk8opt.backtest.compiled.jit import (
    nopython_noref,
)
from pk8opt.backtest.compiled.layout import (
    KCOST0,
    KPOS0,
    KSEQ,
    O_CREQ,
    O_SDONE,
    O_SFILLED,
    O_TOK,
    OVER,
    QH,
    QT,
    R_FILL,
)


@nopython_noref
def resp_send(S, F, OI, OF, QD, QK, QO, QQ, QP, t, kind, o, qty, px, resp_ns):
    """Twin of pk8opt.engine.responses.Responses.send: a fill or done message leaves the
    venue at t and is known `resp_ns` later (at once when 0). Acknowledgements change
    nothing the kernel reads: not sent."""
    if resp_ns == 0:
        resp_apply(S, F, OI, OF, kind, o, qty, px)
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
def resp_apply(S, F, OI, OF, kind, o, qty, px):
    """Twin of pk8opt.engine.responses.Responses._apply."""
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
def resp_receive(S, F, OI, OF, QD, QK, QO, QQ, QP, t):
    """Twin of pk8opt.engine.responses.Responses.receive."""
    h = S[QH]
    n = S[QT]
    while h < n and QD[h] <= t:
        resp_apply(S, F, OI, OF, QK[h], QO[h], QQ[h], QP[h])
        h += 1
    S[QH] = h

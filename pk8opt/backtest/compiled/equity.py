"""The portfolio drawdown of a trial without merging its sessions' curves in memory.

`results._chained_arrays` sums every session's equity changes in time order (ties in
session order) and takes the drawdown of the running total; over thousands of sessions
the merge alone holds 32 bytes a sample. `merged_drawdown` walks the same merged order
with a heap over the sessions' own arrays (a k-way merge) and keeps only the running
total, its peak and the worst drop: the same additions in the same order, so the same
result (tests/unit/backtest/test_chained_equity.py). A session's samples are taken in a run for as
long as they come before every other session's next one, so the heap is touched once
per run, not once per sample.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pk8opt.backtest import drawdown
from pk8opt.backtest.compiled.jit import nopython, nopython_inline

max_drawdown = nopython(drawdown.max_drawdown)


@nopython_inline
def _before(t, s, t2, s2):
    """No Python twin (a step of `_drawdown`): whether sample (t, session s) comes
    before (t2, s2) in the merged order."""
    return t < t2 or (t == t2 and s < s2)


@nopython_inline
def _sift_up(heap_t, heap_s, i, t, s):
    """No Python twin (a step of `_drawdown`): put (t, s) at heap slot i, moving it up
    past every later parent."""
    while i > 0:
        p = (i - 1) // 2
        if _before(heap_t[p], heap_s[p], t, s):
            break
        heap_t[i] = heap_t[p]
        heap_s[i] = heap_s[p]
        i = p
    heap_t[i] = t
    heap_s[i] = s


@nopython_inline
def _sift_down(heap_t, heap_s, n, t, s):
    """No Python twin (a step of `_drawdown`): put (t, s) at the root of a heap of n,
    moving it down past every earlier child."""
    i = 0
    while True:
        c = 2 * i + 1
        if c >= n:
            break
        r = c + 1
        if r < n and _before(heap_t[r], heap_s[r], heap_t[c], heap_s[c]):
            c = r
        if _before(heap_t[c], heap_s[c], t, s):
            heap_t[i] = heap_t[c]
            heap_s[i] = heap_s[c]
            i = c
        else:
            break
    heap_t[i] = t
    heap_s[i] = s


@nopython_inline
def _next_other(heap_t, heap_s, n):
    """No Python twin (a step of `_drawdown`): the first sample of another session than
    the root's in the merged order: the smaller of the root's children."""
    nt = heap_t[1] if n > 1 else 0
    ns = heap_s[1] if n > 1 else 0
    if n > 2 and _before(heap_t[2], heap_s[2], nt, ns):
        nt = heap_t[2]
        ns = heap_s[2]
    return nt, ns


@nopython
def _drawdown(ts, vs):
    """Twin of pk8opt.backtest.results._chained_arrays, followed by the max drawdown of
    the running total (`drawdown.max_drawdown`): the same additions in the same order,
    walked as a k-way merge of the sessions' arrays."""
    k = len(ts)
    pos = np.zeros(k, dtype=np.int64)
    lens = np.zeros(k, dtype=np.int64)
    heap_t = np.zeros(k, dtype=np.int64)
    heap_s = np.zeros(k, dtype=np.int64)
    n = 0
    for si in range(k):
        m = ts[si].shape[0]
        lens[si] = m
        if m == 0:
            continue
        n += 1
        _sift_up(heap_t, heap_s, n - 1, ts[si][0], si)
    cum = 0.0
    peak = -np.inf
    worst = -np.inf
    seen = False
    while n > 0:
        si = heap_s[0]
        ta = ts[si]  # the session's arrays, read once per turn (a list item costs a call)
        v = vs[si]
        m = lens[si]
        j = pos[si]
        v0 = v[0]
        nt, ns = _next_other(heap_t, heap_s, n)
        # the session's samples, as long as they come before that one
        while True:
            d = (v[j] - v0) - (v[j - 1] - v0) if j else (v0 - v0) - 0.0
            cum += d
            if cum > peak:
                peak = cum
            if peak - cum > worst:
                worst = peak - cum
            seen = True
            j += 1
            if j >= m:
                break
            if n > 1 and _before(nt, ns, ta[j], si):
                break
        pos[si] = j
        # replace the root with the session's next sample, or the last leaf
        if j < m:
            t = ta[j]
            s = si
        else:
            n -= 1
            t = heap_t[n]
            s = heap_s[n]
        if n == 0:
            break
        _sift_down(heap_t, heap_s, n, t, s)
    if not seen:
        return 0.0
    return worst if worst > 0.0 else 0.0


def merged_drawdown(sessions: Sequence[Any]) -> float:
    """The max drawdown of the sessions' summed equity changes in time order (of
    `results._chained_arrays`, without building it)."""
    from numba.typed import List

    ts, vs = List(), List()
    for s in sessions:
        if not len(s.equity_v):
            continue
        ts.append(_array(s.equity_t, np.int64))
        vs.append(_array(s.equity_v, np.float64))
    if not len(ts):
        return 0.0
    return float(_drawdown(ts, vs))


def _array(values: Any, dtype: Any) -> np.ndarray:
    if isinstance(values, np.ndarray) and values.dtype == dtype:
        return values
    try:  # array.array: its buffer, not a copy
        return np.frombuffer(values, dtype=dtype)
    except TypeError:
        return np.asarray(values, dtype=dtype)

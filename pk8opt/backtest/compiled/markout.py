"""Markouts of a session's fills over arrays, the mid compiled from
`pk8opt.engine.markout.mid_at` (one source; see that module)."""

from __future__ import annotations

import numpy as np

from pk8opt.backtest.compiled.jit import nopython, nopython_inline
from pk8opt.engine import markout

_mid_at = nopython_inline(markout.mid_at)


@nopython
def markouts(times, top, ft, ftok, fprice, horizons):
    """Twin of pk8opt.engine.markout.fills_with_markouts over arrays: per fill and
    horizon, the mid then less the price, NaN where no mid is known."""
    n = ft.shape[0]
    out = np.full((n, horizons.shape[0]), np.nan)
    for i in range(n):
        px = fprice[i] / 1000.0
        for h in range(horizons.shape[0]):
            m = _mid_at(times, top, ftok[i], ft[i] + horizons[h] * 1_000_000_000)
            if m == m:
                out[i, h] = m - px
    return out

"""Max drawdown, written once for the Python results and the compiled replay.

Plain Python over a list or an array, written only with what numba compiles, so the
compiled replay compiles this very function (`pk8opt.backtest.compiled.equity`).
Nothing here imports the rest of the package (`results` and `compiled` both import it).
"""

from __future__ import annotations

import math
from typing import Any


def max_drawdown(values: Any) -> float:
    """The largest drop from a running peak (0 for none).

    Compiled twin: pk8opt.backtest.compiled.equity.max_drawdown (this function, compiled).
    """
    peak = -math.inf
    worst = 0.0
    for v in values:
        if v > peak:
            peak = v
        elif peak - v > worst:
            worst = peak - v
    return worst

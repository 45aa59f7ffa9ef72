"""The fee arithmetic of the compiled replay: `pk8opt.engine.fees`' own functions,
compiled (one source; see that module). `round5` is CPython's `round(x, 5)` for finite
x >= 0, tested against `round` in tests/unit/backtest/test_compiled_replay.py.
"""

from __future__ import annotations

from numba.extending import register_jitable

from pk8opt.backtest.compiled.jit import nopython
from pk8opt.engine import fees
from pk8opt.engine.fees import MIN_FEE_USDC as MIN_FEE_USDC

# the functions the fee functions call, callable from compiled code as they are
register_jitable(fees.round5)
register_jitable(fees.taker_fee)

round5 = nopython(fees.round5)
taker_fee = nopython(fees.taker_fee)
maker_rebate = nopython(fees.maker_rebate)

"""The compiled replay: one session through the paper engine, trade loop and strategy as
numba code, with results and event log identical to the Python engine's
(`session.run_session_compiled`, which packs the kernel's arguments and unpacks its
results). The modules mirror their Python twins: `engine` (engine/paper.py),
`responses` (engine/responses.py), `trader` (trading/trader.py), `strategies` (the
built-in strategies' quotes), `kernel` (the hot loop, trading/stepper.py's twin);
`layout` and `context` name every slot of their arrays; `numeric`, `feed`, `markout`
and `equity` compile the fee, feed-time, markout and drawdown arithmetic from its
Python home (one source). tests/unit/backtest/test_twins.py lists the twin pairs.

numba lives in this package alone (an import contract in pyproject.toml).
"""

from pk8opt.backtest.compiled.session import enabled, quote_function, run_session_compiled

__all__ = ["enabled", "quote_function", "run_session_compiled"]

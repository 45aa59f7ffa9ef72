"""The compiled replay: one session through the paper engine, trade loop and strategy as
numba code, with results and event log identical to the Python engine's
(`session.run_session_compiled`; the kernel and its layout in the modules beside it).

numba lives in this package alone (an import contract in pyproject.toml).
"""

from pk8opt.backtest.compiled.session import enabled, quote_function, run_session_compiled

__all__ = ["enabled", "quote_function", "run_session_compiled"]

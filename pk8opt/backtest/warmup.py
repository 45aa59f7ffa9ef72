"""Compiling the replay before a run needs it: a sweep warms up in its main process so
that its workers load numba's machine code from disk instead of each compiling it."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from rich.console import Console

from pk8opt.backtest.replay import run_session
from pk8opt.recordings.synthetic import random_session
from pk8opt.strategies import get_strategy
from pk8opt.trading.run_config import RunConfig


def warm_up(strategy: str) -> float:
    """Compile (or load from numba's disk cache) the replay of `strategy`, on a small
    synthetic session; the seconds it took (0 when the strategy has no compiled quote).
    A sweep calls this before starting its workers, so that they load the machine code
    instead of each compiling it."""
    from pk8opt.backtest.compiled import quote_function  # numba

    cls = get_strategy(strategy)
    if quote_function(cls) is None or getattr(cls, "compiled", "") not in _builtin_paths():
        return 0.0
    t0 = time.perf_counter()
    config = RunConfig(strategy)
    run_session(random_session(1, n_frames=50), cls(**config.strategy_params), config)
    return time.perf_counter() - t0


def warm_up_shown(strategy: str, console: Any = None) -> float:
    """`warm_up`, said: on a terminal a spinner ("preparing the compiled replay"), into
    a pipe or a file a line as it starts; then a line with the time it took."""
    from pk8opt.backtest.compiled import quote_function  # numba

    shown = console or Console(stderr=True)
    if quote_function(get_strategy(strategy)) is None:
        return warm_up(strategy)
    start = f"preparing the compiled replay of {strategy} (the first run on a machine compiles it)"
    status: Any = contextlib.nullcontext()
    if shown.is_terminal:
        status = shown.status(start)
    else:
        shown.print(start, highlight=False, soft_wrap=True)
    with status:
        took = warm_up(strategy)
    kept = " (compiled and kept on disk: later runs start at once)" if took > 5 else ""
    shown.print(
        f"the compiled replay of {strategy} is ready in {took:.1f} s{kept}",
        highlight=False,
        soft_wrap=True,
    )
    return took


def _builtin_paths() -> set[str]:
    from pk8opt.backtest.compiled.kernel import BUILTIN  # numba

    return set(BUILTIN)

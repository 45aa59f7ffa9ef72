"""The trade loop, shared by every driver: `Trader` (strategy call, requote rules, gates)
over the paper engine, `SessionStepper` (one window frame by frame), `RunConfig` (the
strategy and its three value sets), and what a run writes (`RunLog`, `FillMetrics`).

Backtest and the live runner drive these; nothing here knows which one does, or reads a
clock.
"""

from pk8opt.trading.run_config import RunConfig
from pk8opt.trading.stepper import SessionStepper
from pk8opt.trading.trader import TRADER_PARAMS, Trader

__all__ = ["TRADER_PARAMS", "RunConfig", "SessionStepper", "Trader"]

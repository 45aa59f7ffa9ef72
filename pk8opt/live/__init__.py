"""The live paper runner: Polymarket's sockets in, the backtest's own machinery inside.

`pk8opt live` is a second driver of the code a backtest runs. For each watched series
(`BTC:15m` ...) it finds the current window with the recorder's Gamma client, listens
with the recorder's sockets (heartbeats, reconnects, backoff) and, for every frame:

1. numbers it as the line it is (or would be) in that window's recording, and with
   `--record DIR` writes it there in the raw format;
2. turns it into normalized event rows with the normalizer a backtest uses;
3. hands those rows, at the frame boundary, to the same per-session stepper replay
   uses (trade loop, strategy, paper engine), which writes the engine's events.

Time is the venue clock (`VenueClock`, the wall clock against Polymarket, a faster
one against `pk8opt serve --speed X`); nothing below this package reads a clock. So a
live window recorded with `--record` and replayed with `backtest` takes the same
decisions and fills, frame for frame (docs/live.md lists what real time changes).

The package: `runner` (`LiveRunner`, `run_live`), `runs` (one market window while it is
live), `steppers` (what its frames are stepped through), `settings` (the run's `PM_*`
settings), `keys` (which `PM_*` names pk8opt knows), `envfile` (reading and writing a
`.env`), `dashboard`, `words` and `summary` (what is shown) and `screen` (the
dashboard's terminal screen). The event log is `trading.runlog.RunLog`.
"""

from pk8opt.live.runner import LiveOptions, LiveRunner, run_live
from pk8opt.live.runs import (
    MarketRun,
    close_recording,
    frame_rows,
    open_recording,
    price_or_none,
    settle_resolution,
    window_of,
)
from pk8opt.live.steppers import BookStepper, EngineStepper
from pk8opt.trading.runlog import EVENTS_LOG_NAME, RunLog

__all__ = [
    "EVENTS_LOG_NAME",
    "BookStepper",
    "EngineStepper",
    "RunLog",
    "LiveOptions",
    "LiveRunner",
    "MarketRun",
    "close_recording",
    "frame_rows",
    "open_recording",
    "price_or_none",
    "run_live",
    "settle_resolution",
    "window_of",
]

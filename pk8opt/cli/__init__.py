"""The `pk8opt` command line.

Thin by design: each command parses its arguments, calls one function of the package,
and turns the project's own errors into one clear line and exit code 1. Heavy imports
(polars, optuna, mlflow) happen inside command bodies so that `pk8opt --help` is instant.
Each command group lives in its own module of this package and adds its commands to
`base.app` when imported here; `main.main` is the console script.
"""

from pk8opt.cli import (  # noqa: F401  (each module adds its commands to `app`)
    backtest_cmd,
    calibrate_cmd,
    compare_cmd,
    live_cmd,
    record_cmd,
    recordings_cmd,
    simulate_cmd,
    strategies_cmd,
    sweep_cmd,
    sweeps_cmd,
)
from pk8opt.cli.base import app, quiet_library_warnings
from pk8opt.cli.main import main

__all__ = ["app", "main", "quiet_library_warnings"]

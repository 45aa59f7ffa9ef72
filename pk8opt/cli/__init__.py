"""The `pk8opt` command line.

Thin by design: each command parses its arguments, calls one function of the package,
and turns the project's own errors into one clear line and exit code 1. Heavy imports
(polars, optuna, mlflow) happen inside command bodies so that `pk8opt --help` is instant.
Each command group lives in its own module of this package.
"""

from __future__ import annotations

import sys

import typer

from pk8opt.cli.base import app, quiet_library_warnings
from pk8opt.errors import Pk8Error, os_error_line

__all__ = ["app", "main", "quiet_library_warnings"]


def _register() -> None:
    # Each module adds its commands to `app` on import.
    from pk8opt.cli import (  # noqa: F401
        backtest_cmd,
        compare_cmd,
        live_cmd,
        record_cmd,
        recordings_cmd,
        simulate_cmd,
        strategies_cmd,
        sweep_cmd,
        sweeps_cmd,
    )


_register()


def main() -> None:
    """Console-script entry point: one exception boundary for the whole CLI.

    Typer (standalone) shows its own usage errors (a bad option value, a missing
    argument) with exit code 2; the project's errors become one `error:` line, exit 1,
    and so does an error of the operating system (a missing folder, a directory where a
    file was expected, a full disk): the path and what is wrong, with the fix. A URL's
    password is masked in either.
    """
    from pk8opt.redact import mask_urls

    try:
        app()
    except Pk8Error as exc:
        typer.secho(f"error: {mask_urls(str(exc))}", err=True, fg=typer.colors.RED)
        sys.exit(1)
    except OSError as exc:  # the world said no: a path, a full disk, a permission
        typer.secho(f"error: {mask_urls(os_error_line(exc))}", err=True, fg=typer.colors.RED)
        sys.exit(1)

"""The `pk8opt` command line.

Thin by design: each command parses its arguments, calls one function of the package,
and turns the project's own errors into one clear line and exit code 1. Heavy imports
(polars, optuna, mlflow) happen inside command bodies so that `pk8opt --help` is instant.
Each command group lives in its own module of this package.
"""

from __future__ import annotations

import sys

import typer

from pk8opt.errors import Pk8Error, os_error_line

app = typer.Typer(
    name="pk8opt",
    help=(
        "Tune market-making and arbitrage strategies on Polymarket's 15-minute crypto "
        "Up/Down markets.\n\n"
        "A day with pk8opt: `record` the markets, `sweep` a strategy's parameters over the "
        "recordings, browse the trials in the MLflow `ui`, `deploy --best` the winner as a "
        "`.env`, and run it on paper with `live`."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)


def _print_version(value: bool) -> None:
    if value:
        from pk8opt import __version__

        typer.echo(f"pk8opt {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(
        False,
        "--version",
        "-V",
        callback=_print_version,
        is_eager=True,
        help="Print the pk8opt version and exit.",
    ),
    verbose: bool = typer.Option(
        False,
        "--verbose",
        "-v",
        help="Also show the warnings of the libraries pk8opt runs on (matplotlib, Optuna, "
        "MLflow...), hidden by default.",
    ),
) -> None:
    """Options for every command."""
    quiet_library_warnings(not verbose)


def quiet_library_warnings(quiet: bool) -> None:
    """pk8opt says what matters in its own lines; the libraries' Python warnings (a
    matplotlib axis note, a deprecation inside MLflow) are noise to a user, so they are
    hidden unless `-v`, in this process and in the worker processes it starts."""
    import os
    import warnings

    if quiet:
        warnings.simplefilter("ignore")
        os.environ["PYTHONWARNINGS"] = "ignore"


@app.command()
def version() -> None:
    """Print the pk8opt version."""
    from pk8opt import __version__

    typer.echo(__version__)


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

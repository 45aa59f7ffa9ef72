"""The `pk8opt` Typer app and the options of every command; each command module adds
its commands to `app` (the package's `__init__` imports them all)."""

from __future__ import annotations

import typer

from pk8opt.cli.typer_help import plain_help_metavars

plain_help_metavars()

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
        typer.echo(dependency_versions())
        raise typer.Exit()


def dependency_versions() -> str:
    """`python 3.11.9, optuna 4.5.0, ...`: what a sweep's result depends on."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    def installed(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    names = ("optuna", "mlflow", "numba", "polars")
    return ", ".join(
        [f"python {platform.python_version()}", *(f"{n} {installed(n)}" for n in names)]
    )


@app.callback()
def _options(
    version: bool = typer.Option(
        False,
        "--version",
        "-V",
        callback=_print_version,
        is_eager=True,
        help="Print the pk8opt version, and those of Python and the libraries it runs on, and exit.",
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

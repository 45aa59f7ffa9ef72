"""CLI: backtest."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pk8opt.cli import app


@app.command()
def backtest(
    recordings: Annotated[
        list[Path],
        typer.Argument(help="Session folders, or folders holding them (searched recursively).",
                       show_default=False),
    ],
    strategy: Annotated[
        str | None,
        typer.Option("--strategy", "-s", help="Strategy name (noop, fixed, balanced_arb) or "
                     "dotted path my_pkg.mod:MyStrategy. Overrides PM_STRATEGY."),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Change one parameter: name=value or PM_VAR=value, e.g. "
                     "--set edge=0.03 --set PM_PAPER_POST_LATENCY_MS=80. Repeatable; "
                     "applied after --env-file."),
    ] = None,
    env_file: Annotated[
        Path | None,
        typer.Option("--env-file", help="A .env in the PM_* form (as `deploy` writes it and "
                     "the live runner reads it)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Write the equity curve image here (PNG).")
    ] = None,
    event_log: Annotated[
        Path | None,
        typer.Option("--event-log", help="Write every paper order, fill, cancel and "
                     "settlement as JSON Lines here."),
    ] = None,
) -> None:
    """Replay recorded sessions through the paper engine with one strategy.

    Every setting has a `PM_*` variable (the same the live runner reads): defaults, then
    `--env-file`, then `--set`. Sessions whose winner is unknown are listed and left out of
    the score. Example:

        pk8opt backtest --strategy balanced_arb --set edge=0.02 recordings/ --plot eq.png
    """
    from pk8opt.envfile import read_env_file
    from pk8opt.params import parse_assignments
    from pk8opt.recordings.load import load_sessions
    from pk8opt.replay import RunConfig, run_backtest

    env = read_env_file(env_file) if env_file is not None else {}
    if strategy:
        env = {**env, "PM_STRATEGY": strategy}
    config = RunConfig.from_env(env, where=str(env_file or "defaults"))
    if set_:
        config = config.updated(parse_assignments(set_))
    sessions = load_sessions(recordings)
    result = run_backtest(sessions, config, event_log=event_log)
    if plot is not None:
        from pk8opt.plots import plot_equity

        plot_equity(result, plot)
    if as_json:
        typer.echo(result.to_json())
        return
    _print_table(result)
    if plot is not None:
        typer.echo(f"equity curve: {plot}")


def _print_table(result) -> None:  # type: ignore[no-untyped-def]
    from rich.console import Console
    from rich.table import Table

    cols = ("pnl_usdc", "fees_usdc", "volume_usdc", "fills", "orders", "fill_rate", "pairs",
            "unpaired_shares", "max_drawdown_usdc")
    table = Table(title=f"backtest: {result.strategy}")
    table.add_column("session")
    table.add_column("winner")
    for c in cols:
        table.add_column(c, justify="right")

    def fmt(v: object) -> str:
        return f"{v:.4f}" if isinstance(v, float) else str(v)

    for s in result.sessions:
        m = s.metrics()
        table.add_row(s.slug, s.winner, *(fmt(m[c]) for c in cols))
    agg = result.aggregate
    table.add_row("[bold]all[/bold]", "", *(f"[bold]{fmt(agg[c])}[/bold]" for c in cols))
    console = Console()
    console.print(table)
    extra = ", ".join(f"{k}={fmt(agg[k])}" for k in ("sharpe", "sortino", "win_rate", "sessions"))
    gates = ", ".join(f"{k[5:]}={v}" for k, v in agg.items() if k.startswith("gate_") and v)
    console.print(extra)
    if gates:
        console.print(f"gates that blocked quotes: {gates}")
    for slug, reason in result.skipped:
        console.print(f"[yellow]skipped[/yellow] {slug}: {reason}")

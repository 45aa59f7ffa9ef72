"""CLI: backtest."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from pk8opt.cli.base import app

# The options of `backtest`, each with its --help text (named here so that the
# signature reads as the list of options it is).
_RecordingsOption = Annotated[
    list[Path],
    typer.Argument(
        help="Session folders, or folders holding them (searched recursively).",
        show_default=False,
    ),
]
_StrategyOption = Annotated[
    str | None,
    typer.Option(
        "--strategy",
        "-s",
        help="Strategy name (noop, fixed, balanced_arb) or "
        "dotted path my_pkg.mod:MyStrategy. Overrides PM_STRATEGY.",
    ),
]
_SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="Change one parameter: name=value or PM_VAR=value, e.g. "
        "--set edge=0.03 --set PM_PAPER_POST_LATENCY_MS=80. Repeatable; "
        "applied after --env-file.",
    ),
]
_EnvFileOption = Annotated[
    Path | None,
    typer.Option(
        "--env-file",
        help="A .env in the PM_* form (as `deploy` writes it and the live runner reads it).",
    ),
]
_AsJsonOption = Annotated[bool, typer.Option("--json", help="Print the results as JSON.")]
_PlotOption = Annotated[
    Path | None,
    typer.Option(
        "--plot",
        help="Write the equity curve image here (PNG; a folder gets equity.png inside), "
        "e.g. --plot eq.png or --plot plots/",
    ),
]
_EventLogOption = Annotated[
    Path | None,
    typer.Option(
        "--event-log",
        help="Write every paper order, fill, cancel and settlement as JSON Lines here.",
    ),
]
_LogDirOption = Annotated[
    Path | None,
    typer.Option(
        "--log-dir",
        help="Write the logs `pk8opt live` writes, for comparing a live day with its "
        "replay line by line: DIR/live_console_events.jsonl (the events, unless "
        "--event-log names another file) and DIR/paper/metrics/backtest.jsonl (one "
        "line per fill). Example: --log-dir logs/replay",
    ),
]


@app.command()
def backtest(
    recordings: _RecordingsOption,
    strategy: _StrategyOption = None,
    set_: _SetOption = None,
    env_file: _EnvFileOption = None,
    as_json: _AsJsonOption = False,
    plot: _PlotOption = None,
    event_log: _EventLogOption = None,
    log_dir: _LogDirOption = None,
) -> None:
    """Replay recorded sessions through the paper engine with one strategy.

    Every setting has a `PM_*` variable (the same the live runner reads): defaults, then
    `--env-file`, then `--set`. Sessions whose winner is unknown are listed and left out of
    the score. Example:

        pk8opt backtest --strategy balanced_arb --set edge=0.02 recordings/ --plot eq.png
    """
    if plot is not None:  # checked now: a wrong folder should not cost a replay
        from pk8opt.backtest.plots import plot_path

        plot = plot_path(plot)
    config = _run_config(strategy, set_, env_file)
    sessions = _load_sessions(recordings)
    event_log, metrics_log = _log_paths(log_dir, event_log)
    result = _replay(sessions, config, event_log, metrics_log)
    if plot is not None:
        from pk8opt.backtest.plots import plot_equity

        plot_equity(result, plot)
    if as_json:
        typer.echo(result.to_json())
        return
    _print_table(result)
    if plot is not None:
        typer.echo(f"equity curve: {plot}")


def _run_config(strategy: str | None, set_: list[str] | None, env_file: Path | None) -> Any:
    """Defaults, then `--env-file`, then `--strategy`, then `--set`."""
    from pk8opt.live.keys import read_env_file
    from pk8opt.params import parse_assignments
    from pk8opt.trading.run_config import RunConfig

    env = read_env_file(env_file) if env_file is not None else {}
    if strategy:
        env = {**env, "PM_STRATEGY": strategy}
    config = RunConfig.from_env(env, where=str(env_file or "defaults"))
    if set_:
        config = config.updated(parse_assignments(set_))
    if not env.get("PM_STRATEGY"):
        typer.secho(
            f"backtest: no strategy given (-s NAME or PM_STRATEGY in --env-file): running "
            f"{config.strategy}" + (", which never quotes" if config.strategy == "noop" else ""),
            err=True,
            fg=typer.colors.YELLOW,
        )
    _check_bounds(config)
    return config


def _check_bounds(config: Any) -> None:
    """A `min_X` above its `max_X` leaves an empty range: one line, before any replay."""
    from pk8opt.errors import ConfigError

    for values in (config.strategy_params, config.engine_params, config.trader_params):
        for name, low in values.items():
            other = "max_" + name.removeprefix("min_")
            high = values.get(other)
            if name.startswith("min_") and high is not None and low is not None and low > high:
                raise ConfigError(
                    f"{name} {low} is above {other} {high}; the range would be empty "
                    f"(give {name} at most {other})"
                )


def _load_sessions(recordings: list[Path]) -> list[Any]:
    """The sessions, each one's problems (if any) as a warning line on stderr."""
    from pk8opt.recordings.load import load_sessions
    from pk8opt.recordings.session import problems_line

    sessions = load_sessions(recordings, progress=True)
    for session in sessions:
        line = problems_line(session)
        if line:
            typer.secho(f"warning: {line}", err=True, fg=typer.colors.YELLOW)
    return sessions


def _log_paths(log_dir: Path | None, event_log: Path | None) -> tuple[Path | None, Path | None]:
    """The event log and the fill-metrics log: with `--log-dir`, where `live` puts them."""
    if log_dir is None:
        return event_log, None
    from pk8opt.live import EVENTS_LOG_NAME
    from pk8opt.trading.fill_metrics import METRICS_SUBDIR

    log_dir.mkdir(parents=True, exist_ok=True)
    return event_log or log_dir / EVENTS_LOG_NAME, log_dir / METRICS_SUBDIR / "backtest.jsonl"


def _replay(
    sessions: list[Any], config: Any, event_log: Path | None, metrics_log: Path | None
) -> Any:
    """Every session through the paper engine, with a progress bar."""
    from pk8opt.backtest.replay import run_backtest
    from pk8opt.progress import steps

    if metrics_log is None:
        from pk8opt.backtest.warmup import warm_up_shown

        warm_up_shown(config.strategy)
    with steps("replaying", len(sessions)) as advance:
        return run_backtest(
            sessions,
            config,
            event_log=event_log,
            metrics_log=metrics_log,
            on_session=lambda i, r: advance(),
        )


def _label(slug: str) -> str:
    """`btc-updown-15m-1791986400` -> `BTC 10-14 10:00` (UTC window start)."""
    from datetime import UTC, datetime

    parts = slug.split("-")
    try:
        start = datetime.fromtimestamp(int(parts[-1]), tz=UTC)
    except (ValueError, IndexError):
        return slug
    return f"{parts[0].upper()} {start:%m-%d %H:%M}"


# The table's figures: the metric and its header, in plain words.
TABLE_COLUMNS = {
    "pnl_usdc": "P&L",
    "fees_usdc": "fees",
    "volume_usdc": "volume",
    "fills": "fills",
    "orders": "orders",
    "fill_rate": "fill rate",
    "paired_shares": "paired",
    "unpaired_shares": "unpaired",
    "max_drawdown_usdc": "max drawdown",
}


def _print_table(result: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"backtest: {result.strategy}",
        caption="money in USDC; P&L after fees and settlement; paired and unpaired in shares "
        "(an unpaired share is one Up or Down without its other half); max drawdown of "
        "mark-to-market equity",
        box=None,
        header_style="bold underline",
        pad_edge=False,
        collapse_padding=True,
        show_edge=False,
    )
    table.add_column("session", no_wrap=True)
    table.add_column("winner", no_wrap=True)
    for label in TABLE_COLUMNS.values():
        table.add_column(label, justify="right")
    cols = TABLE_COLUMNS

    def fmt(v: object, key: str = "") -> str:
        if key == "fill_rate" and isinstance(v, float):
            return f"{100 * v:.0f}%"
        if key in ("paired_shares", "unpaired_shares") and isinstance(v, float):
            return f"{v:g}"
        if key == "volume_usdc" and isinstance(v, float):
            return f"{v:.0f}"
        if isinstance(v, float):
            return f"{v:.2f}" if abs(v) < 1000 else f"{v:.0f}"
        return str(v)

    for s in result.sessions:
        m = s.metrics()
        table.add_row(_label(s.slug), s.winner, *(fmt(m[c], c) for c in cols))
    agg = result.aggregate
    table.add_row("[bold]all[/bold]", "", *(f"[bold]{fmt(agg[c], c)}[/bold]" for c in cols))
    console = Console(emoji=False)
    console.print(table)
    extra = ", ".join(f"{k}={agg[k]:.3f}" for k in ("sharpe", "sortino", "win_rate"))
    extra += f", sessions={agg['sessions']}"
    gates = ", ".join(f"{k[5:]}={v}" for k, v in agg.items() if k.startswith("gate_") and v)
    console.print(extra)
    if agg.get("rebate_est_usdc"):
        console.print(
            f"maker rebates: {agg['rebate_est_usdc']:.2f} USDC estimated on "
            f"{agg['maker_volume_usdc']:.0f} USDC filled as maker (paid the next day, not in P&L)"
        )
    from pk8opt.backtest.results import fill_quality_lines

    for line in fill_quality_lines(agg):
        console.print(line)
    if gates:
        console.print(f"gates that blocked quotes: {gates}")
    for slug, reason in result.skipped:
        console.print(f"[yellow]skipped[/yellow] {slug}: {reason}")

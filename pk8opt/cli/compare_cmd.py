"""CLI: compare (a live paper run with the replay of its recording)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pk8opt.cli.base import app


@app.command()
def compare(
    recording: Annotated[
        list[Path],
        typer.Argument(
            help="What `live --record DIR` kept: DIR, or some of its session folders.",
            show_default=False,
        ),
    ],
    log_dir: Annotated[
        Path,
        typer.Option(
            "--log-dir",
            help="The live run's --log-dir (holds live_console_events.jsonl, with the "
            "settings the run used).",
        ),
    ] = Path("logs"),
    env_file: Annotated[
        Path | None,
        typer.Option(
            "--env-file",
            help="Replay with these settings instead of the ones the live log names "
            "(needed only for logs written before live runs logged their settings).",
        ),
    ] = None,
) -> None:
    """Replay a live paper run's recording with the settings it ran with, and print
    where the decisions or fills differ, window by window.

    Prints nothing and exits 0 when every window is identical; otherwise one block per
    window that differs (its counts, and the first event that differs on each side)
    and exit code 1. Example:

        pk8opt live --record rec/ --log-dir logs/ --headless --duration 3600
        pk8opt compare rec/ --log-dir logs/
    """
    from pk8opt.backtest.compare import compare as compare_windows
    from pk8opt.backtest.compare import read_live_log
    from pk8opt.recordings.load import load_sessions

    windows = read_live_log(log_dir)
    override = None
    if env_file is not None:
        from pk8opt.live.keys import read_env_file
        from pk8opt.trading.run_config import RunConfig

        override = RunConfig.from_env(read_env_file(env_file), where=str(env_file))
    sessions = load_sessions(recording)
    diffs = compare_windows(sessions, windows, override)
    for diff in diffs:
        for line in diff.lines():
            typer.echo(line)
    if diffs:
        raise typer.Exit(1)

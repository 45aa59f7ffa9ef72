"""CLI: compare (a live run with the replay of its recording: a paper run event for
event, a real run fill by fill)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pk8opt.cli.base import app
from pk8opt.errors import ConfigError

if TYPE_CHECKING:
    from pk8opt.backtest.compare import LiveWindow
    from pk8opt.backtest.openloop import PlannedOrder

# the arguments of `compare`, each with its --help text
_Recording = Annotated[
    list[Path],
    typer.Argument(
        help="What `live --record DIR` kept: DIR, or some of its session folders.",
        show_default=False,
    ),
]
_LogDir = Annotated[
    Path,
    typer.Option(
        "--log-dir",
        help="The live run's --log-dir (holds live_console_events.jsonl, with the "
        "settings the run used).",
    ),
]
_EnvFile = Annotated[
    Path | None,
    typer.Option(
        "--env-file",
        help="Replay with these settings instead of the ones the live log names "
        "(needed only for logs written before live runs logged their settings).",
    ),
]
_MatchWindow = Annotated[
    float,
    typer.Option(
        "--match-window",
        metavar="S",
        min=0.0,
        help="A real run: a paper fill matches a real fill of the same token and price "
        "up to this many seconds before or after it.",
    ),
]
_OpenLoop = Annotated[
    bool,
    typer.Option(
        "--open-loop",
        help="A real run: the paper side replays the run's own orders (each posted when "
        "the run sent it, cancelled when it asked) instead of the strategy: how well the "
        "paper engine fills the orders you actually sent (what `pk8opt calibrate` fits). "
        "Without it, closed loop: what the strategy would have done on paper.",
    ),
]
_Json = Annotated[
    bool,
    typer.Option(
        "--json",
        help="One JSON document: each real run window's matched, real-only and "
        "paper-only fills and figures, the total, and a paper run's differences.",
    ),
]


@app.command()
def compare(
    recording: _Recording,
    log_dir: _LogDir = Path("logs"),
    env_file: _EnvFile = None,
    match_window: _MatchWindow = 5.0,
    open_loop: _OpenLoop = False,
    as_json: _Json = False,
) -> None:
    """Replay a live run's recording with the settings it ran with, and print where it
    differs from what live did, window by window.

    A paper run: prints nothing and exits 0 when every window is identical; otherwise
    one block per window that differs (its counts, and the first event that differs on
    each side) and exit code 1.

    A real or dry run (`live --real`; its log holds `real_*` events): the recording is
    replayed on paper and its fills are set against the venue's, fill by fill (matched,
    real only, paper only), with each side's cost and P&L and their difference, per
    window and in total. Differences are the answer here: exit code 0.

    Which paper side. Closed loop (the default): the strategy decides again on the paper
    engine's answers, so paper may post orders the run never sent; it answers "what
    would the strategy have done on paper". Open loop (--open-loop): the run's own
    orders, posted when it sent them and cancelled when it asked, go through the paper
    engine with the run's PM_PAPER_* settings (the defaults when the log names none);
    it answers "how well does the paper engine fill the orders you actually sent", the
    question `pk8opt calibrate` answers by fitting the engine's parameters to the
    venue: run it when the answer is "not well enough".

    Examples:

        pk8opt live --record rec/ --log-dir logs/ --headless --duration 3600
        pk8opt compare rec/ --log-dir logs/
        pk8opt live --real --env-file real.env --record rec/ --log-dir logs/
        pk8opt compare rec/ --log-dir logs/ --match-window 2
        pk8opt compare rec/ --log-dir logs/ --open-loop
        pk8opt compare rec/ --log-dir logs/ --json > compare.json
    """
    from pk8opt.backtest.compare import compare as compare_windows
    from pk8opt.backtest.compare import read_live_log
    from pk8opt.recordings.load import load_sessions

    windows = read_live_log(log_dir)
    orders = _run_orders(log_dir, windows) if open_loop else None
    override = None
    if env_file is not None:
        from pk8opt.live.keys import read_env_file
        from pk8opt.trading.run_config import RunConfig

        override = RunConfig.from_env(read_env_file(env_file), where=str(env_file))
    sessions = load_sessions(recording)
    # a window of a real (or dry) run is compared fill by fill; a paper run's event for event
    real = [s for s in sessions if s.slug in windows and windows[s.slug].real]
    paper = [s for s in sessions if not (s.slug in windows and windows[s.slug].real)]
    diffs = compare_windows(paper, windows, override)
    if real or as_json:
        from pk8opt.backtest.compare_real import compare_real

        report = compare_real(real, windows, override, match_window, orders)
        if as_json:
            from pk8opt.cli.json_out import echo_json

            doc = report.to_dict()
            doc["paper_differences"] = [{"slug": d.slug, "lines": d.lines()} for d in diffs]
            echo_json(doc)
        else:
            from pk8opt.cli.compare_real_view import print_report

            print_report(report)
    if not as_json:
        for diff in diffs:
            for line in diff.lines():
                typer.echo(line)
    if diffs:
        raise typer.Exit(1)


def _run_orders(log_dir: Path, windows: Mapping[str, LiveWindow]) -> dict[str, list[PlannedOrder]]:
    """The run's own orders by slug, as `pk8opt calibrate` reads them (the venue's
    refusals and a dry run's unsent orders left out), for --open-loop."""
    from pk8opt.calibrate.reallog import read_real_log

    if not any(w.real for w in windows.values()):
        raise ConfigError(
            f"{log_dir}: --open-loop replays a real run's own orders, and this log has no "
            "real_* events (a paper run's): leave out --open-loop, or give the --log-dir "
            "of a `live --real` run"
        )
    log = read_real_log(log_dir)
    return {slug: [o.plan for o in w.orders] for slug, w in log.windows.items()}

"""CLI: live."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pk8opt.cli.base import app

# The options of `live`, each with its --help text (named here so that the
# signature reads as the list of options it is).
_EnvFileOption = Annotated[
    Path,
    typer.Option(
        "--env-file",
        help="The `.env` written by `pk8opt deploy --best`: PM_STRATEGY, its PM_* "
        "parameters, the paper engine's, PM_WATCHLIST, PM_TRADELIST (the markets the "
        "study was validated on; a traded market outside PM_VALIDATED_MARKETS is warned "
        "about). PM_* variables set in the environment override the file.",
    ),
]
_HeadlessOption = Annotated[
    bool,
    typer.Option(
        "--headless",
        help="No dashboard: print one compact line per event (orders, fills, "
        "settlements, gates, connections). For servers, CI and pipes.",
    ),
]
_PausedOption = Annotated[
    bool,
    typer.Option(
        "--paused",
        help="Start with quoting paused: windows are discovered, books and prices "
        "followed, nothing is quoted until `p` on the dashboard. The pause holds "
        "across window rollovers.",
    ),
]
_RecordOption = Annotated[
    Path | None,
    typer.Option(
        "--record",
        help="Also write every frame received as a recording under DIR (one session "
        "folder per market window, the format `record` writes), so the day can be "
        "replayed with `pk8opt backtest DIR`.",
        metavar="DIR",
    ),
]
_DurationOption = Annotated[
    float | None,
    typer.Option(
        "--duration",
        help="Stop after this many seconds of venue time (default: run until `q` or "
        "Ctrl-C). Open positions are reported, not settled.",
        metavar="S",
        min=0.0,
    ),
]
_LogDirOption = Annotated[
    Path,
    typer.Option(
        "--log-dir",
        help="Where the logs go: `live_console_events.jsonl` (every engine event, the "
        "names a backtest writes) and `paper/metrics/*.jsonl` (one line per fill).",
    ),
]
_RealOption = Annotated[
    bool,
    typer.Option(
        "--real",
        help="Send real orders with your money. Needs PM_PAPER_TRADING=0 and PM_DRY_RUN=0 "
        "as well (the .env or the environment) and credentials in the environment "
        "(PM_PRIVATE_KEY, ...) or an owner-only PM_CREDENTIALS_FILE; limits "
        "PM_MAX_ORDER_SIZE, PM_MAX_WINDOW_NOTIONAL, PM_MAX_EXPOSURE, PM_DAILY_LOSS_LIMIT "
        "are checked before every order. See docs/live.md, Real money.",
    ),
]
_GammaUrlOption = Annotated[
    str | None,
    typer.Option(help="Gamma API base URL (default: $PK8_GAMMA_URL or Polymarket's)."),
]
_ClobWsUrlOption = Annotated[
    str | None,
    typer.Option(help="CLOB market socket URL (default: $PK8_CLOB_WS_URL or Polymarket's)."),
]
_LiveWsUrlOption = Annotated[
    str | None,
    typer.Option(help="Live-data socket URL (default: $PK8_LIVE_WS_URL or Polymarket's)."),
]


@app.command(
    epilog=(
        "Examples, after `pk8opt deploy --best --env-file .env` (the second on a server):"
        "\n\n`pk8opt live --env-file .env --record recordings/live/`"
        "\n\n`pk8opt live --headless --duration 3600 | tee live.txt`"
        "\n\nA dry run (dry.env: PM_PAPER_TRADING=0), then real orders (real.env: "
        "PM_PAPER_TRADING=0 and PM_DRY_RUN=0; both files chmod 600 if they hold the key):"
        "\n\n`pk8opt live --env-file dry.env --record rec/`"
        "\n\n`pk8opt live --env-file real.env --real --record rec/`"
    )
)
def live(
    env_file: _EnvFileOption = Path(".env"),
    headless: _HeadlessOption = False,
    paused: _PausedOption = False,
    record: _RecordOption = None,
    duration: _DurationOption = None,
    log_dir: _LogDirOption = Path("logs"),
    gamma_url: _GammaUrlOption = None,
    clob_ws_url: _ClobWsUrlOption = None,
    live_ws_url: _LiveWsUrlOption = None,
    real: _RealOption = False,
) -> None:
    """Trade the live markets with the strategy and parameters of a `.env`: on paper by
    default, as a dry run, or with real orders (`--real`).

    Discovers the current window of each market of PM_WATCHLIST the way `record` does,
    feeds every frame through the same normalizer, trade loop and paper engine as
    `backtest`, quotes on PM_TRADELIST, rolls over to the next window, and settles each
    ended market when its resolution arrives. A live day and its replay write the same
    event names, so they can be compared line by line.

    Paper is the default. PM_PAPER_TRADING=0 makes a dry run: the same run with signed
    orders built for the venue, checked against the limits and logged, none sent.
    PM_PAPER_TRADING=0, PM_DRY_RUN=0 and `--real` send them: open orders left by an
    earlier run are cancelled before quoting, and every exit (q, k, Ctrl-C, SIGTERM, an
    error) cancels what is open and prints what could not be cancelled.

    Keys on the dashboard: `p` pause/resume quoting (in every window, until pressed
    again), `k` kill (cancel every order and stop), `q` quit. SIGTERM stops as `k`
    does. On stopping it prints P&L, fills and fees per window and in total.
    """
    from pk8opt.live import LiveOptions, run_live
    from pk8opt.live.markets import unvalidated_markets
    from pk8opt.live.settings import load_live_settings

    settings = load_live_settings(env_file, real_flag=real)
    untested = unvalidated_markets(settings)
    if untested:
        typer.secho(f"warning: {untested}", err=True, fg=typer.colors.YELLOW)
    run_live(
        settings,
        LiveOptions(
            headless=headless,
            record_dir=record,
            duration_s=duration,
            log_dir=log_dir,
            gamma_url=gamma_url,
            clob_ws_url=clob_ws_url,
            live_ws_url=live_ws_url,
            start_paused=paused,
        ),
    )

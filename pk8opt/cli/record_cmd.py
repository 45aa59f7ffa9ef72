"""CLI: `record` (the recorder) and `serve` (the fake Polymarket on loopback)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated

import typer

from pk8opt.cli.base import app
from pk8opt.fakepm.venue_params import venue_params_help

if TYPE_CHECKING:
    from pk8opt.polymarket.endpoints import Endpoints
    from pk8opt.record import RecordConfig


# The options of `record`, each with its --help text (named here so that the
# signature reads as the list of options it is).
_SymbolsOption = Annotated[
    str, typer.Option(help="Comma-separated symbols to record, e.g. `BTC,ETH`.")
]
_TimeframeOption = Annotated[
    str, typer.Option(help="Window length of the Up/Down series: 5m, 15m or 4h.")
]
_OutOption = Annotated[
    Path, typer.Option(help="Folder that receives one session folder per market window.")
]
_DurationOption = Annotated[
    float | None,
    typer.Option(help="Stop after this many (wall) seconds; open windows end incomplete."),
]
_SessionsOption = Annotated[
    int | None,
    typer.Option(help="Stop once this many sessions are finished with their resolution."),
]
_QuietOption = Annotated[
    bool, typer.Option(help="No live status table (for services); the JSON log remains.")
]
_LogFileOption = Annotated[
    Path | None,
    typer.Option("--log", help="Write the JSON-lines log to this file instead of stderr."),
]
_GammaUrlOption = Annotated[
    str | None, typer.Option(help="Gamma API base URL [env PK8_GAMMA_URL].")
]
_ClobWsUrlOption = Annotated[
    str | None, typer.Option(help="CLOB market socket URL [env PK8_CLOB_WS_URL].")
]
_LiveWsUrlOption = Annotated[
    str | None, typer.Option(help="Live-data socket URL [env PK8_LIVE_WS_URL].")
]
_LeadOption = Annotated[
    float, typer.Option(help="Seconds before a window ends to subscribe the next one.")
]
_PingOption = Annotated[float, typer.Option(help="Seconds between PINGs on the market socket.")]
_StaleOption = Annotated[
    float,
    typer.Option(help="Seconds without PONG (market) or any frame (live) before reconnecting."),
]
_TimeoutOption = Annotated[
    float,
    typer.Option(help="Seconds to wait for Gamma's answer or a socket's handshake."),
]
_MaxFrameMbOption = Annotated[
    float,
    typer.Option(
        help="Largest frame accepted from a socket, in MiB (real ones are a few hundred "
        "KB); a bigger one is refused, noted as a gap, and the socket reconnects."
    ),
]
_CheckOption = Annotated[
    bool,
    typer.Option(
        "--check",
        help="Try Gamma and both sockets once, print what answered, and exit "
        "(1 if one failed). Records nothing.",
    ),
]


@app.command()
def record(
    symbols: _SymbolsOption = "BTC,ETH,SOL,XRP",
    timeframe: _TimeframeOption = "15m",
    out: _OutOption = Path("recordings"),
    duration: _DurationOption = None,
    sessions: _SessionsOption = None,
    quiet: _QuietOption = False,
    log_file: _LogFileOption = None,
    gamma_url: _GammaUrlOption = None,
    clob_ws_url: _ClobWsUrlOption = None,
    live_ws_url: _LiveWsUrlOption = None,
    lead: _LeadOption = 60.0,
    ping: _PingOption = 10.0,
    stale: _StaleOption = 30.0,
    timeout: _TimeoutOption = 10.0,
    max_frame_mb: _MaxFrameMbOption = 16.0,
    check: _CheckOption = False,
) -> None:
    """Record Polymarket's Up/Down markets: every frame, every window, with its resolution.

    Finds the current and next market of each symbol in Gamma, records both sockets into
    `OUT/<slug>/` (see docs/record.md), rolls over without a gap, reconnects after faults
    and finishes each session once its resolution is known. Stop it with Ctrl-C: open
    windows are kept, marked incomplete. Folders a kill left behind are closed on start,
    and a window recorded again goes on in its folder. One recorder per `--out` folder.

    Every failed attempt to reach the venue is logged at once with its cause and the
    next try; a run that never reached the venue ends saying why, with exit status 1.

    `pk8opt record --check` asks whether Polymarket is reachable from here. Against
    `pk8opt serve`, first `eval` the `export PK8_...` lines it prints. Examples:

        pk8opt record --symbols BTC,ETH --sessions 4
        pk8opt record --check
    """
    endpoints = _endpoints(timeframe, timeout, gamma_url, clob_ws_url, live_ws_url)
    if check:
        _probe(endpoints, symbols, timeframe, timeout)
        return
    _check_limits(duration, sessions, max_frame_mb)
    stream = _open_log(log_file) if log_file else sys.stderr
    cfg = _record_config(
        symbols,
        timeframe,
        out,
        duration,
        sessions,
        endpoints,
        lead=lead,
        ping=ping,
        stale=stale,
        timeout=timeout,
        max_frame_mb=max_frame_mb,
        status=not quiet and sys.stdout.isatty(),
    )
    cfg.validate()
    _run_recorder(cfg, stream)


def _endpoints(
    timeframe: str,
    timeout: float,
    gamma_url: str | None,
    clob_ws_url: str | None,
    live_ws_url: str | None,
) -> Endpoints:
    """The venue's three endpoints, once the timeframe and `--timeout` are checked."""
    import math

    from pk8opt.errors import ConfigError
    from pk8opt.polymarket.endpoints import Endpoints
    from pk8opt.polymarket.slugs import timeframe_seconds

    timeframe_seconds(timeframe)
    endpoints = Endpoints.resolve(gamma_url, clob_ws_url, live_ws_url)
    if not math.isfinite(timeout) or timeout <= 0:
        raise ConfigError(f"--timeout {timeout}: must be a number of seconds above 0")
    return endpoints


def _probe(endpoints: Endpoints, symbols: str, timeframe: str, timeout: float) -> None:
    """`--check`: one try at each endpoint, the table printed; exit 1 if one failed."""
    import asyncio

    from pk8opt.polymarket.endpoints import VenueClock
    from pk8opt.polymarket.slugs import parse_symbols
    from pk8opt.record.probe import probe_endpoints, probe_table

    results = asyncio.run(
        probe_endpoints(
            endpoints, parse_symbols(symbols)[0], timeframe, VenueClock.from_env(), timeout
        )
    )
    typer.echo(probe_table(results))
    if not all(r.ok for r in results):
        raise typer.Exit(1)


def _check_limits(duration: float | None, sessions: int | None, max_frame_mb: float) -> None:
    import math

    from pk8opt.errors import ConfigError

    if duration is not None and sessions is not None:
        raise ConfigError("give --duration or --sessions, not both")
    if not math.isfinite(max_frame_mb) or max_frame_mb <= 0:
        raise ConfigError(f"--max-frame-mb {max_frame_mb}: must be a size in MiB above 0")


def _record_config(
    symbols: str,
    timeframe: str,
    out: Path,
    duration: float | None,
    sessions: int | None,
    endpoints: Endpoints,
    *,
    lead: float,
    ping: float,
    stale: float,
    timeout: float,
    max_frame_mb: float,
    status: bool,
) -> RecordConfig:
    from pk8opt.polymarket.endpoints import VenueClock
    from pk8opt.polymarket.slugs import parse_symbols
    from pk8opt.record import RecordConfig

    return RecordConfig(
        symbols=parse_symbols(symbols),
        timeframe=timeframe,
        out=out,
        duration_s=duration,
        sessions=sessions,
        endpoints=endpoints,
        clock=VenueClock.from_env(),
        lead_s=lead,
        ping_s=ping,
        stale_s=stale,
        timeout_s=timeout,
        max_frame_bytes=int(max_frame_mb * 1024 * 1024),
        status=status,
    )


def _run_recorder(cfg: RecordConfig, stream: IO[str]) -> None:
    """Record until stopped; the closing line on stdout (stderr carries the JSON-lines
    log alone); exit 1 when nothing could be (the venue unreachable, the market socket
    sending no frame, the disk full)."""
    import asyncio

    from pk8opt.record import JsonLog, Recorder

    recorder = Recorder(cfg, JsonLog(stream))
    asyncio.run(recorder.run())
    typer.echo(recorder.closing_line())
    if recorder.disk_error is not None or not recorder.reached_venue or recorder.nothing_recorded:
        raise typer.Exit(1)


def _open_log(path: Path):  # noqa: ANN202
    from pk8opt.errors import ConfigError

    try:
        return open(path, "a", encoding="utf-8")  # noqa: SIM115
    except OSError as exc:
        raise ConfigError(
            f"--log {path}: cannot write there ({exc.strerror}); give a file in an existing folder"
        ) from None


_SERVE_HELP = (
    """Serve recorded or simulated sessions as a fake Polymarket on loopback.

    Gamma (`/markets`, `/events` by slug), the CLOB market socket and the live-data socket,
    replayed with their recorded timing (or `--speed` times faster). Prints `export PK8_...`
    lines that point `pk8opt record` or `pk8opt live` at it, including the venue clock.

    It is also a venue that takes orders: the CLOB REST API (`PK8_CLOB_URL`, on
    `--clob-port`) and the user socket (`PK8_USER_WS_URL`), for `pk8opt live --real` and
    Polymarket's own client. Orders fill against the replayed book by the venue's own
    model; when serve stops it prints the orders it received and what became of them.
    `--venue-param NAME=VALUE` (repeatable) sets:

"""
    + "\n".join(
        f"    - `{name}` {rest}"
        for name, _, rest in (line.partition(" ") for line in venue_params_help().splitlines())
    )
    + """

    Examples (the second fills orders against half the queue shown at their price):

        pk8opt serve recordings/sample --now --speed 10 --port 0
        pk8opt serve recordings/sample --now --venue-param queue_frac=0.5
    """
)


@app.command(help=_SERVE_HELP)
def serve(
    recordings: Annotated[
        list[Path], typer.Argument(help="Session folders, folders of them, or globs to serve.")
    ],
    port: Annotated[int, typer.Option(help="TCP port (0 picks a free one).")] = 8765,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    speed: Annotated[
        float, typer.Option(help="Replay this many times faster than recorded.")
    ] = 1.0,
    now: Annotated[
        bool,
        typer.Option("--now", help="Start the venue clock just before the first recorded frame."),
    ] = False,
    lead: Annotated[
        float, typer.Option(help="With --now: venue seconds between start and the first frame.")
    ] = 10.0,
    fault: Annotated[
        list[str] | None,
        typer.Option(
            help="Inject a fault at venue seconds after start: drop-market@30, drop-live@30, "
            "drop-user@30, garbage-market@20, garbage-live@20, mute@40, unmute@80, "
            "fail-trade@10 (the next trade ends FAILED). Repeatable."
        ),
    ] = None,
    clob_port: Annotated[
        int, typer.Option(help="TCP port of the CLOB REST API (0 picks a free one).")
    ] = 0,
    venue_param: Annotated[
        list[str] | None,
        typer.Option(
            "--venue-param",
            metavar="NAME=VALUE",
            help="Set a venue parameter (listed above), e.g. --venue-param queue_frac=0.5. "
            "Repeatable.",
        ),
    ] = None,
) -> None:
    """The fake Polymarket (help: `_SERVE_HELP`)."""
    import asyncio

    from pk8opt.fakepm.serve import serve_async

    def emit(line: str) -> None:
        typer.echo(line)
        sys.stdout.flush()

    asyncio.run(
        serve_async(
            list(recordings),
            port,
            speed,
            now,
            host,
            lead,
            list(fault or []),
            print_fn=emit,
            venue_params=list(venue_param or []),
            clob_port=clob_port,
        )
    )

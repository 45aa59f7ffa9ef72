"""CLI: `pk8opt recordings ls`, `pk8opt recordings check` and `pk8opt recordings index`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from pk8opt.cli.base import app

recordings_app = typer.Typer(
    help=(
        "Look at recorded sessions: list them, check they are fit for replay, index them.\n\n"
        "A session is a folder named after its market's slug holding `manifest.json` and "
        "`frames.jsonl(.gz)`; see docs/recordings.md."
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
app.add_typer(recordings_app, name="recordings")

DirsArg = Annotated[
    list[Path],
    typer.Argument(
        help="Session folders, folders holding sessions (searched recursively), or globs.",
        metavar="DIR",
        show_default=False,
    ),
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print machine-readable JSON instead of a table.")
]


def _sessions(dirs: list[Path]) -> list[Path]:
    """The session folders under `dirs`, each session once (see `session_folders`)."""
    from pk8opt.recordings.catalog import session_folders

    return session_folders(dirs)


def _window(start_s: int, end_s: int) -> str:
    a = datetime.fromtimestamp(start_s, tz=UTC)
    b = datetime.fromtimestamp(end_s, tz=UTC)
    return f"{a:%Y-%m-%d %H:%M}-{b:%H:%M}"


@recordings_app.command("ls")
def ls_cmd(dirs: DirsArg, as_json: JsonOpt = False) -> None:
    """List recorded sessions: slug, symbol, window (UTC), frames, gaps, resolution,
    source and status, read from each manifest (fast: no frames are parsed).

    Example: `pk8opt recordings ls recordings/sample`
    """
    from rich.console import Console
    from rich.table import Table

    from pk8opt.errors import RecordingError
    from pk8opt.recordings.manifest import read_manifest

    rows: list[dict] = []
    for path in _sessions(dirs):
        try:
            m = read_manifest(path)
        except RecordingError as exc:
            rows.append({"path": str(path), "slug": path.name, "error": str(exc)})
            continue
        rows.append(
            {
                "path": str(path),
                "slug": m.slug,
                "symbol": m.symbol,
                "window_start_s": m.window_start_s,
                "window_end_s": m.window_end_s,
                "frames": m.frames,
                "gaps": len(m.gaps),
                "resolution": m.resolution.outcome,
                "resolution_source": m.resolution.source,
                "source": m.source,
                "status": m.status,
            }
        )
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=f"{len(rows)} session(s)")
    for name in (
        "slug",
        "symbol",
        "window (UTC)",
        "frames",
        "gaps",
        "resolution",
        "source",
        "status",
    ):
        table.add_column(
            name, justify="right" if name in ("frames", "gaps") else "left", no_wrap=name == "slug"
        )
    for r in rows:
        if "error" in r:
            table.add_row(r["slug"], "", "", "", "", "", "", "[red]unreadable[/red]")
            continue
        res = r["resolution"] + (
            f" ({r['resolution_source']})" if r["resolution"] != "unknown" else ""
        )
        table.add_row(
            r["slug"],
            r["symbol"],
            _window(r["window_start_s"], r["window_end_s"]),
            f"{r['frames']:,}",
            str(r["gaps"]),
            res,
            r["source"],
            r["status"],
        )
    console = Console(emoji=False)
    if not console.is_terminal:
        console = Console(width=200, emoji=False)  # piped: keep one session per line
    console.print(table)
    for r in rows:
        if "error" in r:
            console.print(f"error: {r['error']}", style="red", markup=False, soft_wrap=True)


@recordings_app.command("check")
def check_cmd(
    dirs: DirsArg,
    as_json: JsonOpt = False,
    allow_gaps: Annotated[
        bool,
        typer.Option(
            "--allow-gaps",
            help="Do not count socket gaps as problems (books are rebuilt after each gap).",
        ),
    ] = False,
) -> None:
    """Check sessions are fit for replay; exit 1 when any session has a problem.

    Parses every frame (building the cache beside each session) and reports, with the
    file and line: lines that are not frames, malformed messages, unknown event types,
    receive times that go backwards, repeated frames, socket gaps, crossed books, places
    where our book's best bid/ask differs from the one the venue sent, a missing
    resolution, and a frames file whose sha256 or number of frames is not the
    manifest's. Harmless counts (PONG frames, other markets' messages) are shown as info.
    A session reached by two paths (or copied) is checked once.

    Example: `pk8opt recordings check recordings/sample --json`
    """
    from rich.console import Console

    from pk8opt.recordings.check import check_sessions

    results = check_sessions(_sessions(dirs), allow_gaps=allow_gaps, progress=True)
    bad = [r for r in results if not r.ok]
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in results], indent=2))
    else:
        console = Console(highlight=False, soft_wrap=True, emoji=False)
        for r in results:
            mark = "[green]ok[/green]  " if r.ok else "[red]FAIL[/red]"
            info = ", ".join(f"{k} {v}" for k, v in r.info.items())
            console.print(f"{mark} {r.slug}  {r.events:,} events" + (f"  ({info})" if info else ""))
            for f in r.findings:
                console.print(f"       {f.kind} x{f.count}")
                for ex in f.examples:
                    console.print(f"         {ex}", markup=False)
        console.print(f"{len(results) - len(bad)} of {len(results)} session(s) ok")
    if bad:
        raise typer.Exit(1)


@recordings_app.command("index")
def index_cmd(
    dirs: DirsArg,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            "-w",
            min=1,
            help="Processes building at once (one session each). Example: -w 2",
        ),
    ] = 1,
) -> None:
    """Prepare sessions for replay, once: normalize the frames and build the replay
    cache beside each session (in its `.cache/` folder), where every backtest and
    sweep worker maps them instead of loading copies.

    A sweep or a backtest does this on first use; run it ahead for many sessions. It is
    resumable (sessions already indexed are skipped) and safe to run in several
    processes at once. A session that cannot be read is reported and the others are
    indexed (exit 1). Example:

        pk8opt recordings index recordings/ --workers 2
    """
    from pk8opt.backtest.index import index_folders

    report = index_folders(dirs, workers=workers, progress=True)
    for error in report.errors:
        typer.secho(f"error: {error}", err=True, fg=typer.colors.RED)
    ok = report.sessions - len(report.errors)
    typer.echo(
        f"{ok} of {report.sessions} session(s) indexed ({report.built} built, "
        f"{ok - report.built} already up to date) in {report.seconds:.1f} s; "
        f"cache {report.cache_bytes / 1e6:.1f} MB"
    )
    if report.errors:
        raise typer.Exit(1)

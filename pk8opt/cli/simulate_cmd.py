"""CLI: simulate."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pk8opt.cli.base import app
from pk8opt.errors import ConfigError

DEFAULT_START = "2026-10-01T12:00:00Z"


def parse_start(text: str) -> int:
    """Unix seconds from `1790000100`, `2026-10-14T12:00:00Z` or `2026-10-14 12:00`."""
    from datetime import UTC, datetime

    text = text.strip()
    try:
        return int(float(text))
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"--start: {text!r} is neither Unix seconds nor an ISO time (e.g. 2026-10-14T12:00:00Z)"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp())


def parse_overrides(items: list[str]) -> dict[str, object]:
    """`name=value` pairs for SimModel fields, typed like the field's default."""
    import dataclasses

    from pk8opt.simulate.model import SimModel

    fields = {f.name: f for f in dataclasses.fields(SimModel)}
    out: dict[str, object] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or name not in fields:
            raise ConfigError(
                f"--param {item!r}: expected NAME=VALUE with NAME one of the simulator "
                "parameters in docs/simulator.md (e.g. --param trade_rate=0.5)"
            )
        default = fields[name].default
        try:
            if isinstance(default, tuple):
                out[name] = tuple(float(v) for v in value.split(","))
            elif isinstance(default, int) and not isinstance(default, bool):
                out[name] = int(value)
            else:
                out[name] = float(value)
        except ValueError:
            raise ConfigError(f"--param {item!r}: {value!r} is not a number") from None
    return out


def _integer(option: str, text: str) -> int:
    # parsed here rather than by typer so a bad value is one clear line, not a traceback
    try:
        return int(text.strip())
    except ValueError:
        raise ConfigError(f"{option}: {text!r} is not a whole number") from None


@app.command()
def simulate(
    out: Annotated[
        Path,
        typer.Option("--out", help="Folder to write the sessions into (one subfolder per slug)."),
    ],
    sessions: Annotated[
        str,
        typer.Option(
            metavar="N", help="Consecutive market windows to simulate per symbol, from --start."
        ),
    ] = "5",
    symbols: Annotated[
        str, typer.Option(help="Comma-separated symbols among BTC,ETH,SOL,XRP.")
    ] = "BTC,ETH,SOL,XRP",
    seed: Annotated[
        str,
        typer.Option(
            metavar="S",
            help="Random seed (an integer): the same seed gives byte-identical sessions.",
        ),
    ] = "1",
    start: Annotated[
        str,
        typer.Option(
            help="First window start, Unix seconds or ISO UTC time; rounded down to a window "
            "boundary."
        ),
    ] = DEFAULT_START,
    timeframe: Annotated[str, typer.Option(help="Window length: 5m, 15m or 4h.")] = "15m",
    preset: Annotated[
        str,
        typer.Option(
            help="A named set of model parameters: `default` (no planted edge) or `edge` "
            "(uninformed sellers hit both tokens' bids: balanced_arb earns in a known region, "
            "docs/simulator.md). --param values apply on top."
        ),
    ] = "default",
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            help="Override a model parameter, NAME=VALUE (repeatable), e.g. --param trade_rate=0.5.",
        ),
    ] = None,
) -> None:
    """Write synthetic market sessions in the raw recording format.

    Each session is one market window (`btc-updown-15m-<start>`), from just before the
    window opens to the market's resolution: the market socket (books, level updates,
    trades, tick-size changes, resolution), Binance and Chainlink prices on the
    live-data socket, and Gamma's market object, exactly as `pk8opt record` would have
    written them; only the manifest's `source` says `simulated`. Use them to run the
    whole pipeline with no connection to Polymarket. The model and its parameters are
    described in docs/simulator.md.

    Examples (the last replays the sessions the one before wrote):

        pk8opt simulate --out recordings/sim --sessions 4 --symbols BTC,ETH --seed 7
        pk8opt simulate --out recordings/edge --preset edge --sessions 20 --symbols BTC,ETH
        pk8opt backtest -s balanced_arb --set edge=0.03 recordings/edge
    """
    from pk8opt.polymarket.slugs import parse_symbols, timeframe_seconds, window_start

    syms = parse_symbols(symbols)
    step = timeframe_seconds(timeframe)
    n_sessions = _integer("--sessions", sessions)
    seed_value = _integer("--seed", seed)
    if n_sessions < 1 or n_sessions > 10_000:
        raise ConfigError(f"--sessions: {n_sessions} is not between 1 and 10000")
    first = window_start(parse_start(start), timeframe)
    overrides = _model_overrides(syms, preset, param or [])
    starts = [first + k * step for k in range(n_sessions)]
    _write_sessions(out, syms, starts, seed_value, timeframe, overrides)


def _model_overrides(syms: list[str], preset: str, params: list[str]) -> dict[str, object]:
    """The preset's model parameters, `--param` values on top; checked for every symbol
    before anything is written."""
    from pk8opt.simulate.model import model_for
    from pk8opt.simulate.presets import preset as preset_overrides

    overrides = {**preset_overrides(preset), **parse_overrides(params)}
    for s in syms:
        model_for(s, **overrides)  # reject bad overrides before writing anything
    return overrides


def _write_sessions(
    out: Path,
    syms: list[str],
    starts: list[int],
    seed: int,
    timeframe: str,
    overrides: dict[str, object],
) -> None:
    """Each symbol's sessions, one line each, then the total and the time it took."""
    import time

    from pk8opt.recordings.manifest import read_manifest
    from pk8opt.simulate import simulate_session

    t0 = time.perf_counter()
    total = 0
    for s in syms:
        for window in starts:
            folder = simulate_session(out, s, window, seed, timeframe, **overrides)
            m = read_manifest(folder)
            total += 1
            typer.echo(
                f"{folder}  frames={m.frames}  resolution={m.resolution.outcome}  "
                f"{(folder / m.frames_file).stat().st_size / 1e6:.2f} MB"
            )
    typer.echo(f"{total} session(s) in {time.perf_counter() - t0:.1f} s -> {out}")

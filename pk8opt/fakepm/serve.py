"""`pk8opt serve`: run the fake Polymarket until stopped.

The venue clock: without `--now` the venue's time is the wall clock (sped up by
`--speed` from the moment serve starts), so a session recorded in the past is served at
its own window times and a client whose clock is elsewhere finds no market. With
`--now` the clock is anchored so that the earliest served frame comes `lead_s` venue
seconds after start: the recordings are live at once. Either way serve prints the
`PK8_CLOCK_*` settings so the recorder or the live runner share that clock.

The venue takes orders too (`clob.ClobServer`, on `--clob-port`), with the settings of
`--venue-param NAME=VALUE` (`venue_params`). When serve stops it prints what became of
the orders it received.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

from pk8opt.errors import ConfigError
from pk8opt.fakepm.server import FakePolymarket
from pk8opt.fakepm.timeline import load_venue
from pk8opt.fakepm.venue_params import parse_venue_params
from pk8opt.polymarket.endpoints import VenueClock

FAULT_KINDS = (
    "drop-market",
    "drop-live",
    "drop-user",
    "garbage-market",
    "garbage-live",
    "mute",
    "unmute",
    "fail-trade",
)


def parse_fault(text: str) -> tuple[str, float]:
    """`drop-market@30` -> ("drop-market", 30.0): venue seconds after serve starts."""
    kind, sep, at = text.partition("@")
    if not sep or kind not in FAULT_KINDS:
        raise ConfigError(f"--fault {text!r}: expected KIND@SECONDS, KIND one of {FAULT_KINDS}")
    try:
        return kind, float(at)
    except ValueError:
        raise ConfigError(f"--fault {text!r}: {at!r} is not a number of seconds") from None


def check_timing(speed: float, lead_s: float) -> None:
    """One `ConfigError` line for a --speed or --lead no clock can run at (not a number,
    infinite, or out of range)."""
    if not math.isfinite(speed) or speed <= 0:
        raise ConfigError(f"--speed {speed}: must be a finite number > 0, e.g. --speed 10")
    if not math.isfinite(lead_s) or lead_s < 0:
        raise ConfigError(
            f"--lead {lead_s}: must be a finite number of seconds >= 0, e.g. --lead 5"
        )


def make_clock(first_ns: int, speed: float, now: bool, lead_s: float) -> VenueClock:
    check_timing(speed, lead_s)
    wall = time.time_ns()
    venue = first_ns - int(lead_s * 1e9) if now else wall
    return VenueClock(venue, wall, speed)


async def _apply_fault(server: FakePolymarket, kind: str) -> None:
    if kind == "fail-trade":
        server.clob.exchange.fail_next += 1
    elif kind.startswith("drop-"):
        server.drop(kind.removeprefix("drop-"))
    elif kind.startswith("garbage-"):
        await server.garbage(kind.removeprefix("garbage-"))
    else:
        server.mute_pong = kind == "mute"


async def serve_async(
    paths: list[str | Path],
    port: int = 0,
    speed: float = 1.0,
    now: bool = False,
    host: str = "127.0.0.1",
    lead_s: float = 10.0,
    faults: list[str] = (),  # type: ignore[assignment]
    print_fn: Callable[[str], None] = print,
    stop: asyncio.Event | None = None,
    venue_params: list[str] = (),  # type: ignore[assignment]
    clob_port: int = 0,
) -> None:
    check_timing(speed, lead_s)  # bad input fails before anything starts
    scheduled = [parse_fault(f) for f in faults]
    params = parse_venue_params(list(venue_params))
    venue = load_venue(list(paths))
    clock = make_clock(venue.first_ns, speed, now, lead_s)
    server = FakePolymarket(venue, clock, host, port, venue_params=params, clob_port=clob_port)
    await server.start()
    for key, value in server.env().items():
        print_fn(f"export {key}={value}")
    first = min(m.manifest.window_start_s for m in venue.markets.values())
    print_fn(
        f"# serving {len(venue.markets)} market(s) from window {first}, "
        f"{len(venue.market_frames)} market + {len(venue.live_frames)} live frames, "
        f"speed {speed:g}x"
    )
    sys.stdout.flush()
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
    start_ns = clock.now_ns()
    tasks = []
    for kind, at_s in scheduled:

        async def fire(kind: str = kind, at_s: float = at_s) -> None:
            await clock.sleep_until_ns(start_ns + int(at_s * 1e9))
            await _apply_fault(server, kind)

        tasks.append(asyncio.create_task(fire()))
    try:
        await stop.wait()
    finally:
        for t in tasks:
            t.cancel()
        await server.stop()
        for line in server.clob.ledger.summary_lines():
            print_fn(line)
        sys.stdout.flush()

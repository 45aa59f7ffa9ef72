"""A client that adds the next window's tokens to a socket already streaming gets a book
that, with the frames that follow it, gives the venue's book: what it receives for each
window passes `recordings check`, as a recording the live runner makes of it must.

The venue clock runs on while the server is still sending what came before (a busy
loop, a slow reader): the client's stream is behind the clock when its new
subscription arrives. The clock here is moved by the test, so that moment is exact.
Joined before the next window's first frame, the client gets no book for it and that
window's own first `book` comes in the stream. Joined once the window has begun, it
must get the book as it stands where its stream has got to: a book as of the clock,
followed by the frames older than it still to be sent, disagrees with the best bid and
ask those frames carry.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import msgspec
import pytest

from pk8opt.fakepm.server import Client, FakePolymarket
from pk8opt.fakepm.timeline import load_venue
from pk8opt.polymarket.sockets import frame_assets
from pk8opt.recordings.check import check_session
from pk8opt.recordings.manifest import Manifest, read_manifest, write_manifest
from pk8opt.recordings.raw import FrameWriter
from pk8opt.recordings.session import finish_session
from pk8opt.simulate import simulate_session

START = 1767200400  # a multiple of 300
S = 10**9
STEP_NS = 50 * 10**6  # how far the clock moves while the stream keeps up
LAG_NS = S  # how far it has run ahead of the stream when the subscription comes


class ManualClock:
    """The venue clock, moved by the test; a sleeper wakes once it is moved past its time."""

    def __init__(self, t_ns: int) -> None:
        self.t = t_ns
        self.blocks = 0  # how many times a sleeper has started waiting
        self._moved = asyncio.Event()

    def now_ns(self) -> int:
        return self.t

    def now_s(self) -> float:
        return self.t / 1e9

    def to_env(self) -> dict[str, str]:
        return {}

    async def sleep_until_ns(self, t_ns: int) -> None:
        while self.t < t_ns:
            self.blocks += 1
            self._moved.clear()
            await self._moved.wait()

    def move(self, t_ns: int) -> None:
        self.t = t_ns
        self._moved.set()


class Received:
    """A socket's client end: every frame, with the venue time it arrived at."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.frames: list[tuple[int, str]] = []

    async def send(self, raw: str) -> None:
        self.frames.append((self.clock.t, raw))


def subscribe(tokens: list[str], first: bool) -> str:
    if first:
        return json.dumps({"assets_ids": tokens, "type": "market", "custom_feature_enabled": True})
    return json.dumps({"assets_ids": tokens, "operation": "subscribe"})


def first_frame_ns(venue, m: Manifest) -> int:
    tokens = {m.token_up, m.token_down}
    return next(f.t for f in venue.market_frames if f.assets & tokens)


def record(got: list[tuple[int, str]], m: Manifest, out: Path) -> Path:
    """What the client received of market `m`, as a finished session (as the live runner
    records a window: the frames that name its tokens)."""
    folder = out / m.slug
    tokens = {m.token_up, m.token_down}
    empty = msgspec.structs.replace(
        m, status="recording", counts={}, gaps=[], frames=0, sha256=None, first_ns=None
    )
    writer = FrameWriter(folder)  # makes the folder
    write_manifest(folder, empty)
    for t, raw in got:
        if frame_assets(json.loads(raw)) & tokens:
            writer.write(t, "market", raw)
    writer.close()
    finish_session(folder, empty, resolution=m.resolution)
    return folder


@pytest.mark.parametrize(
    "join",
    ["early", "at_rollover"],
    ids=["next-window-before-its-first-frame", "next-window-at-its-start"],
)
def test_a_subscription_added_while_the_stream_is_behind_gets_a_consistent_book(
    tmp_path: Path, join: str
) -> None:
    src = tmp_path / "src"
    folders = [
        simulate_session(src, "BTC", START + i * 300, seed=7, timeframe="5m") for i in range(2)
    ]
    first, second = (read_manifest(f) for f in folders)
    venue = load_venue([src])
    # the first window joined late (after its first books), as `serve --lead 0` has it
    t0 = first_frame_ns(venue, first) + 20 * S
    # the next window: ahead of its first frame (the recorder subscribes `--lead` early),
    # or once it has begun (the live runner rolls over at the window's start)
    t1 = first_frame_ns(venue, second) - S if join == "early" else (START + 300 + 2) * S
    end = venue.market_frames[-1].t

    async def main() -> list[tuple[int, str]]:
        clock = ManualClock(t0)
        server = FakePolymarket(venue, clock)  # type: ignore[arg-type]
        got = Received(clock)
        client = Client(1, "market", got)

        async def keep_up() -> None:
            """Let the stream send everything due, until it waits for the clock again."""
            blocks = clock.blocks
            while clock.blocks == blocks and not (client.task and client.task.done()):
                await asyncio.sleep(0)

        await server._on_market_msg(client, subscribe([first.token_up, first.token_down], True))
        await keep_up()
        t = t0
        while t < t1 - LAG_NS:
            t = min(t + STEP_NS, t1 - LAG_NS)
            clock.move(t)
            await keep_up()
        # the clock runs on while the stream has not yet sent what came before t1
        clock.move(t1)
        await server._on_market_msg(client, subscribe([second.token_up, second.token_down], False))
        t = t1
        while t < end:
            t = min(t + STEP_NS, end)
            clock.move(t)
            await keep_up()
        assert client.task is not None
        await asyncio.wait_for(client.task, 5)
        return got.frames

    got = asyncio.run(main())
    for m in (first, second):
        folder = record(got, m, tmp_path / "received")
        result = check_session(folder)
        assert result.events > 1000, m.slug
        assert result.ok, (m.slug, [str(f) for f in result.findings])

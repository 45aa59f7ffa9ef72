"""The live runner's per-frame rows are the backtest's rows, frame for frame.

Real captured market frames go through `LiveRunner.on_frame` one by one, as the socket
delivers them; the runner's recording of them, normalized as a whole file the way a
backtest does, must give exactly the rows the runner stepped.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest

from pk8opt.live import EVENTS_LOG_NAME, LiveOptions, LiveRunner, MarketRun, open_recording
from pk8opt.live.settings import Series, settings_from_env
from pk8opt.recordings.manifest import Manifest
from pk8opt.recordings.raw import frames_path, note_text
from pk8opt.recordings.schema import Kind

normalize = pytest.importorskip("pk8opt.recordings.normalize")

SLUG = "btc-updown-15m-1790658600"


class Sock:
    def __init__(self, kind: str) -> None:
        self.kind, self.url = kind, f"ws://test/{kind}"


class Recorder:
    """A stepper that keeps every row block it is handed."""

    def __init__(self) -> None:
        self.blocks: list[dict[str, np.ndarray]] = []

    def on_frame(self, rows: dict[str, np.ndarray], t_ns: int) -> None:
        self.blocks.append(rows)

    def settle(self, outcome: str, t_ns: int) -> None:
        pass

    def finish(self, t_ns: int) -> None:
        pass


def burst_frames(fixtures_dir: Path) -> list[str]:
    path = fixtures_dir / "market_ws" / "ws_market_price_change_crossing_burst.frames.jsonl"
    return [line for line in path.read_text().splitlines() if line.strip()]


def manifest_for(frames: list[str]) -> Manifest:
    first = json.loads(frames[0])
    tokens = sorted({c["asset_id"] for f in frames for c in json.loads(f).get("price_changes", [])})
    up = first["asset_id"]
    down = next(t for t in tokens if t != up)
    return Manifest(
        slug=SLUG,
        symbol="BTC",
        timeframe="15m",
        condition_id=first["market"],
        token_up=up,
        token_down=down,
        window_start_s=1790658600,
        window_end_s=1790659500,
        tick_size=0.001,
    )


def test_per_frame_rows_equal_whole_file_rows(fixtures_dir: Path, tmp_path: Path) -> None:
    frames = burst_frames(fixtures_dir)
    manifest = manifest_for(frames)
    settings = settings_from_env({"PM_STRATEGY": "noop"}, with_run_config=False)
    stepper = Recorder()
    runner = LiveRunner(
        settings,
        LiveOptions(headless=True, log_dir=tmp_path / "logs", out=lambda line: None),
        make_stepper=lambda run, traded: stepper,
    )
    spec = Series("BTC", "15m")
    run = MarketRun(spec=spec, manifest=manifest, traded=True, stepper=stepper)
    run.writer = open_recording(tmp_path / "rec", manifest)
    runner.runs[SLUG] = runner.current[spec] = run

    async def drive() -> None:
        t = 1790658661_000_000_000
        runner.on_connected(Sock("market"), t)
        for i, raw in enumerate(frames):
            # a book frame repeated later re-sends its tick size: only the first counts
            runner.on_frame(Sock("market"), t + i * 1_000_000, raw)
            if i == 10:
                runner.on_disconnected(Sock("market"), t + i * 1_000_000 + 1, "test drop")
                runner.on_frame(Sock("market"), t + i * 1_000_000 + 2, frames[0])
            if i == 20:
                runner.on_frame(Sock("market"), t + i * 1_000_000 + 3, "PONG?")
        runner.on_frame(
            Sock("live"),
            t + 10**9,
            json.dumps(
                {
                    "topic": "crypto_prices",
                    "type": "update",
                    "timestamp": 1,
                    "payload": {"symbol": "btcusdt", "timestamp": 1, "value": 1.0},
                }
            ),
        )

    asyncio.run(drive())
    run.writer.close()

    data = frames_path(tmp_path / "rec" / SLUG).read_bytes()
    whole = normalize.normalize_bytes(data, manifest, SLUG).events
    live = {k: np.concatenate([b[k] for b in stepper.blocks]) for k in whole.columns}
    assert len(whole) > 100
    for name in whole.columns:
        np.testing.assert_array_equal(live[name], whole[name].to_numpy(), err_msg=name)
    assert run.lines == len(data.splitlines())
    # the drop: a `disconnected` note, then a `gap` note with the next frame (as recorded)
    assert (whole["kind"].to_numpy() == 5).sum() == 2
    assert (whole["kind"].to_numpy() == 3).sum() == 1  # the tick size, once
    events = [json.loads(x) for x in (tmp_path / "logs" / EVENTS_LOG_NAME).read_text().splitlines()]
    assert [e["event"] for e in events] == ["feed_connected", "feed_disconnected"]
    assert note_text("x")  # notes are the foundation's


def test_a_window_takes_no_frame_after_the_one_that_settled_it(
    fixtures_dir: Path, tmp_path: Path
) -> None:
    """`market_resolved` settles the window at once; the window is retired a moment
    later. What arrives in between (a frame of its market, a drop of the socket) is
    neither stepped nor recorded: the replay of the recording settles after its last
    frame, and must find the one live settled on."""
    frames = burst_frames(fixtures_dir)[:20]
    manifest = manifest_for(frames)
    settings = settings_from_env({"PM_STRATEGY": "noop"}, with_run_config=False)
    stepper = Recorder()
    runner = LiveRunner(
        settings,
        LiveOptions(headless=True, log_dir=tmp_path / "logs", out=lambda line: None),
        make_stepper=lambda run, traded: stepper,
    )
    spec = Series("BTC", "15m")
    run = MarketRun(spec=spec, manifest=manifest, traded=True, stepper=stepper)
    run.writer = open_recording(tmp_path / "rec", manifest)
    runner.runs[SLUG] = runner.current[spec] = run
    resolved = json.dumps(
        {
            "event_type": "market_resolved",
            "market": manifest.condition_id,
            "assets_ids": [manifest.token_up, manifest.token_down],
            "winning_asset_id": manifest.token_down,
            "winning_outcome": "Down",
            "timestamp": "1790659600000",
        }
    )

    async def drive() -> None:
        t = 1790658661_000_000_000
        for i, raw in enumerate(frames):
            runner.on_frame(Sock("market"), t + i * 1_000_000, raw)
        runner.on_frame(Sock("market"), t + 10**9, resolved)
        # before the window is retired (a task of its own): more of its market, a drop
        runner.on_frame(Sock("market"), t + 10**9 + 1, frames[5])
        runner.on_disconnected(Sock("market"), t + 10**9 + 2, "test drop")
        await asyncio.sleep(0.01)

    asyncio.run(drive())
    assert run.done and run.resolved == "Down" and run.writer is None
    stepped = np.concatenate([b["frame"] for b in stepper.blocks if len(b["frame"])])
    path = frames_path(tmp_path / "rec" / SLUG)
    assert path is not None
    data = normalize.read_frames_bytes(path)
    whole = normalize.normalize_bytes(data, manifest, SLUG).events
    np.testing.assert_array_equal(stepped, whole["frame"].to_numpy())
    # the last rows of the recording are the resolution: nothing came after it
    assert int(whole["kind"].to_numpy()[-1]) == Kind.RESOLVED
    market = [json.loads(line)["raw"] for line in data.splitlines()]
    assert market.count(frames[5]) == 1

"""`pk8opt record` as a process: SIGTERM finishes its sessions, SIGKILL loses < 1 s."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
from support.record_cli import (
    served,  # noqa: F401  (a fixture)
    start_record,
    start_serve,
    wait_for_frames,
)
from support.recorder import START

from pk8opt.fakepm.build import fixture_session
from pk8opt.recordings.manifest import read_manifest
from pk8opt.recordings.raw import FRAMES_GZ_NAME, FRAMES_NAME, read_frames


@pytest.mark.slow
def test_sigterm_finishes_open_sessions_as_incomplete(tmp_path: Path, served: dict) -> None:  # noqa: F811
    out = tmp_path / "out"
    rec = start_record(out, served)
    folder = out / f"btc-updown-5m-{START}"
    wait_for_frames(folder, 30)
    rec.send_signal(signal.SIGTERM)
    said, err = rec.communicate(timeout=10)
    assert rec.returncode == 0, err
    m = read_manifest(folder)
    assert m.status == "incomplete"  # the window had not ended
    assert not (folder / FRAMES_NAME).exists()
    frames, bad = read_frames(folder / FRAMES_GZ_NAME)
    assert not bad and len(frames) == m.frames >= 30
    assert frames[-1].ch == "note" and '"unsubscribed"' in frames[-1].raw
    assert '"event": "stop"' in err.replace('":"', '": "') or '"event":"stop"' in err
    # the closing line (on stdout; stderr is the JSON log) says what was kept
    assert all(json.loads(line) for line in err.splitlines() if line.strip())
    assert said.strip().splitlines()[-1] == (
        f"0 complete session(s), 1 incomplete (cut short, kept) in {out}"
    )


@pytest.mark.slow
def test_sigkill_then_restart_marks_partial_session_incomplete(
    tmp_path: Path,
    served: dict,  # noqa: F811
) -> None:
    out = tmp_path / "out"
    rec = start_record(out, served)
    folder = out / f"btc-updown-5m-{START}"
    wait_for_frames(folder, 30)
    time.sleep(0.6)  # more than the flush interval: everything up to now is on disk
    lines_before = (folder / FRAMES_NAME).read_bytes().count(b"\n")
    rec.kill()
    rec.wait(5)
    assert read_manifest(folder).status == "recording"
    frames, bad = read_frames(folder / FRAMES_NAME)
    assert len(bad) <= 1 and len(frames) >= lines_before - 1

    again = start_record(out, served, "--duration", "1")
    _, err = again.communicate(timeout=15)
    assert again.returncode == 0, err
    m = read_manifest(folder)
    assert m.status == "incomplete"
    recovered, bad = read_frames(folder / FRAMES_GZ_NAME)
    assert not bad and len(recovered) == m.frames >= len(frames)
    assert '"event":"recovered"' in err
    # the same window goes on in the same folder, after a `resumed` note
    assert [f.raw for f in recovered[: len(frames)]] == [f.raw for f in frames]
    assert m.counts["note:resumed"] == 1 and m.frames > len(frames)
    assert not (out / f"btc-updown-5m-{START}_r2").exists()


@pytest.mark.slow
def test_scheduled_drop_from_the_command_line_is_one_gap(
    tmp_path: Path, fixtures_dir: Path
) -> None:
    src = tmp_path / "src"
    fixture_session(src, fixtures_dir, "BTC", START, "5m", first_offset_s=0.5, repeat=3)
    # 100 venue s of lead (2 s wall), then the market socket is cut 100 s into the window
    serve, env = start_serve(src, 50.0, 100.0, "--fault", "drop-market@200")
    try:
        rec = start_record(tmp_path / "out", env, "--sessions", "1")
        _, err = rec.communicate(timeout=20)
    finally:
        serve.terminate()
        serve.wait(5)
    assert rec.returncode == 0, err
    m = read_manifest(tmp_path / "out" / f"btc-updown-5m-{START}")
    assert m.status == "complete" and m.resolution.outcome == "Up"
    assert [g.socket for g in m.gaps] == ["market"]

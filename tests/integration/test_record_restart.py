"""One writer per folder, restarts within a window, and no frame left behind."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import msgspec
import pytest
from support.record_cli import (
    served,  # noqa: F401  (a fixture)
    start_record,
    wait_for_frames,
)
from support.recorder import START, Events, config, recorded, serving

from pk8opt.fakepm.build import ids_for
from pk8opt.record import JsonLog, Recorder
from pk8opt.recordings.load import load_sessions
from pk8opt.recordings.manifest import Manifest, Resolution, read_manifest, write_manifest
from pk8opt.recordings.raw import FRAMES_GZ_NAME, FRAMES_NAME, FrameWriter, read_frames
from pk8opt.recordings.session import finish_session

SLUG = f"btc-updown-5m-{START}"
PK8 = str(Path(sys.executable).with_name("pk8opt"))


def test_second_recorder_on_the_same_folder_is_refused(
    tmp_path: Path,
    served: dict,  # noqa: F811
) -> None:
    out = tmp_path / "out"
    first = start_record(out, served)
    folder = out / SLUG
    wait_for_frames(folder, 20)
    second = start_record(out, served, "--duration", "5")
    _, err = second.communicate(timeout=30)
    assert second.returncode == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and f"pid {first.pid}" in lines[0], err
    assert "another pk8opt record" in lines[0]
    # the first recorder's folder was left alone: still its own, still growing
    assert read_manifest(folder).status == "recording"
    n = (folder / FRAMES_NAME).read_bytes().count(b"\n")
    wait_for_frames(folder, n + 5)
    first.send_signal(signal.SIGTERM)
    _, err1 = first.communicate(timeout=15)
    assert first.returncode == 0, err1
    m = read_manifest(folder)
    frames, bad = read_frames(folder / FRAMES_GZ_NAME)
    assert not bad and len(frames) == m.frames > n
    assert '"recovered"' not in err1


@pytest.mark.slow
def test_restart_after_a_kill_continues_the_same_session(
    tmp_path: Path,
    served: dict,  # noqa: F811
) -> None:
    out = tmp_path / "out"
    rec = start_record(out, served)
    folder = out / SLUG
    wait_for_frames(folder, 30)
    rec.kill()
    rec.wait(5)
    before, _ = read_frames(folder / FRAMES_NAME)

    again = start_record(out, served, "--sessions", "1")
    _, err = again.communicate(timeout=60)
    assert again.returncode == 0, err
    assert sorted(p.name for p in out.iterdir()) == [SLUG]  # no second folder
    m = read_manifest(folder)
    assert m.status == "complete" and m.resolution.outcome == "Up"
    assert m.counts["note:resumed"] == 1
    frames, bad = read_frames(folder / FRAMES_GZ_NAME)
    assert not bad and len(frames) == m.frames > len(before)
    assert [f.raw for f in frames[: len(before)]] == [f.raw for f in before]
    resumed = next(f for f in frames if f.ch == "note" and '"resumed"' in f.raw)
    after_ns = msgspec.json.decode(resumed.raw)["after_ns"]
    assert after_ns == before[-1].t
    restart_gaps = [g for g in m.gaps if g.start_ns == after_ns]
    assert sorted(g.socket for g in restart_gaps) == ["live", "market"]
    assert all(g.duration_ns > 0 for g in restart_gaps)
    assert '"event":"session_resumed"' in err
    # and it loads as one session, with the restart as a gap
    (session,) = load_sessions([out])
    assert session.slug == SLUG and session.n_events > 0


def test_a_symbol_given_twice_is_recorded_once(tmp_path: Path, fixtures_dir: Path) -> None:
    from pk8opt.fakepm.build import fixture_session

    src = tmp_path / "src"
    fixture_session(src, fixtures_dir, "BTC", START, "5m", first_offset_s=0.5, repeat=3)

    async def main() -> Recorder:
        async with serving([src]) as server:
            cfg = config(server, tmp_path / "out", ["BTC", "BTC"], sessions=1)
            rec = Recorder(cfg, JsonLog(None))
            await asyncio.wait_for(rec.run(), 20)
            return rec

    rec = asyncio.run(main())
    assert rec.finished == 1 and len(rec.symbols) == 1
    assert [p.name for p in (tmp_path / "out").iterdir()] == [SLUG]
    assert read_manifest(tmp_path / "out" / SLUG).status == "complete"


def _late_session(root: Path, fixtures: Path) -> None:
    """market_resolved 12 s into the window, a price_change of the same market 60 s later."""
    up, down, cond = ids_for("BTC", START)
    folder = root / SLUG
    folder.mkdir(parents=True)
    m = Manifest(SLUG, "BTC", "5m", cond, up, down, START, START + 300)
    write_manifest(folder, m)
    w = FrameWriter(folder)
    t = (START + 10) * 10**9
    book = json.loads((fixtures / "market_ws/ws_market_book_msg.json").read_text())
    book["asset_id"] = up
    w.write(t, "market", json.dumps(book))
    resolved = json.loads((fixtures / "market_ws/ws_market_resolved_msg.json").read_text())
    resolved.update(market=cond, winning_asset_id=up, winning_outcome="Up")
    resolved["assets_ids"] = [up, down]
    w.write(t + 2 * 10**9, "market", json.dumps(resolved))
    pc = json.loads((fixtures / "market_ws/ws_market_price_change_msg.json").read_text())
    pc["market"] = cond
    for change in pc.get("price_changes", []):
        change["asset_id"] = down
    w.write(t + 60 * 10**9, "market", json.dumps(pc))
    w.close()
    finish_session(folder, m, resolution=Resolution("Up", "market_resolved", t + 2 * 10**9))


def test_a_frame_after_the_window_finished_is_kept_in_its_session(
    tmp_path: Path, fixtures_dir: Path
) -> None:
    _late_session(tmp_path / "src", fixtures_dir)
    late = [r for _, ch, r in recorded(tmp_path / "src" / SLUG) if "price_changes" in r]
    assert len(late) == 1

    async def main() -> Recorder:
        # 300 venue s (3 s) before the first frame: the recorder is subscribed before the
        # venue sends anything, even on a loaded machine
        async with serving([tmp_path / "src"], lead_s=300) as server:
            server.ignore_unsubscribe = True  # the venue goes on sending the finished market
            cfg = config(server, tmp_path / "out", ["BTC"], stale_s=30.0)
            rec = Recorder(cfg, JsonLog(None))
            task = asyncio.create_task(rec.run())
            sr = rec.symbols[0]
            async with asyncio.timeout(30):
                while not (sr.late_frames and not sr.late and not rec.pending):
                    await asyncio.sleep(0.01)
            rec.stop_event.set()
            await asyncio.wait_for(task, 15)
            return rec

    rec = asyncio.run(main())
    folder = tmp_path / "out" / SLUG
    m = read_manifest(folder)
    assert m.status == "complete" and m.resolution.source == "market_resolved"
    mine = recorded(folder)
    assert late[0] in [r for _, ch, r in mine if ch == "market"]
    assert m.counts["price_change"] == 1 and m.frames == len(mine)
    assert rec.symbols[0].late_frames == 1
    (session,) = load_sessions([folder])  # the sha256 and counts describe the new file
    assert session.manifest.sha256 == m.sha256


def test_live_backfill_before_the_first_session_is_kept(tmp_path: Path, fixtures_dir: Path) -> None:
    from pk8opt.fakepm.build import fixture_session

    src = tmp_path / "src"
    fixture_session(src, fixtures_dir, "BTC", START, "5m", first_offset_s=0.5, repeat=3)

    async def main() -> tuple[Recorder, str]:
        async with serving([src], lead_s=-30) as server:  # 30 s into the window
            server.live_backfill = True
            server.gamma_hold = asyncio.Event()  # Gamma answers after the backfill came
            rec = Recorder(config(server, tmp_path / "out", ["BTC"], sessions=1), JsonLog(None))
            task = asyncio.create_task(rec.run())
            async with asyncio.timeout(15):
                while rec.symbols[0].frames < 1:
                    await asyncio.sleep(0.01)
            backfill = next(raw for _, sock, _, raw in server.sent if sock == "live")
            server.gamma_hold.set()
            await asyncio.wait_for(task, 20)
            return rec, backfill

    rec, backfill = asyncio.run(main())
    mine = recorded(tmp_path / "out" / SLUG)
    live = [r for _, ch, r in mine if ch == "live"]
    assert live[0] == backfill
    assert rec.symbols[0].orphan_frames >= 1


def test_unreadable_sessions_are_skipped_not_fatal(
    tmp_path: Path, fixtures_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    from pk8opt.fakepm.build import fixture_session
    from pk8opt.sweep.config import Data
    from pk8opt.sweep.data import select_sessions

    root = tmp_path / "recs"
    fixture_session(root, fixtures_dir, "BTC", START, "5m", first_offset_s=0.5, repeat=1)
    shutil.copytree(root / SLUG, root / f"{SLUG}_r2")  # what older recorders left
    broken = root / f"btc-updown-5m-{START + 300}"
    broken.mkdir()
    (broken / "manifest.json").write_text("{not json")
    sessions = load_sessions([root])
    assert [s.slug for s in sessions] == [SLUG]
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("skipped ") for line in err)
    assert any(f"{SLUG}_r2" in line and "folder name" in line for line in err)
    sel = select_sessions(Data(paths=[str(root)]), "sweep.yaml")
    assert sel.in_sample + sel.holdout == [root / SLUG]
    # serve too: the readable session is served, the others named once each
    from pk8opt.fakepm.timeline import load_venue

    capsys.readouterr()
    assert list(load_venue([root]).markets) == [SLUG]
    assert len(capsys.readouterr().err.strip().splitlines()) == 2


def test_recovery_leaves_a_folder_another_recorder_writes(tmp_path: Path) -> None:
    from pk8opt.record import RecordConfig

    up, down, cond = ids_for("BTC", START)
    folder = tmp_path / "nested" / SLUG
    folder.mkdir(parents=True)
    write_manifest(folder, Manifest(SLUG, "BTC", "5m", cond, up, down, START, START + 300))
    writer = FrameWriter(folder)  # another recorder (under another --out) writes it
    writer.write(time.time_ns(), "market", "{}")
    writer.flush()
    rec = Recorder(RecordConfig(["BTC"], out=tmp_path), JsonLog(None))
    assert rec.recover() == []
    assert read_manifest(folder).status == "recording" and (folder / FRAMES_NAME).exists()
    writer.close()
    assert rec.recover() == [folder]
    assert read_manifest(folder).status == "incomplete"


class _FullDisk:
    """A frames file on a disk that has just filled up."""

    def __init__(self, fh: object) -> None:
        self.fh = fh
        self.closed = False

    def write(self, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    def flush(self) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    def fileno(self) -> int:
        return self.fh.fileno()  # type: ignore[attr-defined]

    def close(self) -> None:
        self.closed = True
        self.fh.close()  # type: ignore[attr-defined]
        raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_stops_the_recorder_and_keeps_what_was_written(
    tmp_path: Path, fixtures_dir: Path
) -> None:
    from pk8opt.fakepm.build import fixture_session

    src = tmp_path / "src"
    fixture_session(src, fixtures_dir, "BTC", START, "5m", first_offset_s=0.5, repeat=3)

    async def main() -> tuple[Recorder, Events, int]:
        async with serving([src]) as server:
            log = Events()
            rec = Recorder(config(server, tmp_path / "out", ["BTC"], sessions=1), log)
            task = asyncio.create_task(rec.run())
            sr = rec.symbols[0]
            async with asyncio.timeout(20):
                while not sr.open or sr.frames < 20:
                    await asyncio.sleep(0.01)
            (s,) = sr.open.values()
            s.writer.flush()
            written = (s.dir / FRAMES_NAME).read_bytes().count(b"\n")
            s.writer._fh = _FullDisk(s.writer._fh)  # type: ignore[assignment]
            await asyncio.wait_for(task, 20)  # it stops by itself
            return rec, log, written

    rec, log, written = asyncio.run(main())
    folder = tmp_path / "out" / SLUG
    assert rec.disk_error is not None and rec.left_recording == [folder]
    assert [e["event"] for e in log.items].count("write_failed") == 1
    line = rec.closing_line()
    assert line.startswith(f"stopped: No space left on device writing {folder / FRAMES_NAME}.")
    assert "run pk8opt record again" in line
    # what reached the disk is there, the folder is left for the next start to close
    assert read_manifest(folder).status == "recording"
    frames, bad = read_frames(folder / FRAMES_NAME)
    assert not bad and len(frames) >= written


@pytest.mark.slow
def test_a_real_full_disk_then_a_restart_finishes_the_window(
    tmp_path: Path,
    served: dict,  # noqa: F811
) -> None:
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare(1) to mount a small tmpfs")
    out, copy1, copy2 = tmp_path / "out", tmp_path / "full", tmp_path / "after"
    for d in (out, copy1, copy2):
        d.mkdir()
    record = (
        f"{PK8} record --symbols BTC --timeframe 5m --out {out} --quiet --ping 0.5 --sessions 1"
    )
    script = f"""
mount -t tmpfs -o size=48k tmpfs {out} || exit 99
{record} >{tmp_path}/out1 2>{tmp_path}/err1; echo $? > {tmp_path}/rc1
cp -a {out}/. {copy1}/
mount -o remount,size=20m {out} || exit 98
{record} 2>{tmp_path}/err2; echo $? > {tmp_path}/rc2
cp -a {out}/. {copy2}/
"""
    proc = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script],
        env={**os.environ, **served},
        timeout=120,
        capture_output=True,
        text=True,
    )
    if proc.returncode in (1, 99) and not (tmp_path / "rc1").exists():
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()[:200]}")
    assert proc.returncode == 0, proc.stderr
    err1 = (tmp_path / "err1").read_text()
    assert (tmp_path / "rc1").read_text().strip() == "1"
    assert "Traceback" not in err1
    # the closing line is the last of stdout (stderr holds the JSON-lines log)
    last = (tmp_path / "out1").read_text().strip().splitlines()[-1]
    assert last.startswith("stopped: No space left on device writing "), last
    kept = copy1 / SLUG
    assert read_manifest(kept).status == "recording"
    frames, bad = read_frames(kept / FRAMES_NAME)
    assert len(frames) > 0 and len(bad) <= 1
    # space freed: the next run closes the folder and finishes the window in it
    assert (tmp_path / "rc2").read_text().strip() == "0", (tmp_path / "err2").read_text()
    m = read_manifest(copy2 / SLUG)
    assert m.status == "complete" and m.counts["note:resumed"] == 1
    after, bad_after = read_frames(copy2 / SLUG / FRAMES_GZ_NAME)
    # a line the full disk cut stays one reported bad line; every good frame is kept
    assert len(bad_after) == len(bad) and len(after) == m.frames > len(frames)
    assert [f.raw for f in after[: len(frames)]] == [f.raw for f in frames]

"""Nothing lost, nothing counted twice: every session is played once, whatever the paths
that reach it, and what a recording holds that is not what its manifest says is reported
with its file and line, never replayed silently.

Each test edits a copy of a sample session (never the sample itself) the way a disk, a
backup or a clock can: a second copy, a missing manifest, an emptied frames file,
receive times that go backwards, repeated frames, a `NaN` price, a lost
`market_resolved`, a cache that cannot be written.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest

from pk8opt.errors import DataSelectionError
from pk8opt.recordings.check import check_session
from pk8opt.recordings.load import load_sessions
from pk8opt.recordings.manifest import read_manifest, write_manifest
from pk8opt.recordings.raw import sha256_file
from pk8opt.sweep.config import Data, Holdout
from pk8opt.sweep.data import select_sessions

PK8 = [sys.executable, "-m", "pk8opt.cli"]
SLUG = "btc-updown-15m-1791986400"  # 12,540 frames, one market_resolved (Down)
OTHER = "eth-updown-15m-1791986400"
BLOCK = slice(5000, 7000)  # lines 5001..7000: 2,000 frames


def pk8opt(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PK8, *args], capture_output=True, text=True, timeout=300, cwd=cwd, check=False
    )


def backtest(*paths: Path | str, cwd: Path | None = None) -> tuple[dict, str]:
    r = pk8opt("backtest", "--json", "-s", "balanced_arb", *map(str, paths), cwd=cwd)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    return json.loads(r.stdout)["aggregate"], r.stderr


def copy_session(sample_dir: Path, dst: Path, slug: str = SLUG) -> Path:
    shutil.copytree(sample_dir / slug, dst, ignore=shutil.ignore_patterns(".cache"))
    return dst


def frame_lines(session: Path) -> list[bytes]:
    return gzip.decompress((session / "frames.jsonl.gz").read_bytes()).splitlines()


def rewrite(session: Path, edit: Callable[[list[bytes]], list[bytes]], **manifest: object) -> None:
    """Edit the frames file and give the manifest its new sha256 (and `manifest`
    changes): the file is then the one its manifest was written for."""
    gz = session / "frames.jsonl.gz"
    lines = edit(frame_lines(session))
    gz.write_bytes(gzip.compress(b"".join(line + b"\n" for line in lines), mtime=0))
    m = read_manifest(session)
    write_manifest(session, msgspec.structs.replace(m, sha256=sha256_file(gz), **manifest))


def with_t(line: bytes, shift_ns: int) -> bytes:
    frame = json.loads(line)
    frame["t"] += shift_ns
    return json.dumps(frame, separators=(",", ":")).encode()


def findings(session: Path) -> dict:
    return {f.kind: f for f in check_session(session).findings}


@pytest.fixture(scope="module")
def clean(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A pristine copy of the session and its backtest's aggregate."""
    session = copy_session(sample_dir, tmp_path_factory.mktemp("clean") / SLUG)
    agg, err = backtest(session)
    assert "warning" not in err and "skipped" not in err
    return session, agg


@pytest.fixture
def session(clean: tuple[Path, dict], tmp_path: Path) -> Path:
    return copy_session(clean[0].parent, tmp_path / "rec" / SLUG)


# -- one session, however it is reached ----------------------------------------------


@pytest.mark.slow
def test_a_session_named_by_two_paths_is_played_once(clean, session: Path):
    root = session.parent
    agg, err = backtest(SLUG, session.resolve(), cwd=root)
    assert agg["sessions"] == 1 and agg["pnl_usdc"] == clean[1]["pnl_usdc"]
    skipped = [line for line in err.splitlines() if line.startswith("skipped ")]
    assert len(skipped) == 1 and "the same folder as" in skipped[0], err


@pytest.mark.slow
def test_a_backup_copy_is_played_once_and_named(clean, session: Path):
    backup = copy_session(session.parent, session.parent / "backup" / SLUG)
    agg, err = backtest(session.parent)
    assert agg["sessions"] == 1 and agg["pnl_usdc"] == clean[1]["pnl_usdc"]
    skipped = [line for line in err.splitlines() if line.startswith("skipped ")]
    assert skipped == [
        f"skipped {backup}: the same session as {session} (slug, condition id and sha256 agree)"
    ]
    r = pk8opt("recordings", "check", str(session.parent))
    assert r.returncode == 0 and "1 of 1 session(s) ok" in r.stdout
    assert f"skipped {backup}: the same session as {session}" in r.stderr


def test_two_different_sessions_under_one_slug_are_an_error(session: Path):
    other = copy_session(session.parent, session.parent / "backup" / SLUG)
    rewrite(other, lambda lines: lines[:-1], frames=12539)
    with pytest.raises(DataSelectionError) as exc:
        load_sessions([session.parent])
    text = str(exc.value)
    assert str(session) in text and str(other) in text and SLUG in text
    r = pk8opt("backtest", "-s", "balanced_arb", str(session.parent))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.startswith("error: two different sessions named") and str(other) in r.stderr


def test_a_sweep_counts_each_session_once(sample_dir: Path, tmp_path: Path):
    rec = tmp_path / "rec"
    shutil.copytree(sample_dir, rec, ignore=shutil.ignore_patterns(".cache"))
    shutil.copytree(rec, tmp_path / "old", ignore=shutil.ignore_patterns("README.md"))
    shutil.move(tmp_path / "old", rec / "old")
    sel = select_sessions(Data(paths=[str(rec)]), "sweep.yaml")
    assert (len(sel.in_sample), len(sel.holdout)) == (24, 8)  # the sample alone: 8 windows x 4
    assert all("old" not in p.parts for p in [*sel.in_sample, *sel.holdout])
    alone = select_sessions(Data(paths=[str(sample_dir)]), "sweep.yaml")
    assert sel.fingerprint == alone.fingerprint


# -- a folder with frames and no manifest ---------------------------------------------


@pytest.mark.slow
def test_frames_without_a_manifest_are_reported_everywhere(sample_dir: Path, session: Path):
    root = session.parent
    lost = copy_session(sample_dir, root / OTHER, OTHER)
    (lost / "manifest.json").unlink()
    what = "missing manifest.json beside frames.jsonl.gz"

    r = pk8opt("recordings", "ls", str(root))
    assert "2 session(s)" in r.stdout and "unreadable" in r.stdout and what in r.stdout
    r = pk8opt("recordings", "check", str(root))
    assert r.returncode == 1 and f"FAIL {OTHER}" in r.stdout and what in r.stdout
    assert "1 of 2 session(s) ok" in r.stdout
    agg, err = backtest(root)
    assert agg["sessions"] == 1 and f"skipped {lost}: {what}" in err
    r = pk8opt("recordings", "index", str(root))
    assert r.returncode == 1 and what in r.stderr and "1 of 2 session(s) indexed" in r.stdout


def test_a_sweep_reports_frames_without_a_manifest(
    sample_dir: Path, session: Path, capsys: pytest.CaptureFixture[str]
):
    lost = copy_session(sample_dir, session.parent / OTHER, OTHER)
    (lost / "manifest.json").unlink()
    sel = select_sessions(Data([str(session.parent)], holdout=Holdout(0)), "s.yaml")
    assert sel.in_sample == [session]
    assert (
        f"skipped {lost}: missing manifest.json beside frames.jsonl.gz" in capsys.readouterr().err
    )


# -- the manifest's counts against the file -------------------------------------------


def test_an_emptied_frames_file_is_not_ok(session: Path):
    rewrite(session, lambda lines: [])
    found = findings(session)
    assert "frame_count" in found
    assert found["frame_count"].examples == [
        f"{session / 'frames.jsonl.gz'}: the manifest counts 12,540 frames, the file holds 0"
    ]


def test_a_lost_market_resolved_line_is_reported(session: Path):
    def drop_resolved(lines: list[bytes]) -> list[bytes]:
        return [line for line in lines if b"market_resolved" not in line]

    rewrite(session, drop_resolved, frames=12539)
    found = findings(session)
    assert set(found) == {"resolution_source"}
    assert "market_resolved" in found["resolution_source"].examples[0]
    r = pk8opt("backtest", "-s", "balanced_arb", str(session))
    assert "warning:" in r.stderr and "no market_resolved" in r.stderr


# -- receive order ---------------------------------------------------------------------


@pytest.mark.slow
def test_receive_times_shifted_back_are_reported_and_skipped(clean, session: Path):
    def shift(lines: list[bytes]) -> list[bytes]:
        lines[BLOCK] = [with_t(line, -300 * 10**9) for line in lines[BLOCK]]
        return lines

    rewrite(session, shift)
    found = findings(session)
    assert found["time_backwards"].count == 2000  # (the book then misses their updates)
    assert found["time_backwards"].examples[0].startswith(f"{session / 'frames.jsonl.gz'}:5001: ")
    agg, err = backtest(session)
    assert "warning:" in err and "skipped 2000 time_backwards" in err


@pytest.mark.slow
def test_a_reversed_block_is_reported_and_skipped(clean, session: Path):
    def reverse(lines: list[bytes]) -> list[bytes]:
        lines[BLOCK] = lines[BLOCK][::-1]
        return lines

    rewrite(session, reverse)
    found = findings(session)
    assert found["time_backwards"].count == 1999  # the first of the block is the latest
    assert ":5002: " in found["time_backwards"].examples[0]
    agg, err = backtest(session)
    assert "skipped 1999 time_backwards" in err


@pytest.mark.slow
def test_repeated_frames_are_reported_and_played_once(clean, session: Path):
    def repeat(lines: list[bytes]) -> list[bytes]:
        return lines[: BLOCK.stop] + lines[BLOCK] + lines[BLOCK.stop :]

    rewrite(session, repeat)
    found = findings(session)
    assert found["duplicate"].count == 2000
    assert found["duplicate"].examples[0].endswith(":7001: the same frame as line 5001")
    assert "disagreement" not in found
    assert found["frame_count"].examples[0].endswith("counts 12,540 frames, the file holds 14,540")
    agg, err = backtest(session)
    assert "skipped 2000 duplicate" in err
    assert agg["pnl_usdc"] == clean[1]["pnl_usdc"]


def test_a_frame_sent_twice_in_a_row_is_a_duplicate(session: Path):
    def double(lines: list[bytes]) -> list[bytes]:
        return lines[:100] + [lines[99]] + lines[100:]

    rewrite(session, double, frames=12541)
    found = findings(session)
    assert set(found) == {"duplicate"}
    assert found["duplicate"].examples == [
        f"{session / 'frames.jsonl.gz'}:101: the same frame as line 100"
    ]


# -- a value that is not a number ------------------------------------------------------


def test_a_nan_price_names_the_field_the_value_and_the_line(session: Path):
    price = re.compile(rb'\\"price\\":\\"0\.[0-9]+\\"')
    lines = frame_lines(session)
    n = next(i for i, line in enumerate(lines) if b"price_changes" in line and price.search(line))

    def nan(lines: list[bytes]) -> list[bytes]:
        lines[n] = price.sub(rb'\\"price\\":\\"NaN\\"', lines[n], count=1)
        return lines

    rewrite(session, nan)
    found = findings(session)
    assert set(found) == {"malformed"}
    where = f"{session / 'frames.jsonl.gz'}:{n + 1}"
    assert found["malformed"].examples == [f"{where}: price_change price 'NaN' is not a number"]


# -- a cache that cannot be written ----------------------------------------------------


def test_index_says_it_could_not_write_the_cache(session: Path):
    (session / ".cache").write_text("not a folder")  # the cache cannot be made here
    r = pk8opt("recordings", "index", str(session.parent))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert f"could not write {session / '.cache'}" in r.stderr
    assert "0 of 1 session(s) indexed (0 built" in r.stdout

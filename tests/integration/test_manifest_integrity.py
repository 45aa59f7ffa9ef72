"""A manifest that contradicts its frames is warned about wherever the session is used
(backtest, sweep, recordings check); the recorded `market_resolved` wins over the
manifest's winner."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from pk8opt.recordings.check import check_session
from pk8opt.recordings.load import load_session
from pk8opt.recordings.manifest import Resolution, read_manifest, write_manifest
from pk8opt.recordings.session import problems_line

PK8 = [sys.executable, "-m", "pk8opt.cli"]
SLUG = "btc-updown-15m-1791986400"  # its frames hold market_resolved: Down


def backtest(session: Path) -> tuple[dict, str]:
    r = subprocess.run(
        [*PK8, "backtest", "--json", "--strategy", "balanced_arb", str(session)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    return json.loads(r.stdout)["sessions"][0], r.stderr


@pytest.fixture
def copy(sample_dir: Path, tmp_path: Path) -> Path:
    dst = tmp_path / SLUG
    shutil.copytree(sample_dir / SLUG, dst, ignore=shutil.ignore_patterns(".cache"))
    return dst


def test_recorded_market_resolved_wins_over_a_contradicting_manifest(copy: Path):
    truth, err = backtest(copy)
    assert truth["winner"] == "Down" and "warning" not in err
    assert truth["unpaired_shares"] > 0  # the winner changes the P&L of this run
    m = read_manifest(copy)
    write_manifest(copy, msgspec.structs.replace(m, resolution=Resolution("Up", "gamma", 1)))

    loaded = load_session(copy)
    assert loaded.manifest.resolution.outcome == "Down"
    assert loaded.manifest.resolution.source == "market_resolved"
    line = problems_line(loaded) or ""
    assert "contradicts the manifest's winner" in line and "recordings check" in line

    got, err = backtest(copy)
    assert got["winner"] == "Down" and got["pnl_usdc"] == truth["pnl_usdc"]
    assert "warning:" in err and "contradicts the manifest's winner" in err

    found = {f.kind: f for f in check_session(copy).findings}
    assert set(found) == {"resolution"}
    example = found["resolution"].examples[0]
    assert "frames.jsonl.gz:" in example
    assert "market_resolved says Down, the manifest says Up (gamma): Down is used" in example


def test_a_changed_frames_file_is_warned_about_everywhere(copy: Path):
    gz = copy / "frames.jsonl.gz"
    # the same frames, compressed differently: the data is intact, the file is not the one
    gz.write_bytes(gzip.compress(gzip.decompress(gz.read_bytes()), compresslevel=1))
    got, err = backtest(copy)
    assert got["winner"] == "Down"
    assert "warning:" in err and "not the one its manifest describes (sha256)" in err
    assert "skipped" not in err  # nothing was left out
    found = {f.kind: f for f in check_session(copy).findings}
    assert set(found) == {"sha256"}
    assert str(gz) in found["sha256"].examples[0]

"""A corrupt recording line is reported, skipped and counted; the rest is kept."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from pk8opt.recordings.load import load_session
from pk8opt.recordings.manifest import read_manifest, write_manifest
from pk8opt.recordings.raw import sha256_file
from pk8opt.recordings.session import problems_line
from pk8opt.simulate import simulate_session

PK8 = [sys.executable, "-m", "pk8opt.cli"]


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("rec")
    clean = simulate_session(root / "clean", "ETH", 1791986400, seed=5)
    bad = simulate_session(root / "bad", "ETH", 1791986400, seed=5)
    lines = gzip.decompress((bad / "frames.jsonl.gz").read_bytes()).split(b"\n")
    lines[99] = b'{"t": 1, "ch": "market", "raw": '  # garbage at line 100
    (bad / "frames.jsonl.gz").write_bytes(gzip.compress(b"\n".join(lines)))
    # the garbage was recorded as such: the manifest describes this file
    m = read_manifest(bad)
    write_manifest(bad, msgspec.structs.replace(m, sha256=sha256_file(bad / "frames.jsonl.gz")))
    return clean, bad


def test_loaded_session_counts_the_bad_line_and_keeps_the_rest(sessions):
    clean, bad = sessions
    good, broken = load_session(clean), load_session(bad)
    assert good.serious_problems == {} and problems_line(good) is None
    assert broken.serious_problems == {"bad_line": 1}
    # Only the events of the one broken frame are missing.
    lost = good.n_events - broken.n_events
    assert 0 <= lost < 100
    assert "skipped 1 bad_line" in (problems_line(broken) or "")


def test_backtest_warns_and_check_names_file_and_line(sessions):
    _, bad = sessions
    r = subprocess.run(
        [*PK8, "backtest", "--json", str(bad)], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    assert "warning:" in r.stderr and "skipped 1 bad_line" in r.stderr
    assert json.loads(r.stdout)["aggregate"]["sessions"] == 1  # stdout stays clean JSON
    r = subprocess.run(
        [*PK8, "recordings", "check", str(bad)], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 1
    assert "frames.jsonl.gz:100:" in r.stdout

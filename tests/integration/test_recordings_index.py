"""`pk8opt recordings index`: builds once, resumes, reports a broken session and goes on."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from pk8opt.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_index_builds_resumes_and_reports(sample_dir: Path, tmp_path: Path) -> None:
    if not sample_dir.is_dir():
        pytest.skip("no recordings/sample")
    srcs = sorted(p.parent for p in sample_dir.glob("*/manifest.json"))[:3]
    for src in srcs:
        shutil.copytree(src, tmp_path / src.name, ignore=shutil.ignore_patterns(".cache"))
    first = _cli("recordings", "index", str(tmp_path), "--workers", "2")
    assert first.returncode == 0, first.stderr
    assert "3 of 3 session(s) indexed (3 built, 0 already up to date)" in first.stdout
    for src in srcs:
        kinds = sorted(p.name.split("-")[0] for p in (tmp_path / src.name / ".cache").iterdir())
        assert kinds == ["events", "lock", "replay"]
    again = _cli("recordings", "index", str(tmp_path))
    assert "(0 built, 3 already up to date)" in again.stdout
    # a session whose manifest does not match its folder: named, the others still indexed
    bad = tmp_path / srcs[0].name / "manifest.json"
    doc = json.loads(bad.read_text())
    doc["slug"] = "eth-updown-15m-1"
    bad.write_text(json.dumps(doc))
    shutil.rmtree(tmp_path / srcs[1].name / ".cache")
    broken = _cli("recordings", "index", str(tmp_path))
    assert broken.returncode == 1
    assert f"error: {bad}: slug" in broken.stderr and "Traceback" not in broken.stderr
    assert "2 of 3 session(s) indexed (1 built, 1 already up to date)" in broken.stdout

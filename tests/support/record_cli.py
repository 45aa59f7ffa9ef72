"""`pk8opt serve` and `pk8opt record` as processes; the `served` fixture (a session served)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pk8opt.fakepm.build import fixture_session
from pk8opt.recordings.raw import FRAMES_NAME
from support.sessions import START

PK8 = [str(Path(sys.executable).with_name("pk8opt"))]


def start_serve(
    src: Path, speed: float = 20.0, lead_s: float = 40.0, *extra: str
) -> tuple[subprocess.Popen, dict]:
    proc = subprocess.Popen(
        [
            *PK8,
            "serve",
            str(src),
            "--now",
            "--speed",
            str(speed),
            "--port",
            "0",
            "--lead",
            str(lead_s),
            *extra,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    env = {}
    assert proc.stdout is not None
    while len(env) < 6:
        line = proc.stdout.readline()
        assert line, "serve exited before printing its settings"
        if line.startswith("export "):
            key, _, value = line.removeprefix("export ").strip().partition("=")
            env[key] = value
    return proc, env


def start_record(out: Path, env: dict, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [
            *PK8,
            "record",
            "--symbols",
            "BTC",
            "--timeframe",
            "5m",
            "--out",
            str(out),
            "--quiet",
            "--ping",
            "0.5",
            *args,
        ],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,  # the closing line (one line: a pipe's buffer holds it)
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_frames(folder: Path, n: int, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    path = folder / FRAMES_NAME
    while time.monotonic() < deadline:
        if path.exists() and path.read_bytes().count(b"\n") >= n:
            return
        time.sleep(0.05)
    raise AssertionError(f"{path}: fewer than {n} frames after {timeout_s} s")


@pytest.fixture
def served(tmp_path: Path, fixtures_dir: Path):
    src = tmp_path / "src"
    fixture_session(src, fixtures_dir, "BTC", START, "5m", first_offset_s=0.5, repeat=3)
    proc, env = start_serve(src)
    yield env
    proc.terminate()
    proc.wait(5)

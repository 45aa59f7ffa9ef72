"""`pk8opt live --headless` against `pk8opt serve`: the `served` fixture (two windows), run_live."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from pk8opt.recordings.manifest import read_manifest

pytest.importorskip("pk8opt.fakepm.serve")
simulate = pytest.importorskip("pk8opt.simulate")

BIN = Path(sys.executable).parent
START = 1767200400  # a multiple of 300 and 900
SPEED = 60
# venue seconds from serve's start to the first frame: 5 s of wall time at SPEED, time
# for `pk8opt live` to start on a loaded machine before the first window opens
LEAD = 300


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("PM_", "PK8_"))}


@pytest.fixture
def served(tmp_path: Path, request: pytest.FixtureRequest):
    """Simulate two windows, serve them; yields (env with PK8_* of the server, manifests)."""
    src = tmp_path / "served"
    folders = simulate_windows(src)
    with serving(src, getattr(request, "param", [])) as env:
        yield env, [read_manifest(f) for f in folders]


def simulate_windows(src: Path) -> list[Path]:
    """Two consecutive 5-minute BTC windows from START, simulated into `src`."""
    return [
        simulate.simulate_session(src, "BTC", START + i * 300, seed=7, timeframe="5m")
        for i in range(2)
    ]


def serve_env(proc: subprocess.Popen[str]) -> dict[str, str]:
    """The environment for a client of a starting `pk8opt serve`: ours with the `export`
    lines it prints before `# serving`."""
    env = clean_env()
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("export "):
            key, _, value = line[len("export ") :].strip().partition("=")
            env[key] = value
        if line.startswith("# serving"):
            break
    return env


@contextlib.contextmanager
def serving(src: Path, faults: Sequence[str] = ()):
    """`pk8opt serve` of the sessions under `src` at SPEED, its first frame LEAD venue
    seconds after it starts; yields the environment with the server's PK8_* settings."""
    proc = subprocess.Popen(
        [
            str(BIN / "pk8opt"),
            "serve",
            str(src),
            "--now",
            "--speed",
            str(SPEED),
            "--port",
            "0",
            "--lead",
            str(LEAD),
            *[f"--fault={f}" for f in faults],
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )
    env = serve_env(proc)
    assert "PK8_GAMMA_URL" in env and "PK8_CLOCK_SPEED" in env, proc.stderr.read()
    try:
        yield env
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def run_live(
    tmp_path: Path, env: dict[str, str], duration_s: float, *extra: str, env_lines: str = ""
):
    env_file = tmp_path / ".env"
    env_file.write_text(
        "PM_STRATEGY=balanced_arb\nPM_WATCHLIST=BTC:5m\nPM_TRADELIST=BTC:5m\n"
        "PM_PAPER_TRADING=1\nPM_DRY_RUN=1\n" + env_lines
    )
    proc = subprocess.run(
        [
            str(BIN / "pk8opt"),
            "live",
            "--env-file",
            str(env_file),
            "--headless",
            "--duration",
            str(duration_s),
            "--log-dir",
            str(tmp_path / "logs"),
            "--record",
            str(tmp_path / "live_rec"),
            *extra,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    events = [
        json.loads(line)
        for line in (tmp_path / "logs" / "live_console_events.jsonl").read_text().splitlines()
    ]
    return proc, events


def duration_for(manifests, lead: float = LEAD) -> float:
    last = manifests[-1]
    known = (last.resolution.known_at_ns or (last.window_end_s + 120) * 10**9) / 1e9
    # from the server's start (`lead` before the first frame) to the last resolution
    return known - manifests[0].window_start_s + lead + 30

"""`pk8opt compare --open-loop` on a planted run: the orders of a paper backtest on two
sample sessions, filled by the engine under hidden parameters and written as a real
run's log (tests/support/calibration.py). Under the engine's own parameters the paper
side must fill those orders exactly as the planted venue did; under another post
latency it must not. A paper run's log is refused in one line that names the fix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.calibration import write_planted_log
from support.paths import SAMPLE

from pk8opt.recordings.load import load_sessions

PK8 = [sys.executable, "-m", "pk8opt.cli", "compare"]
SLUGS = ("btc-updown-15m-1791986400", "eth-updown-15m-1791986400")


def _compare(*args: str, columns: int | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PM_", "PK8_", "COLUMNS"))}
    if columns is not None:
        env["COLUMNS"] = str(columns)
    return subprocess.run(
        [*PK8, *(str(SAMPLE / s) for s in SLUGS), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )


def _planted(root: Path, hidden: dict[str, Any], settings: dict[str, str] | None = None) -> Path:
    """A log folder holding the planted run's log (after a `live_started` naming
    `settings`, when given); its real fills are counted in `real_fills.json`."""
    logs = root / "logs"
    logs.mkdir(parents=True)
    log = logs / "live_console_events.jsonl"
    sessions = load_sessions([SAMPLE / s for s in SLUGS])
    assert write_planted_log(log, sessions, "balanced_arb", {}, hidden) > 200
    lines = log.read_text().splitlines()
    if settings is not None:
        start = {"event": "live_started", "ts_ns": 0, "slug": "", "config": settings}
        log.write_text("".join(f"{x}\n" for x in [json.dumps(start), *lines]))
    fills = sum(1 for x in lines if json.loads(x)["event"] == "real_fill")
    (root / "real_fills.json").write_text(json.dumps(fills))
    return logs


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if not all((SAMPLE / s).is_dir() for s in SLUGS):
        pytest.skip("no recordings/sample")
    root = tmp_path_factory.mktemp("openloop")
    return {
        "defaults": _planted(root / "defaults", {}),
        "slow": _planted(root / "slow", {"post_latency_ms": 400.0}),
        "logged": _planted(
            root / "logged",
            {"response_latency_ms": 120.0},
            {"PM_STRATEGY": "balanced_arb", "PM_PAPER_RESPONSE_LATENCY_MS": "120"},
        ),
    }


def _real_fills(logs: Path) -> int:
    return int(json.loads((logs.parent / "real_fills.json").read_text()))


def _json(logs: Path) -> dict[str, Any]:
    out = _compare("--log-dir", str(logs), "--open-loop", "--json")
    assert out.returncode == 0, out.stderr
    return dict(json.loads(out.stdout))


def test_the_engines_own_parameters_fill_every_order_as_the_venue_did(planted) -> None:
    logs = planted["defaults"]
    doc = _json(logs)
    total = doc["total"]
    n = _real_fills(logs)
    assert n > 10
    assert (total["matched"], total["real_only"], total["paper_only"]) == (n, 0, 0)
    matched = [m for w in doc["windows"] for m in w["matched"]]
    assert {m["dt_s"] for m in matched} == {0.0} and {m["qty_diff"] for m in matched} == {0.0}
    assert all(m["real"]["order_id"] == m["paper"]["order_id"] for m in matched)
    assert all(m["real"]["liquidity"] == m["paper"]["liquidity"] for m in matched)
    assert total["diff"]["cost"] == 0.0 and total["diff"]["pnl"] == 0.0
    for w in doc["windows"]:  # every order the run sent went through the engine
        assert w["orders"]["paper"] == w["orders"]["real"]
    side = doc["paper_side"]
    assert side["loop"] == "open" and "orders" in side["what"] and side["fill_time"]
    assert side["settings"] == ["the engine's defaults (the log names no settings)"]


def test_the_runs_logged_settings_are_the_ones_replayed(planted) -> None:
    doc = _json(planted["logged"])  # the venue heard fills 120 ms late, and the log says so
    total = doc["total"]
    assert total["matched"] == _real_fills(planted["logged"])
    assert (total["real_only"], total["paper_only"]) == (0, 0)
    assert {m["dt_s"] for w in doc["windows"] for m in w["matched"]} == {0.0}
    assert doc["paper_side"]["settings"] == ["the settings the run logged"]


def test_another_post_latency_shows_in_the_fills(planted) -> None:
    doc = _json(planted["slow"])  # the venue took orders 400 ms late; the engine: default
    total = doc["total"]
    assert total["real_only"] > 0 and total["paper_only"] > 0
    assert total["matched"] + total["real_only"] == _real_fills(planted["slow"])
    assert any(m["dt_s"] != 0.0 for w in doc["windows"] for m in w["matched"])


def test_the_table_says_which_paper_side_it_used(planted) -> None:
    out = _compare("--log-dir", str(planted["slow"]), "--open-loop", columns=80)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines and max(len(x) for x in lines) <= 80, out.stdout
    assert any(x.startswith("Paper side: open loop") for x in lines)
    assert any("real only" in x for x in lines) and any("paper only" in x for x in lines)


def test_a_paper_runs_log_is_refused_in_one_line(tmp_path: Path) -> None:
    start = {"event": "live_started", "ts_ns": 1, "slug": "", "config": {"PM_STRATEGY": "noop"}}
    found = {"event": "market_discovered", "ts_ns": 2, "slug": SLUGS[0], "traded": False}
    (tmp_path / "live_console_events.jsonl").write_text(
        "".join(json.dumps(x) + "\n" for x in (start, found))
    )
    out = _compare("--log-dir", str(tmp_path), "--open-loop", "--json")
    assert out.returncode == 1 and out.stdout == ""
    (line,) = out.stderr.strip().splitlines()
    assert line.startswith("error: ") and "no real_* events" in line
    assert "leave out --open-loop" in line

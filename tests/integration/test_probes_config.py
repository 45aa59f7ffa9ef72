"""Wrong input to the commands is one line naming what is wrong, before anything runs;
nothing runs on a default silently. Real commands on loopback, real files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from support.sessions import START

from pk8opt.fakepm.broken import closed_port
from pk8opt.fakepm.build import fixture_session

PK8 = [sys.executable, "-m", "pk8opt.cli"]


def pk8(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*PK8, *args], capture_output=True, text=True, timeout=600, cwd=cwd, env=env, check=False
    )


def _one_error_line(r: subprocess.CompletedProcess) -> str:
    assert r.returncode != 0, r.stdout
    assert "Traceback" not in r.stderr, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.mark.parametrize("value", ["nan", "-5", "inf"])
def test_simulate_a_parameter_out_of_range_is_one_line(tmp_path: Path, value: str) -> None:
    out = tmp_path / "sim"
    r = pk8("simulate", "--out", str(out), "--sessions", "1", "--symbols", "BTC",
            "--param", f"trade_rate={value}", cwd=tmp_path)  # fmt: skip
    line = _one_error_line(r)
    assert "trade_rate" in line and str(float(value)) in line and "[0, inf)" in line, line
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize("speed", ["nan", "inf", "0", "-2"])
def test_serve_a_speed_no_clock_runs_at_is_refused_before_it_serves(
    tmp_path: Path, fixtures_dir: Path, speed: str
) -> None:
    src = tmp_path / "src"
    fixture_session(src, fixtures_dir, "BTC", START, "5m")
    r = pk8("serve", str(src), "--now", "--speed", speed, "--port", "0", cwd=tmp_path)
    line = _one_error_line(r)
    assert line.startswith(f"error: --speed {float(speed)}") and "> 0" in line, line
    assert "export" not in r.stdout


def _live_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("PM_", "PK8_"))}


def test_an_unparsable_env_line_names_the_file_and_line_and_nothing_runs(tmp_path: Path) -> None:
    env_file = tmp_path / "my.env"
    env_file.write_text(
        'PM_STRATEGY=balanced_arb\nPM_WATCHLIST=BTC:15m\nPM_ARB_EDGE="0.03\nPM_DRY_RUN=1\n'
    )
    port = closed_port()
    logs = tmp_path / "logs"
    r = pk8("live", "--env-file", str(env_file), "--headless", "--duration", "1",
            "--log-dir", str(logs), "--gamma-url", f"http://127.0.0.1:{port}",
            "--clob-ws-url", f"ws://127.0.0.1:{port}", "--live-ws-url", f"ws://127.0.0.1:{port}",
            cwd=tmp_path, env=_live_env())  # fmt: skip
    line = _one_error_line(r)
    assert f"{env_file}:3:" in line and "PM_ARB_EDGE" in line and "0.03" not in line, line
    assert not logs.exists()  # it never started
    # backtest reads its --env-file the same way
    r = pk8("backtest", "--env-file", str(env_file), str(tmp_path / "none"), cwd=tmp_path)
    assert f"{env_file}:3:" in _one_error_line(r)


def _sweep_config(tmp: Path, sample: Path, text: str = "", **changes: object) -> Path:
    doc = {
        "study": "probe",
        "strategy": "balanced_arb",
        "space": {"edge": {"low": 0.01, "high": 0.05}},
        "data": {"paths": [str(sample)]},
        "trials": 1,
        **changes,
    }
    path = tmp / "c.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False) + text)
    return path


@pytest.mark.parametrize(
    ("changes", "text", "args", "want"),
    [
        ({"study": ""}, "", [], "c.yaml: study: empty"),
        ({}, "", ["--study-name", ""], "--study-name: empty"),
        ({}, "", ["--workers", "0"], "error: --workers 0: must be at least 1"),
        ({"strategy": "nosuch"}, "", [], "c.yaml: strategy: unknown strategy 'nosuch'; known: "),
        (
            {"fixed": {"min_price": 0.9, "max_price": 0.1}},
            "",
            [],
            "c.yaml: fixed.min_price: min_price 0.9 is above max_price 0.1",
        ),
        ({}, "trials: 5\n", [], "c.yaml: line {b}: trials: given twice (lines {a} and {b})"),
    ],
    ids=["empty-study", "empty-study-name", "workers-0", "strategy", "min-max", "duplicate"],
)
def test_sweep_config_mistakes_are_one_line_naming_where(
    tmp_path: Path, sample_dir: Path, changes: dict, text: str, args: list[str], want: str
) -> None:
    config = _sweep_config(tmp_path, sample_dir, text, **changes)
    stores = ["--storage", str(tmp_path / "j.journal"), "--tracking-uri", "sqlite:///m.db"]
    r = pk8("sweep", str(config.name), *stores, *args, cwd=tmp_path)
    line = _one_error_line(r)
    at = [i for i, x in enumerate(config.read_text().splitlines(), 1) if x.startswith("trials:")]
    assert want.format(a=at[0], b=at[-1]) in line, line
    assert "workers" not in line or "c.yaml" not in line
    assert not (tmp_path / "j.journal").exists()  # refused before any study was made


@pytest.mark.slow
def test_backtest_says_which_strategy_runs_and_refuses_an_empty_price_range(
    tmp_path: Path, sample_dir: Path
) -> None:
    session = str(next(iter(sorted(sample_dir.glob("btc-*")))))
    r = pk8("backtest", session, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "no strategy given" in r.stderr and "running noop" in r.stderr
    r = pk8("backtest", "-s", "balanced_arb", session, cwd=tmp_path)
    assert r.returncode == 0 and "no strategy given" not in r.stderr
    r = pk8("backtest", "-s", "balanced_arb", "--set", "min_price=0.9", "--set",
            "max_price=0.1", session, cwd=tmp_path)  # fmt: skip
    assert "min_price 0.9 is above max_price 0.1" in _one_error_line(r)

"""`pk8opt live` refuses bad settings with one line naming the variable, before connecting."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PK8OPT = [str(Path(sys.executable).parent / "pk8opt")]


def run_live(tmp_path: Path, env_text: str | None, *args: str, **env: str):
    env_file = tmp_path / ".env"
    if env_text is not None:
        env_file.write_text(env_text)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PM_", "PK8_"))}
    clean.update(env)
    # Endpoints nobody listens on: a run that got past the settings would fail to connect.
    return subprocess.run(
        [
            *PK8OPT,
            "live",
            "--env-file",
            str(env_file),
            "--headless",
            "--duration",
            "1",
            "--log-dir",
            str(tmp_path / "logs"),
            "--gamma-url",
            "http://127.0.0.1:9",
            "--clob-ws-url",
            "ws://127.0.0.1:9",
            "--live-ws-url",
            "ws://127.0.0.1:9",
            *args,
        ],
        capture_output=True,
        text=True,
        env=clean,
        timeout=60,
    )


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in proc.stderr
    return lines[0]


def test_missing_env_file(tmp_path: Path) -> None:
    line = one_error_line(run_live(tmp_path, None))
    assert ".env: no such .env file" in line and "deploy --best" in line


def test_real_orders_need_the_flag(tmp_path: Path) -> None:
    line = one_error_line(
        run_live(tmp_path, "PM_STRATEGY=balanced_arb\nPM_PAPER_TRADING=0\nPM_DRY_RUN=0\n")
    )
    assert "--real" in line and "real orders" in line


def test_the_flag_never_turns_paper_into_real(tmp_path: Path) -> None:
    line = one_error_line(run_live(tmp_path, "PM_STRATEGY=balanced_arb\n", "--real"))
    assert "--real needs PM_PAPER_TRADING=0 and PM_DRY_RUN=0" in line


def test_a_half_set_real_mode_from_the_environment_is_named(tmp_path: Path) -> None:
    proc = run_live(tmp_path, "PM_STRATEGY=balanced_arb\n", PM_DRY_RUN="0")
    assert "PM_DRY_RUN=0 with PM_PAPER_TRADING=1" in one_error_line(proc)


@pytest.mark.parametrize(
    ("text", "var"),
    [
        ("PM_WATCHLIST=BTC:15m\n", "PM_STRATEGY"),
        ("PM_STRATEGY=balanced_arb\nPM_WATCHLIST=DOGE:15m\n", "PM_WATCHLIST"),
        ("PM_STRATEGY=balanced_arb\nPM_TRADELIST=ETH:15m\n", "PM_TRADELIST"),
        ("PM_STRATEGY=balanced_arb\nPM_TRADE_ENABLED=perhaps\n", "PM_TRADE_ENABLED"),
        ("PM_STRATEGY=no_such_strategy\n", "PM_STRATEGY"),
    ],
)
def test_bad_settings_name_the_variable(tmp_path: Path, text: str, var: str) -> None:
    assert var in one_error_line(run_live(tmp_path, text))


def test_backtest_log_dir_writes_the_logs_live_writes(tmp_path: Path, sample_dir: Path) -> None:
    import json

    session = sorted(p for p in sample_dir.iterdir() if p.is_dir())[0]
    out = tmp_path / "replay"
    proc = subprocess.run(
        [*PK8OPT, "backtest", str(session), "-s", "balanced_arb", "--log-dir", str(out)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(x) for x in (out / "live_console_events.jsonl").read_text().splitlines()]
    fills = [e for e in events if e["event"] == "paper_fill"]
    metrics = [
        json.loads(x)
        for x in (out / "paper" / "metrics" / "backtest.jsonl").read_text().splitlines()
    ]
    assert fills and len(metrics) == len(fills)
    for fill, line in zip(fills, metrics, strict=True):
        assert (line["ts_ns"], line["order_id"], line["qty"], line["price"]) == (
            fill["ts_ns"],
            fill["order_id"],
            fill["qty"],
            fill["price"],
        )
        assert line["token"] == fill["outcome"] and line["liquidity"] == fill["liquidity"]
    pairs = [m for m in metrics if m["pair_cost"] is not None]
    assert pairs and all(0.0 < m["pair_cost"] < 2.0 for m in pairs)
    last = metrics[-1]
    assert last["paired_shares"] == min(last["pos_up"], last["pos_down"])

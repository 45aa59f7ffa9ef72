"""Backtests over the committed sample sessions: drives agree, the CLI works end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pk8opt.backtest.replay import run_session
from pk8opt.strategies import get_strategy
from pk8opt.trading.run_config import RunConfig


@pytest.fixture(scope="module")
def samples(sample_dir: Path):  # type: ignore[no-untyped-def]
    if not sample_dir.is_dir():
        pytest.skip("no recordings/sample")
    from pk8opt.recordings.load import load_sessions

    sessions = [
        s for s in load_sessions([sample_dir]) if s.manifest.resolution.outcome != "unknown"
    ]
    if not sessions:
        pytest.skip("no resolved sample sessions")
    return sessions


CONFIGS = [
    ("balanced_arb", {}),
    (
        "balanced_arb",
        {
            "edge": 0.0,
            "maker_flow": True,
            "queue_add_ahead_frac": 0.2,
            "requote_min_ticks": 1,
            "min_requote_seconds": 0.2,
        },
    ),
    ("fixed", {"up_price": 0.5, "down_price": 0.48, "size": 20.0}),
]


@pytest.mark.slow
@pytest.mark.parametrize(("strategy", "overrides"), CONFIGS)
def test_fast_replay_equals_event_by_event_on_samples(samples, strategy, overrides) -> None:  # type: ignore[no-untyped-def]
    config = RunConfig.resolve(strategy, overrides)
    cls = get_strategy(strategy)
    for session in samples[:6]:
        fast = run_session(session, cls(**config.strategy_params), config, mode="fast")
        slow = run_session(
            session, cls(**config.strategy_params), config, mode="events", skip_unchanged=False
        )
        a, b = fast.to_dict(), slow.to_dict()
        a.pop("strategy_calls"), b.pop("strategy_calls")
        assert a == b
        assert (fast.equity_t, fast.equity_v) == (slow.equity_t, slow.equity_v)


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from pk8opt.cli import main; main()", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


@pytest.mark.slow
def test_cli_backtest_json_plot_env_and_log(samples, sample_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env = tmp_path / ".env"
    env.write_text("PM_STRATEGY=balanced_arb\nPM_ARB_EDGE=0.01\n")
    one = samples[0].path
    plot = tmp_path / "eq.png"
    log = tmp_path / "events.jsonl"
    r = _cli(
        "backtest",
        "--env-file",
        str(env),
        "--set",
        "size=12",
        "--json",
        "--plot",
        str(plot),
        "--event-log",
        str(log),
        str(one),
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["strategy"] == "balanced_arb"
    assert out["config"]["PM_ARB_EDGE"] == "0.01" and out["config"]["PM_ARB_SIZE"] == "12.0"
    assert out["aggregate"]["sessions"] == 1
    assert plot.read_bytes()[:4] == b"\x89PNG"
    assert all(
        json.loads(line)["event"].startswith("paper_") for line in log.read_text().splitlines()
    )
    table = _cli("backtest", "-s", "fixed", str(one))
    assert table.returncode == 0 and "fixed" in table.stdout


@pytest.mark.slow
def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    r = _cli("backtest", "--env-file", str(tmp_path / "nope.env"), str(tmp_path))
    assert r.returncode == 1 and "nope.env" in r.stderr and "Traceback" not in r.stderr
    r = _cli("backtest", "--set", "bogus=1", str(tmp_path))
    assert r.returncode == 1 and "bogus" in r.stderr and "Traceback" not in r.stderr

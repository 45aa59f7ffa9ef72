"""`pk8opt simulate` as a user runs it: a real process, real files, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pk8opt.recordings.catalog import find_sessions
from pk8opt.recordings.manifest import read_manifest

PK8OPT = [sys.executable, "-c", "from pk8opt.cli import main; main()"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PK8OPT, *args], capture_output=True, text=True, timeout=120)


def test_simulate_writes_consecutive_sessions_per_symbol(tmp_path: Path) -> None:
    res = run(
        "simulate", "--out", str(tmp_path), "--sessions", "2", "--symbols", "btc,ETH",
        "--seed", "4", "--start", "2026-10-05T10:07:00Z",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    folders = find_sessions([tmp_path])
    assert sorted(f.name for f in folders) == [
        "btc-updown-15m-1791194400",
        "btc-updown-15m-1791195300",
        "eth-updown-15m-1791194400",
        "eth-updown-15m-1791195300",
    ]
    for f in folders:
        m = read_manifest(f)
        assert m.source == "simulated" and m.status == "complete" and m.frames > 1000
    assert "4 session(s)" in res.stdout


def test_same_command_twice_gives_the_same_files(tmp_path: Path) -> None:
    for sub in ("a", "b"):
        res = run("simulate", "--out", str(tmp_path / sub), "--sessions", "1",
                  "--symbols", "XRP", "--seed", "9", "--start", "1791194400")  # fmt: skip
        assert res.returncode == 0, res.stderr
    a = tmp_path / "a/xrp-updown-15m-1791194400/frames.jsonl.gz"
    b = tmp_path / "b/xrp-updown-15m-1791194400/frames.jsonl.gz"
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--symbols", "BTC,DOGE"], "--symbols: 'DOGE' is not one of"),
        (["--symbols", ","], "--symbols: give at least one"),
        (["--sessions", "0"], "--sessions: 0 is not between 1 and 10000"),
        (["--sessions", "-3"], "--sessions: -3 is not between 1 and 10000"),
        (["--sessions", "many"], "--sessions: 'many' is not a whole number"),
        (["--seed", "1.5"], "--seed: '1.5' is not a whole number"),
        (["--start", "next tuesday"], "--start: 'next tuesday' is neither"),
        (["--timeframe", "1h"], "timeframe '1h' is not one of"),
        (["--param", "trade_rate"], "--param 'trade_rate': expected NAME=VALUE"),
        (["--param", "trade_rate=fast"], "'fast' is not a number"),
        (["--preset", "loud"], "--preset: 'loud' is not one of default, edge"),
        (["--param", "symbol_correlation=2"], "symbol_correlation: 2.0 is not in [0, 1]"),
    ],
)
def test_bad_arguments_are_one_clear_line(tmp_path: Path, args: list[str], message: str) -> None:
    res = run("simulate", "--out", str(tmp_path), *args)
    assert res.returncode == 1
    assert message in res.stderr
    assert "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())


def test_simulated_sessions_load_and_pass_the_recordings_check(tmp_path: Path) -> None:
    import numpy as np

    from pk8opt.recordings.load import load_session
    from pk8opt.recordings.schema import UP, Kind, Underlying

    res = run("simulate", "--out", str(tmp_path), "--sessions", "1", "--symbols", "SOL,XRP",
              "--seed", "12")  # fmt: skip
    assert res.returncode == 0, res.stderr
    check = run("recordings", "check", str(tmp_path))
    assert check.returncode == 0, check.stdout + check.stderr
    for folder in find_sessions([tmp_path]):
        s = load_session(folder)
        kinds = set(np.unique(s.events["kind"]).tolist())
        assert {Kind.BOOK_RESET, Kind.LEVEL, Kind.TRADE, Kind.TICK_SIZE, Kind.RESOLVED} <= kinds
        resolved = s.events["token"][s.events["kind"] == Kind.RESOLVED]
        assert (resolved[0] == UP) == (s.manifest.resolution.outcome == "Up")
        sources = set(np.unique(s.underlying["source"]).tolist())
        assert sources == {Underlying.BINANCE, Underlying.CHAINLINK}
        assert set(s.problems) <= {"text"}  # the PONG frames, skipped and counted


def test_committed_samples_pass_the_recordings_check(sample_dir: Path) -> None:
    check = run("recordings", "check", str(sample_dir))
    assert check.returncode == 0, check.stdout + check.stderr


def test_balanced_arb_earns_on_the_edge_preset_and_not_on_the_plain_market(
    tmp_path: Path,
) -> None:
    """The same windows and price paths, with and without the uninformed sellers: inside
    EDGE_PRESET_REGION balanced_arb makes money only where they trade."""
    import json

    from pk8opt.simulate import in_edge_region

    params = {"edge": 0.02, "join_ticks": -3}
    assert in_edge_region(params)
    pnl = {}
    for name in ("edge", "default"):
        res = run("simulate", "--out", str(tmp_path / name), "--preset", name, "--sessions", "3",
                  "--symbols", "ETH", "--seed", "3", "--start", "1791194400")  # fmt: skip
        assert res.returncode == 0, res.stderr
        sets = [a for k, v in params.items() for a in ("--set", f"{k}={v}")]
        bt = run("backtest", "-s", "balanced_arb", *sets, "--json", str(tmp_path / name))
        assert bt.returncode == 0, bt.stderr
        pnl[name] = json.loads(bt.stdout)["aggregate"]["pnl_usdc"]
    # measured: +31.6 and -13.4 USDC over these 3 sessions (docs/simulator.md has more)
    assert pnl["edge"] > 10.0, pnl
    assert pnl["default"] < 0.0, pnl

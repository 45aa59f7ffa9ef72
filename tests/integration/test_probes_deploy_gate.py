"""`pk8opt deploy` as a trader types it: a --force reason is words (an option taken for
the reason is refused), a dry run never writes and previews the .env even when the gate
refuses, and the deployed .env trades the markets the sweep scored, which `pk8opt live`
then runs (and warns when told to trade another). Real commands, real files."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import yaml
from support.deploy import CREDS, verdict

from pk8opt.live.keys import read_env_file
from pk8opt.sweep.study import make_storage
from pk8opt.sweep.study_meta import StudyMeta, write_meta
from pk8opt.validation import record
from pk8opt.validation.gate import EXIT_REFUSED

PK8 = [sys.executable, "-m", "pk8opt.cli"]
MARKETS = "BTC:15m,ETH:15m,SOL:15m,XRP:15m"


def pk8(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*PK8, *args], capture_output=True, text=True, timeout=900, cwd=cwd, env=env, check=False
    )


def _study(tmp: Path, failing: tuple[str, ...]) -> list[str]:
    """A balanced_arb study as a sweep leaves it, its verdict failing `failing`: the
    store options of `deploy`."""
    journal = str(tmp / "optuna.journal")
    study = optuna.create_study(study_name="arb", storage=make_storage(journal))
    meta = StudyMeta("balanced_arb", [("maximize", "pnl_usdc")], n_in_sample=4)
    write_meta(study, meta)
    for value in (1.0, 5.0):
        t = study.ask({"edge": optuna.distributions.FloatDistribution(0.002, 0.08)})
        study.tell(t, value)
    record.save(make_storage(journal), "arb", verdict(chosen=1, failing=failing))
    return ["--storage", journal, "--tracking-uri", f"sqlite:///{tmp / 'none.db'}"]


def _unchanged(tmp: Path, env_file: Path) -> None:
    assert env_file.read_text() == CREDS
    assert list(tmp.glob(".env.bak-*")) == []


def test_force_followed_by_an_option_is_refused_not_taken_as_the_reason(tmp_path: Path) -> None:
    stores = _study(tmp_path, failing=("dsr",))
    env_file = tmp_path / ".env"
    env_file.write_text(CREDS)
    r = pk8("deploy", "--best", "--force", "--dry-run", *stores, cwd=tmp_path)
    assert r.returncode != 0, r.stdout
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "--force" in lines[0] and "'--dry-run'" in lines[0], r.stderr
    assert "FORCED" not in r.stdout
    _unchanged(tmp_path, env_file)
    # a reason, then --dry-run: previewed, not written
    r = pk8("deploy", "--best", "--force", "paper test", "--dry-run", *stores, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "+# FORCED past failing validation: paper test" in r.stdout
    assert f"dry run: {env_file.name} not written" in r.stdout
    _unchanged(tmp_path, env_file)


def test_dry_run_on_a_failing_verdict_shows_the_diff_and_the_refusal(tmp_path: Path) -> None:
    stores = _study(tmp_path, failing=("oos_t", "pbo"))
    env_file = tmp_path / ".env"
    env_file.write_text(CREDS)
    r = pk8("deploy", "--best", "--dry-run", "--env-file", str(env_file), *stores, cwd=tmp_path)
    assert r.returncode == EXIT_REFUSED, r.stderr
    assert "+PM_STRATEGY=balanced_arb" in r.stdout and "+PM_ARB_EDGE=" in r.stdout
    assert "export POLY_API_SECRET=***" in r.stdout and "s e c" not in r.stdout  # masked
    assert f"dry run: {env_file} not written" in r.stdout
    assert "not deployed, validation fails: oos_t, pbo" in r.stderr
    _unchanged(tmp_path, env_file)
    # the same as JSON: the refusal and what would be written
    r = pk8("deploy", "--best", "--dry-run", "--json", *stores, cwd=tmp_path)
    assert r.returncode == EXIT_REFUSED, r.stderr
    doc = json.loads(r.stdout)
    assert doc["deployed"] is False and [c["name"] for c in doc["failing_checks"]] == [
        "oos_t",
        "pbo",
    ]
    assert doc["would_write"]["env"]["PM_STRATEGY"] == "balanced_arb"
    # without --dry-run: refused, nothing shown as if written
    r = pk8("deploy", "--best", "--env-file", str(env_file), *stores, cwd=tmp_path)
    assert r.returncode == EXIT_REFUSED and "+PM_STRATEGY" not in r.stdout
    _unchanged(tmp_path, env_file)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when this returns: nothing listens


def _live(tmp: Path, env_file: Path, **pm: str) -> tuple[subprocess.CompletedProcess, dict]:
    """`pk8opt live --headless` for a second against a venue that is not there (loopback
    ports nobody listens on): its `live_started` event."""
    port = _closed_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PM_", "PK8_"))}
    logs = tmp / f"logs{len(pm)}"
    r = subprocess.run(
        [*PK8, "live", "--env-file", str(env_file), "--headless", "--duration", "1"]
        + ["--log-dir", str(logs), "--gamma-url", f"http://127.0.0.1:{port}"]
        + ["--clob-ws-url", f"ws://127.0.0.1:{port}", "--live-ws-url", f"ws://127.0.0.1:{port}"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp,
        env={**env, **pm},
        check=False,
    )
    events = [json.loads(x) for x in (logs / "live_console_events.jsonl").read_text().splitlines()]
    (started,) = [e for e in events if e.get("event", e.get("name")) == "live_started"]
    return r, started


@pytest.mark.slow
def test_the_deployed_env_trades_the_markets_the_sweep_scored(
    tmp_path: Path, sample_dir: Path
) -> None:
    config = {
        "study": "markets",
        "strategy": "balanced_arb",
        "space": {"edge": {"low": 0.002, "high": 0.08, "log": True}},
        "data": {"paths": [str(sample_dir)], "symbols": []},  # every symbol of the sample
        "sampler": {"type": "random", "seed": 5},
        "pruner": {"type": "none"},
        "trials": 2,
        "workers": 1,
    }
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    stores = ["--storage", str(tmp_path / "optuna.journal")]
    stores += ["--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}"]
    r = pk8("sweep", "c.yaml", *stores, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    env_file = tmp_path / ".env"
    r = pk8("deploy", "--best", "--force", "paper test", *stores, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    env = read_env_file(env_file)
    assert env["PM_WATCHLIST"] == env["PM_TRADELIST"] == MARKETS
    assert env["PM_VALIDATED_MARKETS"] == MARKETS
    assert f"# markets: {MARKETS}" in env_file.read_text()

    r, started = _live(tmp_path, env_file)
    assert r.returncode == 0, r.stderr[-3000:]
    assert started["watchlist"] == started["tradelist"] == MARKETS
    assert "never saw" not in r.stderr
    # told to trade a market the study never saw: said so before it starts
    r, started = _live(tmp_path, env_file, PM_WATCHLIST="BTC:5m,ETH:15m", PM_TRADELIST="BTC:5m")
    assert r.returncode == 0, r.stderr[-3000:]
    assert started["tradelist"] == "BTC:5m"
    (warning,) = [x for x in r.stderr.splitlines() if "never saw" in x]
    assert (
        warning.startswith("warning: ") and "BTC:5m" in warning and MARKETS.split(",")[0] in warning
    )

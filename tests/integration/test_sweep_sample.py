"""The real sweep over the sample recordings: real backtests in two loky workers, a real
Optuna journal and a real MLflow store in a temp folder, then deploy and round trip."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
from mlflow import MlflowClient
from rich.console import Console

from pk8opt.backtest.replay import run_backtest
from pk8opt.deploy.trial import deploy_trial
from pk8opt.errors import DataSelectionError
from pk8opt.live.keys import read_env_file
from pk8opt.pipeline.run import run_sweep
from pk8opt.recordings.load import load_sessions
from pk8opt.sweep.config import parse_config
from pk8opt.sweep.study import make_storage
from pk8opt.trading.run_config import RunConfig
from pk8opt.validation import record as verdict_record

pytestmark = pytest.mark.slow


def _doc(tmp: Path, sample: Path, **changes) -> dict:
    doc = {
        "study": "sample-test",
        "strategy": "balanced_arb",
        "fixed": {"stop_before_end_seconds": 60},
        "space": {
            "edge": {"low": 0.002, "high": 0.08, "log": True},
            "size": {"low": 5, "high": 30, "step": 5},
            "join_ticks": {"low": -3, "high": 1},
        },
        "data": {
            "paths": [str(sample)],
            "symbols": ["BTC", "ETH"],
            "holdout": {"fraction": 0.2},
        },
        "engine": {"seed": 1},
        "objective": {"metric": "pnl_usdc", "direction": "maximize"},
        "sampler": {"type": "tpe", "seed": 7, "startup_trials": 4},
        "pruner": {"type": "median", "startup_trials": 3, "warmup_windows": 2},
        "trials": 8,
        "workers": 2,
        "storage": str(tmp / "exp" / "optuna.journal"),
        "mlflow": {"tracking_uri": f"sqlite:///{tmp / 'exp' / 'mlflow.db'}"},
    }
    doc.update(changes)
    return doc


def test_sweep_deploy_round_trip(tmp_path: Path, sample_dir: Path) -> None:
    cfg = parse_config(_doc(tmp_path, sample_dir), "t.yaml")
    out = run_sweep(cfg, "t.yaml", console=Console(quiet=True), experiments_dir=tmp_path / "exp")
    study = optuna.load_study(study_name="sample-test", storage=make_storage(cfg.storage_url()))
    trials = study.get_trials()
    assert len(trials) == 8
    assert all(t.state.name in ("COMPLETE", "PRUNED") for t in trials)
    client = MlflowClient(tracking_uri=cfg.tracking_uri())
    exp = client.get_experiment_by_name("sample-test")
    runs = client.search_runs([exp.experiment_id], max_results=100)
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == out.parent_run_id]
    assert sorted(int(r.data.tags["pk8opt.trial"]) for r in children) == list(range(8))
    # each complete trial's run reports what filled its orders and how the market moved
    complete = {str(t.number) for t in trials if t.state.name == "COMPLETE"}
    quality = {"fills_queue", "fills_book_through", "fills_after_cancel", "markout_10s"}
    done = [r for r in children if r.data.tags["pk8opt.trial"] in complete]
    assert done and all(quality <= r.data.metrics.keys() for r in done)
    arts = {a.path for a in client.list_artifacts(out.parent_run_id)}
    assert {"best_equity.png", "best_sessions.json", "trials_x_windows.csv"} <= arts
    assert {"validation.md", "pbo_logits.png"} <= arts
    # two symbols, eight windows, one held out (a fifth of 8, rounded): every finished
    # trial keeps its 14 sessions
    for t in trials:
        pnl = t.user_attrs["sessions"]["session_pnl"]
        assert len(pnl) == 14
        if t.state.name == "COMPLETE":
            assert None not in pnl and sum(pnl) == pytest.approx(
                t.user_attrs["metrics"]["pnl_usdc"]
            )

    env_file = tmp_path / ".env"
    env_file.write_text("POLY_API_KEY=keep-me\n# a note\nPM_ARB_EDGE=0.9\n")
    # the sample has no edge: validation fails, so only a forced deploy writes the file
    assert out.verdict is not None and out.verdict.startswith("fail: ")
    dep = deploy_trial(
        env_file,
        storage=cfg.storage_url(),
        tracking_uri=cfg.tracking_uri(),
        force="round trip test",
    )
    best = [t for t in trials if t.number == out.chosen][0]
    assert dep.trial == best.number and dep.forced
    assert dep.run_id is not None and client.get_run(dep.run_id).data.tags["pk8opt.trial"] == str(
        best.number
    )
    text = env_file.read_text()
    assert text.startswith("POLY_API_KEY=keep-me\n# a note\n")
    assert dep.backup is not None and dep.backup.read_text().endswith("PM_ARB_EDGE=0.9\n")
    env = read_env_file(env_file)
    assert env["POLY_API_KEY"] == "keep-me"
    assert env["PM_STRATEGY"] == "balanced_arb"
    # the deployed file reproduces the trial's in-sample result exactly
    record = Path(client.download_artifacts(out.parent_run_id, "study.json", str(tmp_path)))
    sessions = load_sessions([Path(p) for p in json.loads(record.read_text())["in_sample_paths"]])
    result = run_backtest(sessions, RunConfig.from_env(env))
    full = (verdict_record.load(make_storage(cfg.storage_url()), "sample-test") or {})[
        "chosen_in_sample_pnl_usdc"
    ]
    assert result.aggregate["pnl_usdc"] == pytest.approx(full, abs=1e-9)
    if best.state.name == "PRUNED":  # pruned in the search, replayed in full by validation
        return
    assert result.aggregate["pnl_usdc"] == best.value
    stored = best.user_attrs["metrics"]  # the aggregate, and the figures per window
    assert {k: stored[k] for k in result.aggregate} == result.aggregate
    assert set(stored) - set(result.aggregate) == {
        "pnl_per_window",
        "median_pnl_per_window",
        "sharpe_per_window",
        "sortino_per_window",
        "windows",
        "active_windows",
    }


def test_selection_matching_nothing_stops_before_work(tmp_path: Path, sample_dir: Path) -> None:
    cfg = parse_config(
        _doc(tmp_path, sample_dir, data={"paths": [str(sample_dir)], "symbols": ["DOGE"]}), "t.yaml"
    )
    with pytest.raises(DataSelectionError, match="t.yaml: data.symbols: no session for DOGE"):
        run_sweep(cfg, "t.yaml", console=Console(quiet=True), experiments_dir=tmp_path / "exp")
    assert not (tmp_path / "exp" / "optuna.journal").exists()


def test_the_commands_a_sweep_prints_work_as_printed(tmp_path: Path, sample_dir: Path) -> None:
    """`pk8opt sweep` on the shipped config with other stores, then the deploy command it
    prints at the end, pasted as printed."""
    import shlex
    import subprocess
    import sys

    repo = sample_dir.parents[1]
    exp = tmp_path / "exp"
    base = [sys.executable, "-m", "pk8opt.cli"]
    sweep = subprocess.run(
        [
            *base,
            "sweep",
            "configs/balanced_arb.yaml",
            "--trials",
            "6",
            "--workers",
            "1",
            "--storage",
            str(exp / "o.journal"),
            "--tracking-uri",
            f"sqlite:///{exp / 'm.db'}",
        ],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert sweep.returncode == 0, sweep.stderr[-3000:]
    lines = sweep.stdout.splitlines()
    assert f"browse the trials:   pk8opt ui --tracking-uri sqlite:///{exp / 'm.db'}" in lines
    # the sweep ends with the verdict table; the sample has no edge, so it fails
    assert any(ln.split()[:1] == ["prob_oos_loss"] for ln in lines), sweep.stdout[-3000:]
    assert any(ln.startswith("verdict: fail: ") for ln in lines)
    (said,) = [ln for ln in lines if ln.startswith("nothing to deploy: trial ")]
    deploy = said.split("`")[1]
    args = shlex.split(deploy)
    assert args[:3] == ["pk8opt", "deploy", "--best"]
    env_file = tmp_path / ".env"
    args[args.index("--env-file") + 1] = str(env_file)
    dry = subprocess.run(
        [*base, *args[1:], "--dry-run"], cwd=repo, capture_output=True, text=True, timeout=120
    )
    assert dry.returncode == 3, dry.stderr[-3000:]
    failing = [ln.split()[0] for ln in lines if ln.rstrip().endswith(" FAIL")]
    assert failing, sweep.stdout[-3000:]
    for name in failing:  # one table row per failing check, then one error line
        assert any(
            ln.split()[:1] == [name] and ln.rstrip().endswith("FAIL")
            for ln in dry.stderr.splitlines()
        ), dry.stderr
    assert "Traceback" not in dry.stderr and not env_file.exists()
    forced = subprocess.run(
        [*base, *args[1:], "--force", "checking the runner on paper"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert forced.returncode == 0, forced.stderr[-3000:]
    text = env_file.read_text()
    assert "PM_STRATEGY=balanced_arb" in text
    assert "# FORCED past failing validation: checking the runner on paper" in text
    client = MlflowClient(tracking_uri=f"sqlite:///{exp / 'm.db'}")
    parent = client.search_runs(
        [client.get_experiment_by_name("balanced_arb-sample").experiment_id],
        filter_string="tags.`pk8opt.role` = 'sweep'",
    )[0]
    assert parent.data.tags["pk8opt.deploy_override"].startswith("checking the runner on paper")

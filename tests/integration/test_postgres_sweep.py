"""Several `pk8opt sweep` processes (standing in for machines) on one study in a real
PostgreSQL: a throwaway cluster started by the test session (tests/support/pgcluster.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import yaml
from mlflow import MlflowClient
from support.fake_sweep import SCRIPT, make_sessions
from support.paths import TESTS

from pk8opt.sweep.study import make_storage
from pk8opt.tracking import store_uri
from pk8opt.validation import record

pytestmark = pytest.mark.slow


def _config(tmp: Path, sample: Path, trials: int) -> Path:
    doc = {
        "study": "pg-sample",
        "strategy": "balanced_arb",
        "fixed": {"stop_before_end_seconds": 60},
        "space": {
            "edge": {"low": 0.002, "high": 0.08, "log": True},
            "size": {"low": 5, "high": 30, "step": 5},
            "join_ticks": {"low": -3, "high": 1},
        },
        "data": {
            "paths": [str(sample)],
            "symbols": ["BTC"],
            "holdout": {"fraction": 0.4},
        },
        "engine": {"seed": 1},
        "objective": {"metric": "pnl_usdc", "direction": "maximize"},
        "sampler": {"type": "tpe", "seed": 42, "startup_trials": 4},  # the same in each
        "pruner": {"type": "none"},
        "trials": trials,
        "workers": 1,
    }
    path = tmp / "sweep.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _cli(*args: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "pk8opt.cli", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("processes", [2, 3])
def test_sweeps_started_together_on_an_empty_database(
    tmp_path: Path, sample_dir: Path, pg_cluster, processes: int
) -> None:
    """N machines start the same sweep at the same moment on empty databases: the exact
    budget, no parameter set twice, one parent run holding every trial once, validation
    run once, the artifacts in the shared root; then a deploy from a third directory."""
    optuna_url = pg_cluster.create_database(f"optuna_{processes}")
    mlflow_url = pg_cluster.create_database(f"mlflow_{processes}")
    shared = tmp_path / "shared-artifacts"
    trials = 3 * processes
    config = _config(tmp_path, sample_dir, trials)
    stores = ["--storage", optuna_url, "--tracking-uri", mlflow_url]
    procs = []
    for i in range(processes):
        machine = tmp_path / f"machine{i}"
        machine.mkdir()
        procs.append(_cli("sweep", str(config), *stores, "--artifacts", str(shared), cwd=machine))
    outs = [p.communicate(timeout=900) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-3000:]
        assert "Traceback" not in err and "View run" not in out, err[-3000:]

    study = optuna.load_study(study_name="pg-sample", storage=make_storage(optuna_url))
    held = study.get_trials()
    assert len(held) == trials and all(t.state.name == "COMPLETE" for t in held)
    param_sets = {tuple(sorted(t.params.items())) for t in held}
    assert len(param_sets) == trials  # no two processes drew the same parameters

    client = MlflowClient(tracking_uri=store_uri(mlflow_url))
    exp = client.get_experiment_by_name("pg-sample")
    assert exp.artifact_location == shared.as_uri()
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    (parent,) = [r for r in runs if r.data.tags.get("pk8opt.role") == "sweep"]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(runs) == 1 + trials
    assert sorted(int(r.data.tags["pk8opt.trial"]) for r in children) == list(range(trials))
    assert client.get_run(parent.info.run_id).info.status == "FINISHED"
    # each trial names its run (minted by the worker of whichever process ran it)
    by_number = {int(r.data.tags["pk8opt.trial"]): r.info.run_id for r in children}
    assert {t.number: t.user_attrs["mlflow_run_id"] for t in held} == by_number

    # validation ran once, by one process; every metric point is there once
    assert sum("\nvalidating: " in "\n" + out for out, _ in outs) == 1, [o for o, _ in outs]
    parent_run = client.get_run(parent.info.run_id)
    assert parent_run.data.metrics  # the verdict's figures
    for run in [parent_run, *children[:3]]:
        for key in run.data.metrics:
            points = client.get_metric_history(run.info.run_id, key)
            assert len(points) == len({p.step for p in points}), (key, points)
    arts = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"validation.md", "trials_x_windows.csv", "config.yaml"} <= arts
    assert (shared / parent.info.run_id / "artifacts" / "validation.md").is_file()

    deployer = tmp_path / "deployer"  # a third directory, with no local store at all
    deployer.mkdir()
    done = _cli(
        "deploy", "--best", "--study", "pg-sample", *stores, "--force", "a test", cwd=deployer
    )  # the sample has no edge: validation fails, a forced deploy still names the trial
    out, err = done.communicate(timeout=300)
    assert done.returncode == 0, err[-3000:]
    env = (deployer / ".env").read_text()
    assert "PM_STRATEGY=balanced_arb" in env
    rec = record.load(make_storage(optuna_url), "pg-sample")
    assert rec is not None
    chosen = rec["chosen_trial"]
    (chosen_run,) = [r for r in children if r.data.tags["pk8opt.trial"] == str(chosen)]
    assert chosen_run.info.run_id in env
    assert not any(
        p.exists() for p in (deployer / "experiments", deployer / "mlruns")
    )  # nothing local was created


def test_a_process_killed_mid_trial_has_its_trial_run_again(
    tmp_path: Path, pg_database: str, pg_mlflow: str
) -> None:
    """A sweep process is killed (with its workers) while its trial runs; another
    process on the study finds the trial's heartbeat stopped, fails it, runs its
    parameters again, and finishes the exact budget."""
    make_sessions(tmp_path / "rec")
    changes = {
        "storage": pg_database,
        "mlflow": {"tracking_uri": pg_mlflow},
        "workers": 1,
        "pruner": {"type": "none"},
    }
    script = SCRIPT.format(tests=str(TESTS), tmp=str(tmp_path), trials=4, changes=changes)
    # the workers import support.fake_sweep: os.environ's PYTHONPATH has tests/ (conftest.py)
    env = {**os.environ, "PK8OPT_HEARTBEAT_S": "1"}
    doomed = subprocess.Popen(
        [sys.executable, "-c", script],
        env={**env, "FAKE_GATE": str(tmp_path / "never")},  # its trial never ends
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    storage = None
    running: list = []
    deadline = time.time() + 300
    while time.time() < deadline and not running:
        assert doomed.poll() is None, doomed.communicate()[1][-2000:]
        try:
            storage = storage or make_storage(pg_database)
            study = optuna.load_study(study_name="toy", storage=storage)
            running = [t for t in study.get_trials() if t.state.name == "RUNNING"]
        except KeyError:  # no study yet
            pass
        time.sleep(0.2)
    assert running, "the first process never started a trial"
    os.killpg(doomed.pid, signal.SIGKILL)  # the process and its workers, mid-trial
    doomed.communicate(timeout=60)

    rescuer = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600
    )
    assert rescuer.returncode == 0 and "DONE" in rescuer.stdout, rescuer.stderr[-3000:]
    study = optuna.load_study(study_name="toy", storage=make_storage(pg_database))
    trials = study.get_trials()
    (lost,) = [t for t in trials if t.number == running[0].number]
    assert lost.state.name == "FAIL"
    (again,) = [t for t in trials if t.system_attrs.get("failed_trial") == lost.number]
    assert again.state.name in ("COMPLETE", "FAIL") and again.params == lost.params
    counted = [t for t in trials if t.number != lost.number]
    assert len(counted) == 4 and all(t.state.name != "RUNNING" for t in trials)

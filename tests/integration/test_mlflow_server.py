"""A sweep tracked on a real `mlflow server` (the several-machines setup): each trial
carries the id of its run, opened by the worker as the trial starts and written by the
main process when it ends; one run per trial, none left as a placeholder."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import optuna
import pytest
from mlflow import MlflowClient
from rich.console import Console
from support.fake_sweep import EVALUATOR, config_doc, make_sessions

from pk8opt.deploy.trial import deploy_trial
from pk8opt.pipeline.run import run_sweep
from pk8opt.sweep.config import parse_config
from pk8opt.sweep.study import make_storage
from pk8opt.tracking import PARENT, RUN_ID_ATTR, TRIAL, param_text
from pk8opt.tracking._tracker import PLACEHOLDER

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    log = (tmp / "server.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            f"sqlite:///{tmp / 'backend.db'}",
            "--artifacts-destination",
            str(tmp / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],  # fmt: skip
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300  # the server's start, on a loaded machine
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"mlflow server exited: {(tmp / 'server.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("mlflow server did not answer /health")
            time.sleep(0.2)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def test_each_trial_carries_its_run_on_a_tracking_server(server: str, tmp_path: Path) -> None:
    make_sessions(tmp_path / "rec")
    # one worker: the seeded sampler's trials (failed ones among them) do not depend on
    # timing; edges above 0.07 fail in the stand-in evaluator
    doc = config_doc(tmp_path, trials=8, workers=1, space={"edge": {"low": 0.005, "high": 0.08}})
    doc["mlflow"] = {"tracking_uri": server}
    cfg = parse_config(doc, "configs/toy.yaml")
    out = run_sweep(
        cfg,
        "configs/toy.yaml",
        console=Console(quiet=True),
        evaluator=EVALUATOR,
        experiments_dir=tmp_path / "exp",
    )
    study = optuna.load_study(study_name="toy", storage=make_storage(cfg.storage_url()))
    trials = study.get_trials()
    assert len(trials) == 8 and {t.state.name for t in trials} >= {"COMPLETE", "FAIL"}
    client = MlflowClient(tracking_uri=server)
    children = client.search_runs(
        [client.get_experiment_by_name(cfg.experiment_name()).experiment_id],
        filter_string=f"tags.`{PARENT}` = '{out.parent_run_id}'",
    )
    assert sorted(int(r.data.tags[TRIAL]) for r in children) == [t.number for t in trials]
    by_id = {r.info.run_id: r for r in children}
    for t in trials:
        run = by_id[t.user_attrs[RUN_ID_ATTR]]  # the trial's own run, written in full
        assert run.data.tags[TRIAL] == str(t.number)
        assert PLACEHOLDER not in run.data.tags
        assert run.data.tags["pk8opt.state"] == t.state.name.lower()
        assert run.info.status == ("FAILED" if t.state.name == "FAIL" else "FINISHED")
        assert run.data.params == {k: param_text(v) for k, v in t.params.items()}
        if t.state.name == "COMPLETE":
            assert run.data.metrics["objective"] == pytest.approx(t.value)
    # deploy finds the chosen trial's run on the server (the sample has no edge: forced)
    dep = deploy_trial(
        tmp_path / ".env",
        storage=cfg.storage_url(),
        tracking_uri=server,
        evaluator=EVALUATOR,
        force="tracking server test",
    )
    chosen = next(t for t in trials if t.number == dep.trial)
    assert dep.run_id == chosen.user_attrs[RUN_ID_ATTR]

"""Ctrl-C on `pk8opt sweep`, as a trader presses it: during the search or during
validation, the command stops with exit 130 and a resume line that repeats every flag
it was given; running that line goes on from where it stopped. The real command line
(`pk8opt.cli.main`) in a subprocess, with the stand-in evaluator, a real journal and a
real MLflow store."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
import yaml
from mlflow import MlflowClient
from support.fake_sweep import EVALUATOR, config_doc, make_sessions
from support.paths import TESTS

from pk8opt.pipeline.run import NO_VERDICT, VALIDATION_STOPPED
from pk8opt.sweep.shared_study import FINISHED_BY
from pk8opt.sweep.study import make_storage
from pk8opt.tracking import DESCRIPTION
from pk8opt.validation import record
from pk8opt.validation.gate import EXIT_REFUSED

pytestmark = pytest.mark.slow

CLI = """
import functools, sys
from pathlib import Path
sys.path.insert(0, {tests!r})
import pk8opt.pipeline.run as runner
runner.run_sweep = functools.partial(
    runner.run_sweep,
    evaluator={evaluator!r},
    experiments_dir=Path({exp!r}),
)
from pk8opt.strategies.registry import STRATEGIES
from pk8opt.strategies.noop import NoopStrategy
STRATEGIES.setdefault("toy", NoopStrategy)  # the config's name is known; the stand-in plays it
from pk8opt.cli import main
sys.argv = ["pk8opt", *{args!r}]
main()
"""


def _cli(tmp: Path, args: list[str]) -> str:
    return CLI.format(tests=str(TESTS), evaluator=EVALUATOR, exp=str(tmp / "exp"), args=args)


def _setup(tmp: Path) -> tuple[list[str], dict[str, str]]:
    make_sessions(tmp / "rec")
    config = tmp / "toy.yaml"
    space = {"edge": {"low": 0.005, "high": 0.06}, "size": {"low": 5, "high": 50, "step": 5}}
    config.write_text(yaml.safe_dump(config_doc(tmp, pruner={"type": "none"}, space=space)))
    args = ["sweep", str(config), "--trials", "4", "--workers", "1", "--study-name", "toy 2"]
    args += ["--timeout", "600"]
    # the workers import support.fake_sweep: os.environ's PYTHONPATH has tests/ (conftest.py)
    env = {**os.environ, "COLUMNS": "400"}
    return args, env


@pytest.fixture
def started():
    """Starts the sweep command; a test that fails leaves no sweep running."""
    procs: list[subprocess.Popen[str]] = []

    def start(tmp: Path, args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
        script = _cli(tmp, args)
        proc = subprocess.Popen(
            [sys.executable, "-c", script],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()  # its workers notice and stop (sweep/orphan.py)
            proc.wait()


def _run(tmp: Path, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    script = _cli(tmp, args)
    return subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )


def _read_until(proc: subprocess.Popen[str], text: str) -> list[str]:
    lines: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if text in line:
            return lines
    raise AssertionError(f"{text!r} never printed: {''.join(lines)}")


def _until(proc: subprocess.Popen[str], happened: Callable[[], bool]) -> None:
    """Wait for an event of the running sweep (checked every 50 ms)."""
    while not happened():
        assert proc.poll() is None, "the sweep ended first"
        time.sleep(0.05)


def _resume_line(out: str) -> list[str]:
    line = next(x for x in out.splitlines() if x.startswith("stopped. Resume with: "))
    return shlex.split(line.removeprefix("stopped. Resume with: "))


def _parent(tmp: Path):
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp / 'exp' / 'mlflow.db'}")
    exp = client.get_experiment_by_name("toy 2")
    runs = client.search_runs([exp.experiment_id], "tags.`pk8opt.role` = 'sweep'")
    assert len(runs) == 1
    return runs[0]


def test_ctrl_c_in_the_search_prints_every_flag_and_the_line_resumes(
    tmp_path: Path, started
) -> None:
    args, env = _setup(tmp_path)
    gate = tmp_path / "go"
    proc = started(tmp_path, args, {**env, "FAKE_GATE": str(gate)})  # trials hold at the gate
    _read_until(proc, "sweeping toy")
    storage = make_storage(str(tmp_path / "exp" / "optuna.journal"))
    _until(
        proc,
        lambda: any(  # the first trial has started (a worker asked for it)
            t.state.name == "RUNNING"
            for t in optuna.load_study(study_name="toy 2", storage=storage).get_trials()
        ),
    )
    proc.send_signal(signal.SIGINT)
    _read_until(proc, "stopping: the running trials end")
    gate.touch()  # the held trial goes on, and stops at its first session
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert _resume_line(out) == ["pk8opt", *args]
    assert _parent(tmp_path).info.status == "KILLED"
    done = _run(tmp_path, _resume_line(out)[1:], env)  # the line, as printed
    assert done.returncode == 0, done.stdout + done.stderr
    assert "study toy 2: 4 complete" in done.stdout


def test_ctrl_c_during_validation_keeps_the_trials_and_the_rerun_validates(
    tmp_path: Path, started
) -> None:
    args, env = _setup(tmp_path)
    gate = tmp_path / "report"
    proc = started(tmp_path, args, {**env, "FAKE_REPORT_GATE": str(gate)})
    _read_until(proc, "validating:")
    # validation's last replay (the chosen trial's report) has started
    _until(proc, Path(f"{gate}.waiting").exists)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert "stopping: validation interrupted; every trial is kept" in out
    assert "study toy 2: 4 complete" in out
    assert _resume_line(out) == ["pk8opt", *args]
    parent = _parent(tmp_path)
    assert parent.info.status == "KILLED"
    assert parent.data.tags[DESCRIPTION].endswith(VALIDATION_STOPPED)
    study = optuna.load_study(
        study_name="toy 2", storage=make_storage(str(tmp_path / "exp" / "optuna.journal"))
    )
    assert study.user_attrs[FINISHED_BY] == {}  # any process may validate the study now

    done = _run(tmp_path, args, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "validation of trial" in done.stdout and "verdict: " in done.stdout
    parent = _parent(tmp_path)
    assert parent.info.status == "FINISHED"
    assert "validation verdict: " in parent.data.tags[DESCRIPTION]


def _stores(tmp: Path) -> list[str]:
    journal, db = tmp / "exp" / "optuna.journal", tmp / "exp" / "mlflow.db"
    return ["--storage", str(journal), "--tracking-uri", f"sqlite:///{db}"]


def _pk8(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pk8opt.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp,
        check=False,
    )


def _listed_state(tmp: Path) -> str:
    r = _pk8(tmp, "sweeps", *_stores(tmp), "--json")
    assert r.returncode == 0, r.stderr
    (row,) = [row for row in json.loads(r.stdout) if row["study"] == "toy 2"]
    return str(row["state"])


def test_ctrl_c_during_the_report_stores_no_verdict_and_the_rerun_reuses_the_lockbox(
    tmp_path: Path, started
) -> None:
    args, env = _setup(tmp_path)
    gate = tmp_path / "report"
    proc = started(tmp_path, args, {**env, "FAKE_REPORT_GATE": str(gate)})
    _read_until(proc, "validating:")
    _until(proc, Path(f"{gate}.waiting").exists)  # the lockbox is played; the report replays
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    storage = make_storage(str(tmp_path / "exp" / "optuna.journal"))
    study = optuna.load_study(study_name="toy 2", storage=storage)
    assert record.load(storage, "toy 2") is None  # stopped: no verdict, as the user is told
    assert NO_VERDICT in out
    (chosen,) = study.user_attrs["lockbox_seen_by"]
    played = study.user_attrs["lockbox_pnl"][str(chosen)]
    # `pk8opt sweeps` says stopped, and deploy refuses what it cannot read a verdict for
    assert _listed_state(tmp_path) == "stopped"
    env_file = tmp_path / "trade.env"
    r = _pk8(tmp_path, "deploy", "--best", "--study", "toy 2", *_stores(tmp_path),
             "--env-file", str(env_file))  # fmt: skip
    assert r.returncode == EXIT_REFUSED, r.stdout + r.stderr
    assert "not deployed" in r.stderr and not env_file.exists()

    done = _run(tmp_path, args, env)  # the same command
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"validation of trial {chosen}" in done.stdout
    study = optuna.load_study(study_name="toy 2", storage=storage)
    assert study.user_attrs["lockbox_seen_by"] == [chosen]  # played once, by that trial
    rec = record.load(storage, "toy 2")
    assert rec is not None and rec["chosen_trial"] == chosen
    assert rec["figures"]["lockbox_pnl_per_window"] == pytest.approx(sum(played) / len(played))
    assert _listed_state(tmp_path) == "finished"
    report = _parent(tmp_path).data.tags[DESCRIPTION]
    assert "validation verdict: " in report

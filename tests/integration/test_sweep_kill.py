"""`kill -9` of a sweep's main process: its workers notice and end, and the next run logs
every finished trial to MLflow exactly once. Real processes, real journal, real MLflow."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from mlflow import MlflowClient
from support.fake_sweep import SCRIPT, make_sessions
from support.paths import TESTS

from pk8opt.sweep.study import make_storage

pytestmark = pytest.mark.slow

FAILURE_TIMEOUT_S = 180.0  # generous: only a broken build ever waits this long


def children_of(pid: int) -> set[int]:
    """The live child processes of `pid` (from /proc)."""
    out = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            out.add(int(entry.name))
    return out


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_for(what: str, check, timeout: float = FAILURE_TIMEOUT_S):  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def trials_in(journal: Path) -> list:
    if not journal.exists():
        return []
    try:
        study = optuna.load_study(study_name="toy", storage=make_storage(str(journal)))
    except KeyError:
        return []
    return study.get_trials()


def test_kill_9_ends_the_workers_and_a_rerun_logs_every_trial_once(tmp_path: Path) -> None:
    make_sessions(tmp_path / "rec")
    # Slow trials, many of them: workers left running would go on for far longer than
    # the failure timeout below (200 trials of 3 s on 2 workers: 5 minutes).
    script = SCRIPT.format(tests=str(TESTS), tmp=str(tmp_path), trials=200, changes={"workers": 2})
    # the workers import support.fake_sweep: os.environ's PYTHONPATH has tests/ (conftest.py)
    env = {**os.environ, "FAKE_SESSION_SLEEP": "0.5"}
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    journal = tmp_path / "exp" / "optuna.journal"
    try:
        # the event: both workers are running trials, and at least one trial finished
        def running() -> bool:
            trials = trials_in(journal)
            done = sum(t.state.name == "COMPLETE" for t in trials)
            busy = {t.user_attrs.get("token") for t in trials if t.state.name == "RUNNING"}
            return done >= 1 and len(busy) >= 1

        wait_for("a finished trial and a running one", running)
        workers = wait_for("the worker processes", lambda: children_of(proc.pid))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        killed_at = time.time()
        wait_for(
            f"the workers {sorted(workers)} to end after their parent was killed",
            lambda: not any(alive(w) for w in workers),
        )
        print(f"workers ended {time.time() - killed_at:.1f} s after the kill")
    finally:  # whatever happened, nothing of this sweep outlives the test
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    before = trials_in(journal)
    assert not [t for t in before if t.state.name == "RUNNING"], "a trial was left running"
    assert sum(t.state.name == "COMPLETE" for t in before) >= 1
    # at most the trial each worker was asking for as the kill landed started after it
    late = [t for t in before if t.datetime_start and t.datetime_start.timestamp() > killed_at]
    assert len(late) <= 2, [t.number for t in late]
    # the running trials were put down as interrupted (a resumed sweep does not count them)
    assert any(t.user_attrs.get("interrupted") for t in before)

    env["FAKE_SESSION_SLEEP"] = "0"
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0 and "DONE" in done.stdout, done.stderr[-2000:]
    finished = [t for t in trials_in(journal) if t.state.name in ("COMPLETE", "PRUNED", "FAIL")]
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'exp' / 'mlflow.db'}")
    exp = client.get_experiment_by_name("toy")
    runs = client.search_runs([exp.experiment_id], max_results=5000)
    logged = [int(r.data.tags["pk8opt.trial"]) for r in runs if "pk8opt.trial" in r.data.tags]
    assert sorted(logged) == sorted(t.number for t in finished)  # each once
    complete = {t.number for t in finished if t.state.name == "COMPLETE"}
    assert complete <= set(logged) and len(complete) >= 1

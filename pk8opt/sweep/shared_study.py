"""What the sweep processes of one study agree on, wherever they run.

Any number of `pk8opt sweep` processes (on one machine or several, sharing a database
storage) may work on one study at once. Through the storage they agree on:

- the budget: a trial is asked for under a storage-wide lock, counting the finished
  trials and those running anywhere, so the study never holds more than `trials`;
  when the budget is full but another process's trial still runs, the workers wait
  for it (if its process died, its heartbeat stops, the trial is failed and its
  parameters are run again here);
- the sampler: each process after the study's first draws from its own stream (the
  configured seed combined with the process's identity), so processes do not
  suggest the same parameters; a seeded study run by one process is reproducible;
- the end: the post-search stages (validation, the lockbox) run once, in the process that finds no
  trial running anywhere when its own trials end; the others say so and leave.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pk8opt.sweep.storage import HEARTBEAT_S, study_lock

HOST = socket.gethostname()
WAIT_S = 0.5  # how often a worker with nothing to ask looks at the others' trials
PROCESSES = "pk8opt.processes"  # study user attribute: how many processes joined
FINISHED_BY = "pk8opt.finished_by"  # study user attribute: who ran the post-search stages
# The trial user attr naming a trial's run in the tracking store (MLflow). A worker
# process gives it to the trial as it starts (Optuna refuses user attrs on finished
# trials), and the main process logs the trial's run under that id once it has finished;
# a trial killed before it was logged keeps the id, and the sweep that logs it later uses it.
RUN_ID_ATTR = "mlflow_run_id"


def _heartbeat(storage: Any) -> bool:
    """Whether the storage keeps heartbeats of running trials (a database storage)."""
    get = getattr(storage, "get_heartbeat_interval", None)
    return get is not None and get() is not None


def _trial_id(storage: Any, study: Any, number: int) -> int:
    study_id = storage.get_study_id_from_name(study.study_name)
    return int(storage.get_trial_id_from_study_id_trial_number(study_id, number))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _alive(trial: Any, token: str, heartbeat: bool) -> bool:
    """Whether a RUNNING trial is still being run by some process."""
    attrs = trial.user_attrs
    if attrs.get("token") == token or heartbeat:
        return True  # ours; or the storage fails it once its heartbeat stops
    if "pid" not in attrs:
        return False  # left by an older version; nothing says who runs it
    if attrs.get("host") != HOST:
        return True  # another machine: it cannot be checked from here
    return _pid_alive(int(attrs["pid"]))


def counted(trials: list[Any], token: str, heartbeat: bool = False) -> int:
    """Trials that count toward the budget: finished ones (a failure counts; an
    interruption or a process that died mid-trial does not) and those running now."""
    n = 0
    for t in trials:
        state = t.state.name
        if state in ("COMPLETE", "PRUNED"):
            n += 1
        elif state == "FAIL":
            n += bool(t.user_attrs.get("error")) and not t.user_attrs.get("interrupted")
        elif state == "RUNNING":
            n += _alive(t, token, heartbeat)
    return n


def _recover(study: Any, storage: Any, trials: list[Any], heartbeat: bool, token: str) -> bool:
    """Fail the running trials whose process died; True when any was."""
    import optuna

    if heartbeat:
        before = sum(t.state.name == "RUNNING" for t in trials)
        with warnings.catch_warnings():  # marked experimental by Optuna since 2.9
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
        after = sum(t.state.name == "RUNNING" for t in study.get_trials(deepcopy=False))
        return after < before
    dead = [
        t
        for t in trials
        if t.state.name == "RUNNING" and "pid" in t.user_attrs and not _alive(t, token, False)
    ]
    for t in dead:  # same machine, journal file: its process is gone
        trial_id = _trial_id(storage, study, t.number)
        storage.set_trial_user_attr(trial_id, "interrupted", True)
        storage.set_trial_user_attr(trial_id, "error", "its process stopped mid-trial")
        storage.set_trial_state_values(trial_id, optuna.trial.TrialState.FAIL)
    return bool(dead)


def _take(study: Any, storage: Any, token: str) -> Any:
    with warnings.catch_warnings():  # the heartbeat is kept below, not by study.optimize
        warnings.filterwarnings("ignore", message="Heartbeat of storage")
        trial = study.ask()
    if _heartbeat(storage):  # at once: a trial without a heartbeat is never found stale
        storage.record_heartbeat(_trial_id(storage, study, trial.number))
    trial.set_user_attr("token", token)
    trial.set_user_attr("host", HOST)
    trial.set_user_attr("pid", os.getpid())
    return trial


def ask(
    study: Any,
    storage: Any,
    storage_url: str,
    token: str,
    target: int | None,
    stop: Callable[[], bool],
) -> Any | None:
    """A new trial (or one to re-run), or None once the budget is used up and no other
    process still runs a trial, or when `stop()` says so."""
    heartbeat = _heartbeat(storage)
    while True:
        with study_lock(storage_url, f"{study.study_name}:ask"):
            trials = study.get_trials(deepcopy=False)
            if _recover(study, storage, trials, heartbeat, token):
                trials = study.get_trials(deepcopy=False)
            if target is None or counted(trials, token, heartbeat) < target:
                return _take(study, storage, token)
            waiting = [
                t
                for t in trials
                if t.state.name == "RUNNING"
                and t.user_attrs.get("token") != token
                and (heartbeat or t.user_attrs.get("host") == HOST)
                and _alive(t, token, heartbeat)
            ]
        if not waiting or stop():
            return None
        time.sleep(WAIT_S)  # another process's trial: it ends, or it dies and is re-run here


class Heartbeat:
    """Keeps the heartbeat of the trial a worker is running (database storages)."""

    def __init__(self, study: Any, storage: Any) -> None:
        self.trial: Any = None
        self._study = study
        self._storage = storage
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if _heartbeat(storage):
            self._thread = threading.Thread(target=self._beat, daemon=True)
            self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S / 2):
            trial = self.trial
            if trial is not None:
                try:
                    trial_id = _trial_id(self._storage, self._study, trial.number)
                    self._storage.record_heartbeat(trial_id)
                except Exception:  # the next beat tries again; a lost one only delays
                    pass

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def join(study: Any, storage_url: str) -> int:
    """This process's rank among those that ever worked on the study (0 = the first)."""
    with study_lock(storage_url, f"{study.study_name}:join"):
        n = int(study.user_attrs.get(PROCESSES) or 0)
        study.set_user_attr(PROCESSES, n + 1)
    return n


def process_seed(seed: int | None, rank: int) -> int | None:
    """The configured seed for the study's first process (reproducible when it runs
    alone); for every later or concurrent one, the seed combined with its identity."""
    if seed is None or rank == 0:
        return seed
    who = f"{seed}:{rank}:{HOST}:{os.getpid()}:{time.time_ns()}"
    return int.from_bytes(hashlib.sha256(who.encode()).digest()[:4], "big") % (2**31 - 1024)


def claim_finish(study: Any, storage: Any, storage_url: str, token: str) -> str | None:
    """None when this process is to run the post-search stages (and has claimed them);
    otherwise the line saying who does."""

    heartbeat = _heartbeat(storage)
    with study_lock(storage_url, f"{study.study_name}:finish"):
        trials = study.get_trials(deepcopy=False)
        running = [
            t
            for t in trials
            if t.state.name == "RUNNING"
            and t.user_attrs.get("token") != token
            and _alive(t, token, heartbeat)
        ]
        if running:
            return (
                f"{len(running)} trial(s) still running in other sweep processes: the last "
                "to finish runs the validation"
            )
        finished = sum(t.state.name in ("COMPLETE", "PRUNED", "FAIL") for t in trials)
        claim = study.user_attrs.get(FINISHED_BY) or {}
        if claim.get("trials") == finished and claim.get("token") != token:
            by = f"{claim.get('host')} pid {claim.get('pid')}"
            if claim.get("done"):
                return f"the validation of these {finished} trials already ran ({by})"
            if claim.get("host") != HOST or _pid_alive(int(claim.get("pid") or 0)):
                return f"the validation runs in another sweep process ({by})"
        study.set_user_attr(
            FINISHED_BY,
            {
                "trials": finished,
                "token": token,
                "host": HOST,
                "pid": os.getpid(),
                "at": datetime.now(UTC).isoformat(timespec="seconds"),
                "done": False,
            },
        )
    return None


def finished(study: Any) -> None:
    """Mark the post-search stages this process claimed as done."""
    claim = dict(study.user_attrs.get(FINISHED_BY) or {})
    claim["done"] = True
    study.set_user_attr(FINISHED_BY, claim)


def release_finish(study: Any, token: str) -> None:
    """Give back this process's claim on the post-search stages (stopped before they
    ended), so the next sweep process of the study, on any machine, runs them."""
    claim = study.user_attrs.get(FINISHED_BY) or {}
    if claim.get("token") == token and not claim.get("done"):
        study.set_user_attr(FINISHED_BY, {})

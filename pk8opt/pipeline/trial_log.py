"""Which finished trials this sweep process writes to MLflow, and when.

Each process logs the trials its own workers ran (they carry its token), as they
finish. Trials another process finished but never logged (it was killed) are logged
too: at the start when they are old, at the end of the fan-out when they had just
finished (their process may still have been about to log them), checked against the
store so that no trial appears twice. Another process on the same study (another
machine) does the same for its own.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

from pk8opt.sweep.shared_study import RUN_ID_ATTR
from pk8opt.tracking import Tracker, TrialRecord

FINISHED = ("COMPLETE", "PRUNED", "FAIL")
ORPHAN_AFTER_S = 60.0  # a finished trial no process logged for this long is logged by us


class TrialLog:
    """The sweep's `TrialSink` (`sweep.runner`): finished trials -> MLflow child runs."""

    def __init__(
        self, tracker: Tracker, parent: str, study: str, token: str, trials: list[Any]
    ) -> None:
        self.tracker = tracker
        self.parent = parent
        self.study = study
        self.token = token
        self.logged: dict[int, str] = tracker.logged_trials(parent)  # number -> run id
        self.wall_s = self.cpu_s = 0.0  # time spent writing (the benchmark reads them)
        self.unlogged = {
            t.number: t for t in trials if t.state.name in FINISHED and t.number not in self.logged
        }
        cutoff = _before(ORPHAN_AFTER_S)
        self.earlier = {
            n
            for n, t in self.unlogged.items()
            if t.datetime_complete is None or t.datetime_complete < cutoff
        }

    def log_new(self, trials: list[Any]) -> None:
        """Log this process's newly finished trials (and, the first time, the old ones
        no process logged)."""
        t0, c0 = time.perf_counter(), time.thread_time()
        mine = [
            t
            for t in trials
            if t.state.name in FINISHED
            and t.number not in self.logged
            and (t.number in self.earlier or t.user_attrs.get("token") == self.token)
        ]
        if mine:
            unique = any(t.number in self.earlier for t in mine)  # someone else's: check
            self._log(mine, unique)
        self.wall_s += time.perf_counter() - t0
        self.cpu_s += time.thread_time() - c0

    def log_left_over(self) -> None:
        """Log the trials that had just finished when this process started, unless their
        own process did meanwhile."""
        rest = [t for n, t in self.unlogged.items() if n not in self.logged]
        if rest:
            self._log(rest, unique=True)

    def _log(self, trials: list[Any], unique: bool) -> None:
        records = [trial_record(t) for t in trials]
        self.logged.update(self.tracker.log_trials(self.parent, self.study, records, unique=unique))


def _before(seconds: float) -> datetime:
    return datetime.now() - timedelta(seconds=seconds)


def trial_record(trial: Any) -> TrialRecord:
    """A finished Optuna trial as the tracker logs it."""
    metrics = dict(trial.user_attrs.get("metrics") or {})
    if trial.values:
        for i, v in enumerate(trial.values):
            metrics["objective" if i == 0 else f"objective_{i}"] = v
    if trial.state.name == "PRUNED" and trial.intermediate_values:
        metrics["pruned_after_windows"] = len(trial.intermediate_values)
    sessions = trial.user_attrs.get("sessions") or {}
    series = {
        name: [(i, v) for i, v in enumerate(sessions.get(key) or []) if v is not None]
        for name, key in (("session_pnl_usdc", "session_pnl"), ("session_fills", "session_fills"))
    }

    def ms(dt: Any) -> int | None:
        return int(dt.timestamp() * 1000) if dt is not None else None

    tags = {"pk8opt.interrupted": "1"} if trial.user_attrs.get("interrupted") else {}
    return TrialRecord(
        number=trial.number,
        state=trial.state.name,
        params=dict(trial.params),
        metrics=metrics,
        start_ms=ms(trial.datetime_start),
        end_ms=ms(trial.datetime_complete),
        error=trial.user_attrs.get("error"),
        tags=tags,
        series={k: v for k, v in series.items() if v},
        run_id=trial.user_attrs.get(RUN_ID_ATTR),
    )

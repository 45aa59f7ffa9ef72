"""The worker process: load the sessions once, then ask/run/tell trials until done.

Workers share nothing but the Optuna storage. They stop when the study holds the
target number of trials, at the deadline, or when the stop file appears (the main
process creates it on Ctrl-C; the running trial stops after its current session and is
recorded as failed with `interrupted`, which a resumed sweep does not count).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import msgspec

from pk8opt.sweep import shared_study
from pk8opt.sweep.config import SweepConfig
from pk8opt.sweep.evaluate import Evaluator, load_evaluator
from pk8opt.sweep.orphan import stop_on_orphan
from pk8opt.sweep.shared_study import RUN_ID_ATTR
from pk8opt.sweep.space import suggest
from pk8opt.sweep.study import make_pruner, make_sampler, make_storage
from pk8opt.sweep.windows import TrialScore, objective_values, window_index, window_order

# Sessions loaded in this process, by their paths: loaded once, reused by every trial.
_LOADED: dict[tuple[str, ...], Any] = {}


class TrialRunIds(Protocol):
    """Gives a trial, as it starts, the id of its run in the tracking store, or None
    (Optuna takes no user attr once the trial is told). The tracking side makes it
    (`pk8opt.tracking`); it travels to the workers in the `Job`, so it must pickle."""

    def __call__(self, number: int) -> str | None: ...


@dataclass(frozen=True)
class Job:
    config: dict[str, Any]  # SweepConfig as builtins (picklable, small)
    sessions: list[str]
    storage: str
    token: str  # this invocation's id: its RUNNING trials count toward the target
    target: int | None
    deadline: float | None  # time.time() after which no trial starts
    stop_file: str
    evaluator: str | None = None
    index: int = 0  # offsets the sampler's seed so workers do not suggest alike
    windows: list[int] | None = None  # each session's window start (None: one window each)
    run_ids: TrialRunIds | None = None  # each trial's run id up front (`RUN_ID_ATTR`)


class Interrupted(Exception):
    """The sweep is being stopped (Ctrl-C)."""


def loaded(evaluator: Evaluator, paths: list[str]) -> Any:
    key = tuple(paths)
    if key not in _LOADED:
        _LOADED.clear()
        _LOADED[key] = evaluator.load(paths)
    return _LOADED[key]


def counted(trials: list[Any], token: str) -> int:
    """Trials that count toward the target (see `shared_study.counted`)."""
    return shared_study.counted(trials, token)


def _ignore_sigint() -> None:
    with contextlib.suppress(ValueError):  # not the main thread of this process
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_worker(job: Job) -> dict[str, float]:
    """The body of one worker process; returns its time split for the benchmark."""
    import optuna

    _ignore_sigint()
    stop_on_orphan(job.stop_file)  # the main process killed: stop as on Ctrl-C
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    worker = _Worker(job)
    worker.run_trials()
    worker.times["peak_rss_mb"] = peak_rss_mb()
    return worker.times


class _SessionHook:
    """A trial's `on_session`: scores each session, reports every complete window to
    the pruner, and stops the backtest on the stop file or when the pruner says so."""

    def __init__(
        self,
        stop_file: str,
        trial: Any,
        score: TrialScore,
        prune: bool,
        pruned: type[BaseException],
    ) -> None:
        self.stop_file, self.trial, self.score = stop_file, trial, score
        self.prune, self.pruned = prune, pruned
        self.optuna_s = self.optuna_cpu_s = 0.0  # spent in the pruner, not the backtest

    def __call__(self, pos: int, result: Any) -> None:
        if os.path.exists(self.stop_file):
            raise Interrupted
        reports = self.score.add(pos, result)
        if not self.prune or not reports:
            return
        t, c = time.perf_counter(), time.thread_time()
        for value, step in reports:
            self.trial.report(value, step)
        should = self.score.may_prune() and self.trial.should_prune()
        self.optuna_s += time.perf_counter() - t
        self.optuna_cpu_s += time.thread_time() - c
        if should:
            raise self.pruned(f"pruned after {self.score.done} windows")


class _Worker:
    """One worker process: its sessions (loaded once), the study, its time split."""

    def __init__(self, job: Job) -> None:
        import optuna

        self.job = job
        self.cfg = cfg = msgspec.convert(job.config, SweepConfig)
        self.evaluator = load_evaluator(job.evaluator)
        sp, ep, tp = self.evaluator.param_sets(cfg.strategy)
        self.every = sp + ep + tp
        t_load = time.perf_counter()
        self.sessions = loaded(self.evaluator, job.sessions)
        self.times = {"load_s": time.perf_counter() - t_load, "optuna_s": 0.0, "backtest_s": 0.0}
        self.times.update(optuna_cpu_s=0.0, backtest_cpu_s=0.0, trials=0.0)
        self.storage = make_storage(job.storage)
        self.study = optuna.load_study(
            study_name=cfg.study,
            storage=self.storage,
            sampler=make_sampler(cfg, self.every, job.index),
            pruner=make_pruner(cfg),
        )
        self.prune = len(cfg.objectives) == 1 and cfg.pruner.type != "none"
        self.of, self.members = window_index(job.windows or list(range(len(job.sessions))))
        if len(self.sessions) != len(self.of):
            raise RuntimeError(f"loaded {len(self.sessions)} sessions for {len(self.of)} paths")

    def run_trials(self) -> None:
        """Ask, run and tell trials until the study holds its target, the deadline, or
        the stop file."""
        job, times = self.job, self.times
        times["first_trial_at"] = time.time()
        beat = shared_study.Heartbeat(self.study, self.storage)
        stopping = stop(job)
        while not stopping():
            t0, c0 = time.perf_counter(), time.thread_time()
            trial = shared_study.ask(
                self.study, self.storage, job.storage, job.token, job.target, stopping
            )
            if trial is None:
                break
            beat.trial = trial
            if job.run_ids is not None and (run_id := job.run_ids(trial.number)) is not None:
                trial.set_user_attr(RUN_ID_ATTR, run_id)
            values = suggest(trial, self.cfg.space, self.every)
            times["optuna_s"] += time.perf_counter() - t0
            times["optuna_cpu_s"] += time.thread_time() - c0
            state = self._play(trial, values, beat)
            times["trials"] += 1
            if state == "FAIL" and trial.user_attrs.get("interrupted"):
                break
        beat.close()

    def _play(self, trial: Any, values: dict[str, Any], beat: shared_study.Heartbeat) -> str:
        """One trial's backtest, told to the study; its state."""
        import optuna

        cfg = self.cfg
        score = TrialScore(
            cfg.objectives[0].metric,
            self.of,
            self.members,
            window_order(len(self.members), cfg.sampler.seed, trial.number),
            per_instance=cfg.pruner.type == "wilcoxon",
            warmup_windows=cfg.pruner.warmup_windows,
        )
        hook = _SessionHook(self.job.stop_file, trial, score, self.prune, optuna.TrialPruned)
        t1, c1 = time.perf_counter(), time.thread_time()
        state, result, metrics, error = self._backtest(trial, {**cfg.overrides, **values}, hook)
        t2, c2 = time.perf_counter(), time.thread_time()
        self.times["backtest_s"] += t2 - t1 - hook.optuna_s
        self.times["backtest_cpu_s"] += c2 - c1 - hook.optuna_cpu_s
        if state == "COMPLETE":
            trial.set_user_attr("metrics", metrics)
        trial.set_user_attr("sessions", score.attrs())
        if error:
            trial.set_user_attr("error", error)
        tell_state = getattr(optuna.trial.TrialState, state)
        self.study.tell(trial, result if state == "COMPLETE" else None, state=tell_state)
        beat.trial = None
        self.times["optuna_s"] += time.perf_counter() - t2 + hook.optuna_s
        self.times["optuna_cpu_s"] += time.thread_time() - c2 + hook.optuna_cpu_s
        return state

    def _backtest(
        self, trial: Any, overrides: dict[str, Any], hook: _SessionHook
    ) -> tuple[str, Any, Any, str | None]:
        """(state, objective values, metrics, error) of the trial's backtest."""
        import optuna

        score = hook.score
        visiting = [self.sessions[i] for i in score.visit]
        try:
            metrics = self.evaluator.run(visiting, self.cfg.strategy, overrides, hook)
            score.finish()
            result, metrics = objective_values(metrics, self.cfg.objectives, score)
        except optuna.TrialPruned:
            return "PRUNED", None, None, None
        except Interrupted:
            trial.set_user_attr("interrupted", True)
            return "FAIL", None, None, None
        except Exception as exc:
            trial.set_user_attr("traceback", traceback.format_exc()[-4000:])
            return "FAIL", None, None, f"{type(exc).__name__}: {exc}"
        return "COMPLETE", result, metrics, None


def stop(job: Job) -> Any:
    """Whether a worker with nothing to ask should stop waiting for the others."""
    return lambda: (
        os.path.exists(job.stop_file) or (job.deadline is not None and time.time() >= job.deadline)
    )


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM), 0 where /proc is not available."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run_report(
    evaluator_spec: str | None,
    strategy: str,
    paths: list[str],
    overrides: dict[str, Any],
    out_dir: str | None,
) -> dict[str, float]:
    """Re-run one parameter set on `paths` (the holdout, or the best trial's report)."""
    _ignore_sigint()
    evaluator = load_evaluator(evaluator_spec)
    sessions = loaded(evaluator, paths)
    if out_dir is not None:
        return dict(evaluator.report(sessions, strategy, overrides, Path(out_dir)))
    return dict(evaluator.run(sessions, strategy, overrides, None))

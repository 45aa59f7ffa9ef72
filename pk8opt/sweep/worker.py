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
from typing import Any

from pk8opt.sweep import shared_study
from pk8opt.sweep.config import SweepConfig
from pk8opt.sweep.orphan import stop_on_orphan
from pk8opt.tracking._rows import RUN_ID_ATTR, new_run_id

# Sessions loaded in this process, by their paths: loaded once, reused by every trial.
_LOADED: dict[tuple[str, ...], Any] = {}


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
    run_ids: bool = False  # give each trial its MLflow run id up front (see tracking._rows)
    # on an MLflow server: open each trial's run as it starts (tracking.open_trial_run)
    server_runs: tuple[str, str, str, str] | None = None


class Interrupted(Exception):
    """The sweep is being stopped (Ctrl-C)."""


def loaded(evaluator: Any, paths: list[str]) -> Any:
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
    import msgspec
    import optuna

    from pk8opt.sweep.evaluate import load_evaluator
    from pk8opt.sweep.runner import make_pruner, make_storage
    from pk8opt.sweep.space import suggest
    from pk8opt.sweep.windows import TrialScore, objective_values, window_index, window_order

    _ignore_sigint()
    stop_on_orphan(job.stop_file)  # the main process killed: stop as on Ctrl-C
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    cfg = msgspec.convert(job.config, SweepConfig)
    evaluator = load_evaluator(job.evaluator)
    sp, ep, tp = evaluator.param_sets(cfg.strategy)
    every = sp + ep + tp
    t_load = time.perf_counter()
    sessions = loaded(evaluator, job.sessions)
    times = {"load_s": time.perf_counter() - t_load, "optuna_s": 0.0, "backtest_s": 0.0}
    times.update(optuna_cpu_s=0.0, backtest_cpu_s=0.0, trials=0.0)
    storage = make_storage(job.storage)
    study = optuna.load_study(
        study_name=cfg.study,
        storage=storage,
        sampler=_sampler(cfg, every, job.index),
        pruner=make_pruner(cfg),
    )
    objectives = cfg.objectives
    prune = len(objectives) == 1 and cfg.pruner.type != "none"
    of, members = window_index(job.windows or list(range(len(job.sessions))))
    if len(sessions) != len(of):
        raise RuntimeError(f"loaded {len(sessions)} sessions for {len(of)} paths")
    times["first_trial_at"] = time.time()
    beat = shared_study.Heartbeat(study, storage)
    while True:
        if os.path.exists(job.stop_file):
            break
        if job.deadline is not None and time.time() >= job.deadline:
            break
        t0, c0 = time.perf_counter(), time.thread_time()
        trial = shared_study.ask(study, storage, job.storage, job.token, job.target, stop(job))
        if trial is None:
            break
        beat.trial = trial
        if job.run_ids:  # Optuna takes no user attr once the trial is told
            trial.set_user_attr(RUN_ID_ATTR, new_run_id())
        elif job.server_runs is not None:
            from pk8opt.tracking import open_trial_run

            if (run_id := open_trial_run(job.server_runs, trial.number)) is not None:
                trial.set_user_attr(RUN_ID_ATTR, run_id)
        values = suggest(trial, cfg.space, every)
        times["optuna_s"] += time.perf_counter() - t0
        times["optuna_cpu_s"] += time.thread_time() - c0
        score = TrialScore(
            objectives[0].metric,
            of,
            members,
            window_order(len(members), cfg.sampler.seed, trial.number),
            per_instance=cfg.pruner.type == "wilcoxon",
            warmup_windows=cfg.pruner.warmup_windows,
        )
        spent = {"optuna": 0.0, "optuna_cpu": 0.0}

        def on_session(
            pos: int, result: Any, trial: Any = trial, score: Any = score, spent: Any = spent
        ) -> None:
            if os.path.exists(job.stop_file):
                raise Interrupted
            reports = score.add(pos, result)
            if not prune or not reports:
                return
            t, c = time.perf_counter(), time.thread_time()
            for value, step in reports:
                trial.report(value, step)
            should = score.may_prune() and trial.should_prune()
            spent["optuna"] += time.perf_counter() - t
            spent["optuna_cpu"] += time.thread_time() - c
            if should:
                raise optuna.TrialPruned(f"pruned after {score.done} windows")

        t1, c1 = time.perf_counter(), time.thread_time()
        state, result, error = "COMPLETE", None, None
        visiting = [sessions[i] for i in score.visit]
        try:
            metrics = evaluator.run(visiting, cfg.strategy, {**cfg.overrides, **values}, on_session)
            score.finish()
            result, metrics = objective_values(metrics, objectives, score)
        except optuna.TrialPruned:
            state = "PRUNED"
        except Interrupted:
            state = "FAIL"
            trial.set_user_attr("interrupted", True)
        except Exception as exc:
            state = "FAIL"
            error = f"{type(exc).__name__}: {exc}"
            trial.set_user_attr("traceback", traceback.format_exc()[-4000:])
        t2, c2 = time.perf_counter(), time.thread_time()
        times["backtest_s"] += t2 - t1 - spent["optuna"]
        times["backtest_cpu_s"] += c2 - c1 - spent["optuna_cpu"]
        if state == "COMPLETE":
            trial.set_user_attr("metrics", metrics)
        trial.set_user_attr("sessions", score.attrs())
        if error:
            trial.set_user_attr("error", error)
        tell_state = getattr(optuna.trial.TrialState, state)
        study.tell(trial, result if state == "COMPLETE" else None, state=tell_state)
        beat.trial = None
        times["optuna_s"] += time.perf_counter() - t2 + spent["optuna"]
        times["optuna_cpu_s"] += time.thread_time() - c2 + spent["optuna_cpu"]
        times["trials"] += 1
        if state == "FAIL" and trial.user_attrs.get("interrupted"):
            break
    beat.close()
    times["peak_rss_mb"] = peak_rss_mb()
    return times


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
    from pathlib import Path

    from pk8opt.sweep.evaluate import load_evaluator

    _ignore_sigint()
    evaluator = load_evaluator(evaluator_spec)
    sessions = loaded(evaluator, paths)
    if out_dir is not None:
        return dict(evaluator.report(sessions, strategy, overrides, Path(out_dir)))
    return dict(evaluator.run(sessions, strategy, overrides, None))


def _sampler(cfg: SweepConfig, params: Any, index: int) -> Any:
    from pk8opt.sweep.runner import make_sampler

    return make_sampler(cfg, params, index)

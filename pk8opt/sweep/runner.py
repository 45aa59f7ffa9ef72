"""`pk8opt sweep`: one Optuna study, worker processes, and the single MLflow writer.

The main process validates everything, creates (or reopens) the study, starts the
workers (loky processes, each loading the sessions once), then polls the study
storage: every newly finished trial goes to MLflow as a child run and to the progress
bar. On Ctrl-C it creates a stop file, waits for the workers to put their running
trial down, logs what finished, and leaves the study ready to resume.
"""

from __future__ import annotations

import subprocess
import time
import uuid
import warnings
from concurrent.futures import ALL_COMPLETED, Future, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from pk8opt.errors import ConfigError
from pk8opt.params import ParamSet
from pk8opt.redact import mask_url, mask_urls
from pk8opt.sweep.config import SweepConfig, to_dict, validate
from pk8opt.sweep.data import Selection, select_sessions
from pk8opt.sweep.failures import Failures, find_failures
from pk8opt.sweep.interruptible import Interruptible
from pk8opt.sweep.orphan import watch_parent
from pk8opt.sweep.progress import SweepProgress, Tally, tally
from pk8opt.sweep.shared_study import (
    claim_finish,
    finished,
    join,
    process_seed,
    release_finish,
)
from pk8opt.sweep.storage import open_storage, study_lock
from pk8opt.sweep.study_meta import RECORD_NAME, read_meta, sweep_meta, sweep_record, write_meta
from pk8opt.sweep.trial_log import TrialLog
from pk8opt.sweep.worker import Job, counted, run_worker

POLL_S = 0.5
VALIDATION_STOPPED = "stopped during validation (the same command validates the trials)"


@dataclass
class SweepOutcome:
    study: str
    storage: str
    tracking_uri: str
    parent_run_id: str
    tally: Tally
    interrupted: bool
    worker_times: list[dict[str, float]]
    mlflow_s: float
    fanout_s: float = 0.0  # wall time from starting the workers to the last trial
    mlflow_cpu_s: float = 0.0  # CPU time of the child-run writes (main process)
    poll_cpu_s: float = 0.0  # CPU time of reading the study for the log and the bar
    logged_at: float = 0.0  # time.time() when the last trial of the fan-out was logged
    verdict: str | None = None  # the validation's `pass` or `fail: ...`
    chosen: int | None = None  # the trial validation chose (what `deploy --best` ships)
    validation_s: float = 0.0  # wall time of the validation stage
    failures: Failures = Failures()  # failed trials: the CLI names them, offers no deploy


def make_storage(url: str) -> Any:
    """A database URL or a journal file (created if missing); see `sweep.storage`."""
    return open_storage(url)


def make_sampler(cfg: SweepConfig, params: ParamSet, index: int = 0) -> Any:
    import optuna

    from pk8opt.sweep.space import grid

    s = cfg.sampler
    seed = None if s.seed is None else s.seed + index
    if s.type == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if s.type == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    if s.type == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    if s.type == "grid":

        class Grid(optuna.samplers.GridSampler):
            def after_trial(self, *args: Any) -> None:
                # GridSampler calls study.stop() once the grid is used up, which only
                # works inside study.optimize(); the workers stop at the grid's size.
                return None

        return Grid(grid(cfg.space, params), seed=seed)
    startup = s.startup_trials if s.startup_trials is not None else 10
    liar = s.constant_liar if s.constant_liar is not None else cfg.workers > 1
    with warnings.catch_warnings():  # both options are marked experimental by Optuna
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(
            seed=seed,
            n_startup_trials=startup,
            multivariate=s.multivariate is not False,
            constant_liar=liar,
        )


def make_pruner(cfg: SweepConfig) -> Any:
    """Trials report after each complete window (`sweep.windows`): Wilcoxon compares a
    trial's windows with the best trial's same windows; the others compare running
    scores after the same number of windows."""
    import optuna

    p = cfg.pruner
    warm = max(1, p.warmup_windows)
    if p.type == "none" or len(cfg.objectives) > 1:
        return optuna.pruners.NopPruner()
    if p.type == "wilcoxon":
        with warnings.catch_warnings():  # marked experimental by Optuna
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.pruners.WilcoxonPruner(
                p_threshold=p.p_threshold, n_startup_steps=max(2, warm)
            )
    if p.type == "percentile":
        return optuna.pruners.PercentilePruner(
            p.percentile, n_startup_trials=p.startup_trials, n_warmup_steps=warm - 1
        )
    if p.type == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=warm)
    if p.type == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=warm)
    return optuna.pruners.MedianPruner(n_startup_trials=p.startup_trials, n_warmup_steps=warm - 1)


def code_version() -> str:
    """`git describe` of the source tree, or the package version outside a checkout."""
    from pk8opt import __version__

    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--tags"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=5,
        )
        if out.returncode == 0 and out.stdout.strip():
            return f"{__version__}+{out.stdout.strip()}"
    except (OSError, subprocess.SubprocessError):
        pass
    return __version__


def prepare(
    cfg: SweepConfig, where: str, evaluator: Any, console: Console | None = None
) -> tuple[ParamSet, Selection, list[str]]:
    """Every check before work starts; returns the parameters, the sessions, and a
    warning line for each session whose data had problems (skipped and counted)."""
    sp, ep, tp = evaluator.param_sets(cfg.strategy)
    validate(cfg, where, sp, ep, tp)
    if cfg.sampler.type == "cmaes":
        try:
            import cmaes  # noqa: F401
        except ImportError:
            raise ConfigError(f"{where}: sampler.type: cmaes needs `pip install cmaes`") from None
    sel = select_sessions(cfg.data, where)
    # Load once here: a broken recording stops the sweep before any trial, and the
    # workers then read the normalized cache instead of all building it at once.
    from pk8opt.progress import steps

    paths = [str(p) for p in [*sel.in_sample, *sel.holdout]]
    loaded: list[Any] = []
    with steps("loading sessions", len(paths), console) as advance:
        for path in paths:
            loaded += evaluator.load([path]) or []
            advance()
    warm_up = getattr(evaluator, "warm_up", None)
    if warm_up is not None:
        warm_up(cfg.strategy, console)
    from pk8opt.recordings.session import LoadedSession, problems_line

    sessions = [s for s in loaded or [] if isinstance(s, LoadedSession)]
    notes = [line for s in sessions if (line := problems_line(s))]
    if cfg.sampler.type == "cmaes":
        chosen = [name for name, dim in cfg.space.items() if dim.choices is not None]
        if chosen:  # said once here, not by Optuna at every trial
            notes.append(
                f"{where}: sampler.type: cmaes searches ranges only; {', '.join(chosen)} "
                "(choices) will be drawn at random"
            )
    return sp + ep + tp, sel, notes


def post_search(
    study: Any,
    storage: Any,
    cfg: SweepConfig,
    sel: Selection,
    tracker: Any,
    parent: str,
    executor: Any,
    evaluator: str | None,
    experiments_dir: Path,
    console: Console,
    params: ParamSet,
    outcome: SweepOutcome,
) -> None:
    """The stage after the search (`pk8opt.validation`), its result on `outcome`."""
    from pk8opt.validation.stage import run_validation

    t0 = time.perf_counter()
    done = run_validation(
        study,
        storage,
        cfg,
        sel,
        tracker=tracker,
        parent=parent,
        executor=Interruptible(executor),  # Ctrl-C is heard while it waits on replays
        evaluator=evaluator,
        experiments_dir=experiments_dir,
        console=console,
        every=params,
    )
    outcome.validation_s = time.perf_counter() - t0
    if done is not None:
        outcome.verdict = done.verdict.tag()
        outcome.chosen = done.chosen.trial


def run_sweep(
    cfg: SweepConfig,
    where: str,
    *,
    console: Console | None = None,
    evaluator: str | None = None,
    experiments_dir: Path = Path("experiments"),
) -> SweepOutcome:
    import optuna
    from joblib.externals.loky import get_reusable_executor

    from pk8opt.sweep.evaluate import load_evaluator
    from pk8opt.sweep.parent_params import parent_params, sweep_description
    from pk8opt.tracking import DESCRIPTION, Tracker

    console = console or Console(emoji=False)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    params, sel, data_warnings = prepare(cfg, where, load_evaluator(evaluator), console)
    for line in data_warnings:
        console.print(f"[yellow]warning[/yellow] {line}", highlight=False, emoji=False)
    target = cfg.trials
    if cfg.sampler.type == "grid":
        from pk8opt.sweep.space import grid_size

        target = min(target or grid_size(cfg.space, params), grid_size(cfg.space, params))
    storage_url = cfg.storage_url()
    storage = open_storage(storage_url, lambda line: console.print(line, highlight=False))
    directions = [o.direction for o in cfg.objectives]
    try:
        study = optuna.create_study(
            study_name=cfg.study,
            storage=storage,
            directions=directions,
            load_if_exists=True,
            sampler=make_sampler(cfg, params),
            pruner=make_pruner(cfg),
        )
    except Exception as exc:
        raise ConfigError(f"storage {storage_url}: {exc}") from None
    if not study.get_trials(deepcopy=False):  # names the objective columns in Optuna's dashboard
        with warnings.catch_warnings():  # marked experimental by Optuna
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names([o.metric for o in cfg.objectives])
    if [d.name.lower() for d in study.directions] != directions:
        raise ConfigError(
            f"{where}: objective: study {cfg.study!r} in {storage_url} was created with other "
            "directions; change `study:` to start a new one"
        )
    old = read_meta(study.user_attrs)
    if old and old.fingerprint != sel.fingerprint:
        raise ConfigError(
            f"{where}: data: study {cfg.study!r} was run on other sessions "
            f"({old.in_sample_window}); change `study:` to start a new one"
        )
    import yaml

    version = code_version()
    config_yaml = mask_urls(yaml.safe_dump(to_dict(cfg), sort_keys=False))
    meta = sweep_meta(cfg, where, sel, version, target, config_yaml)
    if not old:  # small attrs; the whole record goes to the parent run (study_meta)
        write_meta(study, meta)

    # One process at a time creates the MLflow tables, the experiment, the parent run.
    with study_lock(storage_url, f"{cfg.study}:mlflow"):
        tracker = Tracker(cfg.tracking_uri(), cfg.experiment_name(), cfg.mlflow.artifact_location)
        parent = tracker.start_sweep(
            cfg.study,
            mask_url(storage_url),  # tags and artifacts never hold a password
            params=parent_params(cfg, len(sel.in_sample), len(sel.holdout)),
            tags={
                DESCRIPTION: sweep_description(cfg, len(sel.in_sample), len(sel.holdout)),
                "pk8opt.fingerprint": sel.fingerprint,
                "pk8opt.code_version": version,
                "pk8opt.in_sample_window": sel.window(sel.in_sample),
                "pk8opt.holdout_window": sel.window(sel.holdout),
            },
            texts={"config.yaml": config_yaml, RECORD_NAME: sweep_record(meta, cfg, sel)},
        )
    tracker.set_runs_view(directions, list(cfg.space), parent, [o.metric for o in cfg.objectives])
    if tracker.note:
        console.print(f"[yellow]note[/yellow] {tracker.note}", highlight=False)
    poll_cpu_s = 0.0
    token = uuid.uuid4().hex[:12]
    experiments_dir.mkdir(parents=True, exist_ok=True)
    stop_file = experiments_dir / f".stop-{token}"
    deadline = time.time() + cfg.timeout_s if cfg.timeout_s else None
    trials = study.get_trials(deepcopy=False)
    trial_log = TrialLog(tracker, parent, cfg.study, token, trials)
    maximize = directions[0] == "maximize"
    interrupted = False
    worker_times: list[dict[str, float]] = []
    fanout_s = logged_at = 0.0
    executor = get_reusable_executor(
        max_workers=cfg.workers,
        timeout=60,
        initializer=watch_parent,  # end with us (kill -9)
    )
    start_done = counted(trials, token)
    if target is not None and start_done >= target:
        console.print(f"study {cfg.study!r} already holds {start_done} of {target} trials")
        trial_log.log_new(trials)  # the finished trials no process logged
    else:
        if start_done:
            console.print(f"resuming study {cfg.study!r}: {start_done} trials already done")
        console.print(
            f"sweeping {cfg.strategy} over {len(sel.in_sample)} in-sample sessions "
            f"({len(sel.holdout)} held out) with {cfg.workers} worker{'s' if cfg.workers != 1 else ''}"
        )
        # the sampler's seed + index: this process's own stream (see shared_study)
        offset = process_seed(cfg.sampler.seed or 0, join(study, storage_url)) or 0
        offset -= cfg.sampler.seed or 0
        jobs = [
            Job(
                config=to_dict(cfg),
                sessions=[str(p) for p in sel.in_sample],
                storage=storage_url,
                token=token,
                target=target,
                deadline=deadline,
                stop_file=str(stop_file),
                evaluator=evaluator,
                index=offset + i,
                windows=[sel.manifests[p].window_start_s for p in sel.in_sample],
                run_ids=tracker.mints_run_ids,
                server_runs=tracker.trial_runs_target(parent, cfg.study),
            )
            for i in range(cfg.workers)
        ]
        t_fanout = time.perf_counter()
        futures: list[Future[Any]] = [executor.submit(run_worker, job) for job in jobs]
        with SweepProgress(console, target, deadline, cfg.objectives[0].metric, start_done) as bar:
            while True:
                try:
                    while not all(f.done() for f in futures):
                        c0 = time.thread_time()
                        trials = study.get_trials(deepcopy=False)
                        bar.update(tally(trials, maximize))
                        poll_cpu_s += time.thread_time() - c0
                        trial_log.log_new(trials)
                        # Wakes at once when the last worker ends, not a poll later.
                        wait(futures, timeout=POLL_S, return_when=ALL_COMPLETED)
                    break
                except KeyboardInterrupt:
                    if interrupted:
                        raise
                    interrupted = True
                    stop_file.touch()
                    console.print("stopping: the running trials end after their current session")
            trials = study.get_trials(deepcopy=False)
            trial_log.log_new(trials)
            logged_at = time.time()
            bar.update(tally(trials, maximize))
        fanout_s = time.perf_counter() - t_fanout
        trial_log.log_left_over()
        stop_file.unlink(missing_ok=True)
        Path(f"{stop_file}.lock").unlink(missing_ok=True)
        for f in futures:
            error = f.exception()
            if error is not None:
                raise error
            worker_times.append(f.result())
    outcome = SweepOutcome(
        cfg.study,
        storage_url,
        cfg.tracking_uri(),
        parent,
        tally(trials, maximize),
        interrupted,
        worker_times,
        trial_log.wall_s,
        fanout_s,
        trial_log.cpu_s,
        poll_cpu_s,
        logged_at,
    )
    outcome.failures = find_failures(trials)
    if interrupted:
        tracker.finish_sweep(parent, "KILLED")
        return outcome
    elsewhere = claim_finish(study, storage, storage_url, token)
    if elsewhere:  # another sweep process of the study runs (or ran) the validation
        console.print(elsewhere, highlight=False)
        return outcome
    try:
        post_search(
            study,
            storage,
            cfg,
            sel,
            tracker,
            parent,
            executor,
            evaluator,
            experiments_dir,
            console,
            params,
            outcome,
        )
    except KeyboardInterrupt:  # Ctrl-C during validation: the trials stay, it runs again
        executor.shutdown(wait=False, kill_workers=True)  # its replays stop with it
        release_finish(study, token)
        outcome.interrupted = True
        console.print("stopping: validation interrupted; every trial is kept")
        tracker.finish_sweep(parent, "KILLED", how=VALIDATION_STOPPED)
        return outcome
    finished(study)
    tracker.finish_sweep(parent)
    return outcome

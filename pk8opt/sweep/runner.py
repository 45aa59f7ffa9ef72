"""The search: one Optuna study, its worker processes, and the main process's poll.

The main process checks everything (`prepare`), creates (or reopens) the study
(`open_study`), starts the workers (loky processes, each loading the sessions once)
and polls the study storage (`fan_out`): every newly finished trial goes to the
`TrialSink` the caller gives (`pk8opt.pipeline` logs it to MLflow) and to the progress
bar. On Ctrl-C it creates the stop file, waits for the workers to put their running
trial down, and leaves the study ready to resume. What follows the search (validate,
track) is `pk8opt.pipeline.run`'s.
"""

from __future__ import annotations

import subprocess
import time
import warnings
from collections.abc import Sequence
from concurrent.futures import ALL_COMPLETED, Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml
from rich.console import Console

from pk8opt import __version__
from pk8opt.errors import ConfigError
from pk8opt.params import ParamSet
from pk8opt.progress import steps
from pk8opt.recordings.session import LoadedSession, problems_line
from pk8opt.redact import mask_urls
from pk8opt.sweep.config import SweepConfig, to_dict, validate
from pk8opt.sweep.data import Selection, select_sessions
from pk8opt.sweep.evaluate import Evaluator
from pk8opt.sweep.progress import SweepProgress, tally
from pk8opt.sweep.shared_study import join, process_seed
from pk8opt.sweep.space import grid_size
from pk8opt.sweep.storage import open_storage
from pk8opt.sweep.study import make_pruner, make_sampler
from pk8opt.sweep.study_meta import StudyMeta, read_meta, sweep_meta, write_meta
from pk8opt.sweep.worker import Job, TrialRunIds, counted, run_worker

POLL_S = 0.5


class TrialSink(Protocol):
    """Where the main process sends the study's trials as they finish (the pipeline's
    `TrialLog` writes them to MLflow)."""

    def log_new(self, trials: list[Any]) -> None:
        """The trials as the study holds them now (each poll)."""
        ...

    def log_left_over(self) -> None:
        """Once the workers have ended."""
        ...


@dataclass
class Search:
    """The opened study and what the sweep records about it."""

    study: Any
    storage: Any
    storage_url: str
    target: int | None  # the trials the study should hold (None: until the deadline)
    directions: Sequence[str]  # the objectives' (`maximize`, `minimize`), in order
    meta: StudyMeta
    config_yaml: str  # the config as run, a URL's password masked
    version: str  # `code_version()`


@dataclass
class FanOut:
    """What the search's fan-out ended with."""

    trials: list[Any]
    interrupted: bool = False
    worker_times: list[dict[str, float]] = field(default_factory=list)
    fanout_s: float = 0.0  # wall time from starting the workers to the last trial
    poll_cpu_s: float = 0.0  # CPU time of reading the study for the log and the bar
    logged_at: float = 0.0  # time.time() when the last trial of the fan-out was logged


def code_version() -> str:
    """`git describe` of the source tree, or the package version outside a checkout."""
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


def strategy_params(
    cfg: SweepConfig, where: str, evaluator: Evaluator
) -> tuple[ParamSet, ParamSet, ParamSet]:
    """The parameters the evaluator declares for `strategy:`; a strategy it does not
    know is one line naming the file and the field."""
    try:
        return evaluator.param_sets(cfg.strategy)
    except ConfigError as exc:
        why = str(exc).removeprefix("PM_STRATEGY: ")
        raise ConfigError(f"{where}: strategy: {why}") from None


def prepare(
    cfg: SweepConfig, where: str, evaluator: Evaluator, console: Console | None = None
) -> tuple[ParamSet, Selection, list[str]]:
    """Every check before work starts; returns the parameters, the sessions, and a
    warning line for each session whose data had problems (skipped and counted)."""
    sp, ep, tp = strategy_params(cfg, where, evaluator)
    validate(cfg, where, sp, ep, tp)
    if cfg.sampler.type == "cmaes":
        try:  # an optional package: is it installed?
            import cmaes  # noqa: F401
        except ImportError:
            raise ConfigError(f"{where}: sampler.type: cmaes needs `pip install cmaes`") from None
    sel = select_sessions(cfg.data, where)
    # Load once here: a broken recording stops the sweep before any trial, and the
    # workers then read the normalized cache instead of all building it at once.
    paths = [str(p) for p in [*sel.in_sample, *sel.holdout]]
    loaded: list[Any] = []
    with steps("loading sessions", len(paths), console) as advance:
        for path in paths:
            loaded += evaluator.load([path]) or []
            advance()
    warm_up = getattr(evaluator, "warm_up", None)
    if warm_up is not None:
        warm_up(cfg.strategy, console)
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


def open_study(
    cfg: SweepConfig, where: str, params: ParamSet, sel: Selection, console: Console
) -> Search:
    """Create the study, or reopen it when it was run with the same directions on the
    same sessions; a new study gets the sweep's metadata."""
    import optuna

    target = cfg.trials
    if cfg.sampler.type == "grid":
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
    version = code_version()
    config_yaml = mask_urls(yaml.safe_dump(to_dict(cfg), sort_keys=False))
    meta = sweep_meta(cfg, where, sel, version, target, config_yaml)
    if not old:  # small attrs; the whole record goes to the parent run (study_meta)
        write_meta(study, meta)
    return Search(study, storage, storage_url, target, directions, meta, config_yaml, version)


def fan_out(
    cfg: SweepConfig,
    sel: Selection,
    search: Search,
    *,
    token: str,
    stop_file: Path,
    deadline: float | None,
    executor: Any,
    sink: TrialSink,
    trials: list[Any],
    evaluator: str | None,
    run_ids: TrialRunIds | None,
    console: Console,
) -> FanOut:
    """Run the workers until the study holds its target (or the deadline, or Ctrl-C),
    sending each finished trial to `sink`; `trials` is the study as it was before."""
    start_done = counted(trials, token)
    if search.target is not None and start_done >= search.target:
        console.print(
            f"study {cfg.study!r} already holds {start_done} of {search.target} trials; "
            f"`--trials N` (N > {start_done}) raises the budget and runs the difference"
        )
        sink.log_new(trials)  # the finished trials no process logged
        return FanOut(trials)
    if start_done:
        console.print(f"resuming study {cfg.study!r}: {start_done} trials already done")
    console.print(
        f"sweeping {cfg.strategy} over {len(sel.in_sample)} in-sample sessions "
        f"({len(sel.holdout)} held out) with {cfg.workers} worker{'s' if cfg.workers != 1 else ''}"
    )
    jobs = _jobs(cfg, sel, search, token, stop_file, deadline, evaluator, run_ids)
    t_fanout = time.perf_counter()
    futures: list[Future[Any]] = [executor.submit(run_worker, job) for job in jobs]
    maximize = search.directions[0] == "maximize"
    with SweepProgress(
        console, search.target, deadline, cfg.objectives[0].metric, start_done
    ) as bar:
        out = _poll(search.study, maximize, futures, bar, sink, stop_file, console)
    out.fanout_s = time.perf_counter() - t_fanout
    sink.log_left_over()
    stop_file.unlink(missing_ok=True)
    Path(f"{stop_file}.lock").unlink(missing_ok=True)
    for f in futures:
        error = f.exception()
        if error is not None:
            raise error
        out.worker_times.append(f.result())
    return out


def _jobs(
    cfg: SweepConfig,
    sel: Selection,
    search: Search,
    token: str,
    stop_file: Path,
    deadline: float | None,
    evaluator: str | None,
    run_ids: TrialRunIds | None,
) -> list[Job]:
    """One job per worker, each with its own stream of the sampler's seed."""
    # the sampler's seed + index: this process's own stream (see shared_study)
    offset = process_seed(cfg.sampler.seed or 0, join(search.study, search.storage_url)) or 0
    offset -= cfg.sampler.seed or 0
    return [
        Job(
            config=to_dict(cfg),
            sessions=[str(p) for p in sel.in_sample],
            storage=search.storage_url,
            token=token,
            target=search.target,
            deadline=deadline,
            stop_file=str(stop_file),
            evaluator=evaluator,
            index=offset + i,
            windows=[sel.manifests[p].window_start_s for p in sel.in_sample],
            run_ids=run_ids,
        )
        for i in range(cfg.workers)
    ]


def _poll(
    study: Any,
    maximize: bool,
    futures: list[Future[Any]],
    bar: SweepProgress,
    sink: TrialSink,
    stop_file: Path,
    console: Console,
) -> FanOut:
    """Follow the study until every worker has returned; the first Ctrl-C creates the
    stop file (the workers end after their current session), a second one raises."""
    interrupted = False
    poll_cpu_s = 0.0
    while True:
        try:
            while not all(f.done() for f in futures):
                c0 = time.thread_time()
                trials = study.get_trials(deepcopy=False)
                bar.update(tally(trials, maximize))
                poll_cpu_s += time.thread_time() - c0
                sink.log_new(trials)
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
    sink.log_new(trials)
    logged_at = time.time()
    bar.update(tally(trials, maximize))
    return FanOut(trials, interrupted, poll_cpu_s=poll_cpu_s, logged_at=logged_at)

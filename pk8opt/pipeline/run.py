"""`pk8opt sweep`: search -> validate -> track, the one place that ties them together.

The main process checks everything and opens the study (`sweep.runner`), opens the
sweep's MLflow parent run (the single MLflow writer, `tracking`), runs the search with
the trials logged as child runs as they finish (`trial_log`), then, unless stopped or
another process of the study does it, the validation stage (`validation.stage`), and
ends the parent run. On Ctrl-C the trials that finished are logged and the study is
left ready to resume; Ctrl-C during validation stops it before its verdict is stored
(none is: deploy refuses the study until the same command validates it), or, once the
storing has begun, is held until it has ended.
"""

from __future__ import annotations

import signal
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from pk8opt.live.markets import MARKETS_ATTR, market_list
from pk8opt.params import ParamSet
from pk8opt.pipeline.trial_log import TrialLog
from pk8opt.redact import mask_url
from pk8opt.sweep.config import SweepConfig
from pk8opt.sweep.data import Selection
from pk8opt.sweep.evaluate import load_evaluator
from pk8opt.sweep.failures import Failures, find_failures
from pk8opt.sweep.interruptible import Interruptible
from pk8opt.sweep.orphan import watch_parent
from pk8opt.sweep.parent_params import parent_params, sweep_description
from pk8opt.sweep.progress import Tally, tally
from pk8opt.sweep.runner import FanOut, Search, fan_out, open_study, prepare
from pk8opt.sweep.shared_study import claim_finish, finished, release_finish
from pk8opt.sweep.storage import study_lock
from pk8opt.sweep.study_meta import RECORD_NAME, sweep_record
from pk8opt.tracking import DESCRIPTION, Tracker
from pk8opt.validation.stage import run_validation

VALIDATION_STOPPED = "stopped during validation (the same command validates the trials)"
NO_VERDICT = (
    "no verdict is stored (deploy refuses this study until the same command validates it); "
    "a lockbox already played is kept and not played again"
)
LATE_CTRL_C = "Ctrl-C came while the verdict was being stored: it is stored, the sweep is complete"


class HeldCtrlC:
    """From `hold()` to `release()`, Ctrl-C (and the signals this process turns into it)
    is noted instead of raised: what validation stores (the parent run's summary, the
    verdict, the study's end) is stored whole, or not begun."""

    SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")

    def __init__(self) -> None:
        self.came = False
        self._saved: dict[int, Any] = {}

    def _note(self, signum: int, frame: Any) -> None:
        self.came = True

    def hold(self) -> None:
        if self._saved or threading.current_thread() is not threading.main_thread():
            return
        for name in self.SIGNALS:
            sig = getattr(signal, name, None)
            if sig is not None and callable(handler := signal.getsignal(sig)):
                self._saved[sig] = handler  # one that raises KeyboardInterrupt
                signal.signal(sig, self._note)

    def release(self) -> bool:
        """Put the handlers back; whether a signal came while they were held."""
        for sig, handler in self._saved.items():
            signal.signal(sig, handler)
        self._saved.clear()
        return self.came


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
    validated: Any = None  # the validation stage's findings (`validation.stage.Validated`)


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

    console = console or Console(emoji=False)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    params, sel, data_warnings = prepare(cfg, where, load_evaluator(evaluator), console)
    for line in data_warnings:
        console.print(f"[yellow]warning[/yellow] {line}", highlight=False, emoji=False)
    search = open_study(cfg, where, params, sel, console)
    search.study.set_user_attr(MARKETS_ATTR, market_list(sel.manifests.values()))
    tracker, parent = start_tracking(cfg, sel, search, console)
    token = uuid.uuid4().hex[:12]
    experiments_dir.mkdir(parents=True, exist_ok=True)
    stop_file = experiments_dir / f".stop-{token}"
    deadline = time.time() + cfg.timeout_s if cfg.timeout_s else None
    trials = search.study.get_trials(deepcopy=False)
    trial_log = TrialLog(tracker, parent, cfg.study, token, trials)
    executor = get_reusable_executor(
        max_workers=cfg.workers,
        timeout=60,
        initializer=watch_parent,  # end with us (kill -9)
    )
    fan = fan_out(
        cfg,
        sel,
        search,
        token=token,
        stop_file=stop_file,
        deadline=deadline,
        executor=executor,
        sink=trial_log,
        trials=trials,
        evaluator=evaluator,
        run_ids=tracker.trial_run_ids(parent, cfg.study),
        console=console,
    )
    outcome = _outcome(cfg, search, parent, fan, trial_log)
    if fan.interrupted:
        tracker.finish_sweep(parent, "KILLED")
        return outcome
    after = _AfterSearch(cfg, sel, search, tracker, parent, executor, token, console)
    after.run(evaluator, experiments_dir, params, outcome)
    return outcome


def start_tracking(
    cfg: SweepConfig, sel: Selection, search: Search, console: Console
) -> tuple[Tracker, str]:
    """The sweep's MLflow experiment and parent run (created once, reopened by every
    later process of the study), and the experiment's Runs view."""
    n_in, n_out = len(sel.in_sample), len(sel.holdout)
    # One process at a time creates the MLflow tables, the experiment, the parent run.
    with study_lock(search.storage_url, f"{cfg.study}:mlflow"):
        tracker = Tracker(cfg.tracking_uri(), cfg.experiment_name(), cfg.mlflow.artifact_location)
        parent = tracker.start_sweep(
            cfg.study,
            mask_url(search.storage_url),  # tags and artifacts never hold a password
            params=parent_params(cfg, n_in, n_out),
            tags={
                DESCRIPTION: sweep_description(cfg, n_in, n_out),
                "pk8opt.fingerprint": sel.fingerprint,
                "pk8opt.code_version": search.version,
                "pk8opt.in_sample_window": sel.window(sel.in_sample),
                "pk8opt.holdout_window": sel.window(sel.holdout),
            },
            texts={
                "config.yaml": search.config_yaml,
                RECORD_NAME: sweep_record(search.meta, cfg, sel),
            },
        )
    metrics = [o.metric for o in cfg.objectives]
    tracker.set_runs_view(search.directions, list(cfg.space), parent, metrics)
    if tracker.note:
        console.print(f"[yellow]note[/yellow] {tracker.note}", highlight=False)
    return tracker, parent


def _outcome(
    cfg: SweepConfig, search: Search, parent: str, fan: FanOut, trial_log: TrialLog
) -> SweepOutcome:
    maximize = search.directions[0] == "maximize"
    outcome = SweepOutcome(
        cfg.study,
        search.storage_url,
        cfg.tracking_uri(),
        parent,
        tally(fan.trials, maximize),
        fan.interrupted,
        fan.worker_times,
        trial_log.wall_s,
        fan.fanout_s,
        trial_log.cpu_s,
        fan.poll_cpu_s,
        fan.logged_at,
    )
    outcome.failures = find_failures(fan.trials)
    return outcome


@dataclass
class _AfterSearch:
    """The stages after the search, run by one process of the study: validation, then
    the parent run's end."""

    cfg: SweepConfig
    sel: Selection
    search: Search
    tracker: Tracker
    parent: str
    executor: Any
    token: str
    console: Console

    def run(
        self,
        evaluator: str | None,
        experiments_dir: Path,
        params: ParamSet,
        outcome: SweepOutcome,
    ) -> None:
        study, storage = self.search.study, self.search.storage
        elsewhere = claim_finish(study, storage, self.search.storage_url, self.token)
        if elsewhere:  # another sweep process of the study runs (or ran) the validation
            self.console.print(elsewhere, highlight=False)
            return
        held = HeldCtrlC()  # held from the first thing validation stores to the end
        try:
            try:
                self.post_search(evaluator, experiments_dir, params, outcome, held)
            except KeyboardInterrupt:  # before anything was stored: no verdict, runs again
                self.stopped(outcome)
                return
            finished(study)
            self.tracker.finish_sweep(self.parent)
        finally:
            if held.release():
                self.console.print(LATE_CTRL_C, highlight=False)

    def stopped(self, outcome: SweepOutcome) -> None:
        """Ctrl-C during validation, before its verdict: the trials stay, it runs again."""
        self.executor.shutdown(wait=False, kill_workers=True)  # its replays stop with it
        release_finish(self.search.study, self.token)
        outcome.interrupted = True
        self.console.print("stopping: validation interrupted; every trial is kept")
        self.console.print(NO_VERDICT, highlight=False)
        self.tracker.finish_sweep(self.parent, "KILLED", how=VALIDATION_STOPPED)

    def post_search(
        self,
        evaluator: str | None,
        experiments_dir: Path,
        params: ParamSet,
        outcome: SweepOutcome,
        held: HeldCtrlC,
    ) -> None:
        """The stage after the search (`pk8opt.validation`), its result on `outcome`."""
        t0 = time.perf_counter()
        done = run_validation(
            self.search.study,
            self.search.storage,
            self.cfg,
            self.sel,
            tracker=self.tracker,
            parent=self.parent,
            executor=Interruptible(self.executor),  # Ctrl-C is heard while it waits on replays
            evaluator=evaluator,
            experiments_dir=experiments_dir,
            console=self.console,
            every=params,
            before_storing=held.hold,
        )
        outcome.validation_s = time.perf_counter() - t0
        if done is not None:
            outcome.validated = done
            outcome.verdict = done.verdict.tag()
            outcome.chosen = done.chosen.trial

"""The Tracker: parent and child runs, lookups for deploy, the UI command."""

from __future__ import annotations

import getpass
import logging
import math
import os
import sqlite3
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pk8opt.errors import ConfigError
from pk8opt.redact import mask_url
from pk8opt.sweep.storage import sqlalchemy_url
from pk8opt.tracking import webui
from pk8opt.tracking._rows import ChildRun, MintedRunIds, insert_runs, sql_store
from pk8opt.tracking.uri import first_line, store_problem
from pk8opt.tracking.view import VIEW_TAG, runs_path, view_state

if TYPE_CHECKING:
    from pk8opt.sweep.worker import TrialRunIds

ROLE = "pk8opt.role"
STUDY = "pk8opt.study"
STORAGE = "pk8opt.storage"
TRIAL = "pk8opt.trial"
PARENT = "mlflow.parentRunId"
# a trial's run opened on an MLflow server when the trial started, not yet written
PLACEHOLDER = "pk8opt.placeholder"
DESCRIPTION = "mlflow.note.content"  # the run's description in the MLflow UI
# A trial's run page draws one chart per metric: a metric named `<section>/<name>` gets a
# section of its own, and MLflow puts such sections above "Model metrics" (the section of
# every plain name, one single-bar chart per aggregate). The per-session P&L is logged
# there too, so it is the first chart of the run; `session_pnl_usdc` keeps the same curve
# for whatever reads it by that name.
PNL_CURVE = "sessions/pnl_usdc"
PNL_SERIES = "session_pnl_usdc"


def _run_source() -> dict[str, str]:
    """Who ran it and from what, as MLflow's own tags say it."""

    try:
        user = getpass.getuser()
    except Exception:  # no user name in this environment
        user = "unknown"
    return {
        "mlflow.user": user,
        "mlflow.source.name": "pk8opt sweep",
        "mlflow.source.type": "LOCAL",
    }


RUN_SOURCE = _run_source()


@dataclass
class TrialRecord:
    """A finished trial as the tracker logs it."""

    number: int
    state: str  # COMPLETE | PRUNED | FAIL
    params: dict[str, Any]
    metrics: dict[str, float]
    start_ms: int | None = None
    end_ms: int | None = None
    error: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    # metrics with a history (MLflow shows a curve): key -> [(step, value)]
    series: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    run_id: str | None = None  # the run id the trial carries (`RUN_ID_ATTR`), if any


def _quiet() -> None:
    # No usage telemetry leaves a trader's machine unless they ask for it.
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    # With a tracking server MLflow prints "View run ... at: URL" for every finished run,
    # over the progress bar; the sweep names the UI once at its end.
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    import mlflow  # noqa: F401  (its import configures the "mlflow" logger; override after)

    for name in ("alembic", "mlflow", "alembic.runtime.migration"):
        logging.getLogger(name).setLevel(logging.WARNING)


_TUNED: set[str] = set()


def _tune_sqlite(db_path: Path) -> None:
    """WAL and synchronous=NORMAL for this process's connections to the MLflow sqlite
    file: a trial's child run costs ~30 ms instead of ~120 ms of fsyncs. A crash of the
    machine (not of pk8opt) may lose the last few runs; the Optuna study keeps them
    and the next sweep of the study logs them again."""
    key = str(db_path.resolve())
    if key in _TUNED:
        return
    _TUNED.add(key)
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        if not isinstance(dbapi_conn, sqlite3.Connection):
            return
        files = [row[2] for row in dbapi_conn.execute("PRAGMA database_list")]
        if key in files:
            dbapi_conn.execute("PRAGMA journal_mode=WAL")
            dbapi_conn.execute("PRAGMA synchronous=NORMAL")


def _finite(metrics: Mapping[str, Any]) -> dict[str, float]:
    out = {}
    for k, v in metrics.items():
        if isinstance(v, bool) or not isinstance(v, int | float):
            continue
        if math.isfinite(float(v)):
            out[k] = float(v)
    return out


def artifact_root_for(tracking_uri: str) -> str | None:
    """`sqlite:///experiments/mlflow.db` keeps artifacts in `experiments/mlartifacts`."""
    if tracking_uri.startswith("sqlite:///"):
        db = Path(tracking_uri.removeprefix("sqlite:///"))
        return (db.parent / "mlartifacts").resolve().as_uri()
    return None


def is_server(tracking_uri: str) -> bool:
    """An MLflow tracking server (`http://host:5000`): it is the UI itself."""
    return tracking_uri.startswith(("http://", "https://"))


def store_uri(tracking_uri: str) -> str:
    """The URI as MLflow should open it: `postgresql://` with the installed driver."""
    if tracking_uri.startswith(("postgresql://", "postgres://")):
        return sqlalchemy_url(tracking_uri)
    return tracking_uri


def local_artifacts_note(tracking_uri: str, location: str) -> str | None:
    """A line when a shared store (a database) keeps its artifacts on this machine only."""
    if is_server(tracking_uri) or tracking_uri.startswith(("sqlite:", "file:")):
        return None
    if location.startswith(("file:", "/")) or "://" not in location:
        return (
            f"artifacts (plots, reports) go to {location}, on this machine only: give "
            "--artifacts (or mlflow.artifact_location) a location every machine reaches, "
            "or use an `mlflow server` as the tracking URI"
        )
    return None


class Tracker:
    def __init__(
        self, tracking_uri: str, experiment: str, artifact_location: str | None = None
    ) -> None:
        _quiet()
        from mlflow import MlflowClient

        if tracking_uri.startswith("sqlite:///"):
            db = Path(tracking_uri.removeprefix("sqlite:///"))
            db.parent.mkdir(parents=True, exist_ok=True)
            _tune_sqlite(db)
        self.tracking_uri = tracking_uri
        self.note: str | None = None  # a line for the user about where artifacts go
        problem = store_problem(tracking_uri)  # at once, not after MLflow's retries
        if problem:
            raise ConfigError(
                f"mlflow.tracking_uri {mask_url(tracking_uri)}: {problem}; no trial was run: "
                "repair or move the store, or give another --tracking-uri"
            )
        try:
            self.client = MlflowClient(tracking_uri=store_uri(tracking_uri))
            exp = self.client.get_experiment_by_name(experiment)
            if exp is None:
                exp = self._create_experiment(experiment, artifact_location)
        except ConfigError:
            raise
        except Exception as exc:  # the store is unreachable or not an MLflow store
            raise ConfigError(f"mlflow.tracking_uri {mask_url(tracking_uri)}: {exc}") from None
        if artifact_location is None:  # an explicit location is the user's choice
            self.note = local_artifacts_note(tracking_uri, exp.artifact_location or "")
        if exp.lifecycle_stage != "active":
            raise ConfigError(
                f"mlflow.experiment {experiment!r} is deleted in {tracking_uri}: restore it "
                "in the MLflow UI or name another experiment"
            )
        self.experiment_id = exp.experiment_id
        self._artifact_location = exp.artifact_location
        self._store = sql_store(self.client)

    def trial_runs_target(self, parent_id: str, study: str) -> tuple[str, str, str, str] | None:
        """What a worker needs to open each trial's run on an MLflow server when the
        trial starts (`open_trial_run`), so that the trial carries its run id; None
        where the sweep mints the ids itself (a SQL store) or the store is no server."""
        if self.mints_run_ids or not is_server(self.tracking_uri):
            return None
        return (self.tracking_uri, self.experiment_id, parent_id, study)

    def trial_run_ids(self, parent_id: str, study: str) -> TrialRunIds | None:
        """How a worker gives each trial its run id as the trial starts: minted (a SQL
        store), opened on the MLflow server (`open_trial_run`), or None (the run is
        created when the finished trial is written)."""
        if self.mints_run_ids:
            return MintedRunIds()
        target = self.trial_runs_target(parent_id, study)
        return OpenTrialRuns(target) if target is not None else None

    @property
    def mints_run_ids(self) -> bool:
        """Whether a trial's run can be written under an id given in advance: on a SQL
        store (sqlite, PostgreSQL, MySQL) the rows are ours to insert; an MLflow server
        picks its run ids itself."""
        return self._store is not None

    def _create_experiment(self, name: str, artifact_location: str | None) -> Any:
        location = artifact_location or artifact_root_for(self.tracking_uri)
        if location is None and not is_server(self.tracking_uri):
            # MLflow's default would be ./mlruns of whichever directory ran first
            location = Path("experiments/mlartifacts").resolve().as_uri()
        if location and "://" not in location:
            location = Path(location).resolve().as_uri()
        try:
            return self.client.get_experiment(
                self.client.create_experiment(name, artifact_location=location)
            )
        except Exception:
            exp = self.client.get_experiment_by_name(name)  # another process made it first
            if exp is None:
                raise
            return exp

    # -- the sweep (parent) run -------------------------------------------------------
    def start_sweep(
        self,
        study: str,
        storage: str,
        params: Mapping[str, Any],
        tags: Mapping[str, str],
        texts: Mapping[str, str],
    ) -> str:
        """The study's parent run, reopened if this study was tracked before (resume).
        Two processes starting the same study at once agree on the first-created one."""
        from mlflow.entities import Param, RunTag

        found = self._sweep_runs(study)
        if found:
            run_id = found[0].info.run_id
            self.client.update_run(run_id, status="RUNNING")
            self.client.set_tag(run_id, "pk8opt.resumed", time.strftime("%Y-%m-%dT%H:%M:%S"))
            return run_id
        run = self.client.create_run(
            self.experiment_id,
            run_name=study,
            tags={ROLE: "sweep", STUDY: study, STORAGE: mask_url(storage), **RUN_SOURCE, **tags},
        )
        run_id = run.info.run_id
        first = self._sweep_runs(study)[0].info.run_id
        if first != run_id:  # another process created the study's parent meanwhile
            self.client.delete_run(run_id)
            return first
        self.client.log_batch(
            run_id,
            params=[Param(k, str(v)[:6000]) for k, v in params.items()],
            tags=[RunTag(k, str(v)) for k, v in tags.items()],
        )
        for name, text in texts.items():
            self.client.log_text(run_id, text, name)
        return run_id

    def set_runs_view(
        self,
        directions: Sequence[str],
        params: Sequence[str],
        parent_run_id: str | None = None,
        objective_metrics: Sequence[str] = (),
    ) -> None:
        """The experiment's shared Runs view (`view.py`): objective, main metrics, the
        searched parameters. A courtesy: a store that refuses it does not stop a sweep."""
        try:
            state = view_state(directions, params, parent_run_id, objective_metrics)
            self.client.set_experiment_tag(self.experiment_id, VIEW_TAG, state)
        except Exception:
            pass

    def _sweep_runs(self, study: str) -> list[Any]:
        """The study's parent runs, first created first (normally one)."""
        found = self.client.search_runs(
            [self.experiment_id],
            filter_string=f"tags.`{ROLE}` = 'sweep' and tags.`{STUDY}` = '{study}'",
            max_results=100,
        )
        return sorted(found, key=lambda r: (r.info.start_time, r.info.run_id))

    def finish_sweep(self, run_id: str, status: str = "FINISHED", how: str | None = None) -> None:
        """End the parent run; its description gains how the sweep ended (`how`, or
        said from the status and the verdict)."""
        try:
            tags = self.client.get_run(run_id).data.tags
            text = tags.get(DESCRIPTION, "").split("\nEnded")[0]
            verdict = tags.get("pk8opt.verdict")
            how = how or (
                "stopped before its budget (resume with the same command)"
                if status == "KILLED"
                else f"validation verdict: {verdict}"
                if verdict
                else "no validation verdict"
            )
            ended = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
            self.client.set_tag(run_id, DESCRIPTION, f"{text}\nEnded {ended} UTC: {how}"[:5000])
        except Exception:  # a description is a courtesy; never fail a sweep on it
            pass
        self.client.set_terminated(run_id, status=status)

    def log_summary(
        self,
        run_id: str,
        metrics: Mapping[str, Any],
        tags: Mapping[str, str] | None = None,
        files: list[Path] | None = None,
        texts: Mapping[str, str] | None = None,
    ) -> None:
        from mlflow.entities import Metric, RunTag

        now = int(time.time() * 1000)
        self.client.log_batch(
            run_id,
            metrics=[Metric(k, shown(k, v), now, 0) for k, v in _finite(metrics).items()],
            tags=[RunTag(k, str(v)) for k, v in (tags or {}).items()],
        )
        for path in files or []:
            self.client.log_artifact(run_id, str(path))
        for name, text in (texts or {}).items():
            self.client.log_text(run_id, text, name)

    # -- trials (child runs) ----------------------------------------------------------
    def logged_trials(self, parent_id: str) -> dict[int, str]:
        """Trial number -> child run id, for the trials already logged under `parent_id`."""
        out: dict[int, str] = {}
        token = None
        while True:
            page = self.client.search_runs(
                [self.experiment_id],
                filter_string=f"tags.`{PARENT}` = '{parent_id}'",
                max_results=1000,
                page_token=token,
            )
            for r in page:
                if TRIAL in r.data.tags and PLACEHOLDER not in r.data.tags:
                    out[int(r.data.tags[TRIAL])] = r.info.run_id
            token = page.token
            if not token:
                return out

    def log_trials(
        self, parent_id: str, study: str, recs: list[TrialRecord], *, unique: bool = False
    ) -> dict[int, str]:
        """Finished trials as child runs of `parent_id`: trial number -> run id. On a SQL
        store they are written together in one transaction (see `_rows`). With `unique`,
        a trial already logged under the parent (by another sweep process) is not logged
        again: its run id is returned."""
        runs = [_child_run(parent_id, study, rec) for rec in recs]
        if self._store is not None:
            from sqlalchemy.exc import IntegrityError

            try:
                ids = insert_runs(
                    self._store,
                    self.experiment_id,
                    self._artifact_location,
                    runs,
                    (PARENT, TRIAL) if unique else None,
                )
            except Exception as exc:  # MLflow's session wraps the database's error
                if not isinstance(exc.__cause__ or exc, IntegrityError):
                    raise
                # another process wrote one of these trials (under the id it carries) first
                ids = insert_runs(
                    self._store, self.experiment_id, self._artifact_location, runs, (PARENT, TRIAL)
                )
        else:
            ids = []
            for rec, run in zip(recs, runs, strict=True):
                held = self.trial_run_id(study, rec.number) if unique else None
                ids.append(held or self.write_run(run))
        return {rec.number: run_id for rec, run_id in zip(recs, ids, strict=True)}

    def write_run(self, run: ChildRun) -> str:
        """One child run through the MLflow client (any kind of store): into the run the
        trial opened when it started (`open_trial_run`), or a new one."""
        from mlflow.entities import Metric, Param, RunTag

        run_id = self._placeholder(run.run_id) if run.run_id else None
        if run_id is None:
            run_id = self.client.create_run(
                self.experiment_id, start_time=run.start_ms, run_name=run.name, tags=run.tags
            ).info.run_id
        else:
            self.client.log_batch(run_id, tags=[RunTag(k, v) for k, v in run.tags.items()])
        metrics = [Metric(k, v, run.end_ms, step) for k, v, step in run.metric_rows()]
        params = [Param(k, v) for k, v in run.params.items()]
        if params:  # MLflow's limit of 1,000 counts metrics, params and tags together
            self.client.log_batch(run_id, params=params)
        for i in range(0, len(metrics), 1000):
            self.client.log_batch(run_id, metrics=metrics[i : i + 1000])
        self.client.set_terminated(run_id, status=run.status, end_time=run.end_ms)
        if run.run_id == run_id:  # written: no longer a placeholder
            self.client.delete_tag(run_id, PLACEHOLDER)
        return run_id

    def _placeholder(self, run_id: str) -> str | None:
        """`run_id` when it is a trial's run still waiting to be written."""
        try:
            run = self.client.get_run(run_id)
        except Exception:  # not in this store (deleted, or another store's id)
            return None
        ok = PLACEHOLDER in run.data.tags and run.info.lifecycle_stage == "active"
        return run_id if ok else None

    def log_metrics(self, run_id: str, metrics: Mapping[str, Any]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        batch = [Metric(k, v, now, 0) for k, v in _finite(metrics).items()]
        if batch:
            self.client.log_batch(run_id, metrics=batch)

    # -- lookups for deploy -----------------------------------------------------------
    def run_tags(self, run_id: str) -> dict[str, str]:
        try:
            run = self.client.get_run(run_id)
        except Exception:
            raise ConfigError(f"--run-id {run_id}: no such run in {self.tracking_uri}") from None
        return dict(run.data.tags)

    def trial_run_id(self, study: str, number: int) -> str | None:
        found = self.client.search_runs(
            [self.experiment_id],
            filter_string=f"tags.`{STUDY}` = '{study}' and tags.`{TRIAL}` = '{number}'",
            max_results=10,
        )
        written = [r for r in found if PLACEHOLDER not in r.data.tags]
        return written[0].info.run_id if written else None


_CLIENTS: dict[str, Any] = {}


def open_trial_run(target: tuple[str, str, str, str], number: int) -> str | None:
    """Open trial `number`'s run on the MLflow server of `target`
    (`Tracker.trial_runs_target`) as the trial starts, in the worker process: a server
    picks its run ids, and Optuna takes no user attr once the trial is told. The run
    shows as running, tagged `pk8opt.placeholder`, until the sweep's main process
    writes the finished trial into it. None when the server does not answer: the
    trial runs anyway, and its run is created when it is written."""
    uri, experiment_id, parent_id, study = target
    try:
        if uri not in _CLIENTS:
            _quiet()
            from mlflow import MlflowClient

            _CLIENTS[uri] = MlflowClient(tracking_uri=uri)
        tags = {PARENT: parent_id, STUDY: study, TRIAL: str(number), **RUN_SOURCE}
        tags |= {PLACEHOLDER: "1", "pk8opt.state": "running"}
        run = _CLIENTS[uri].create_run(experiment_id, run_name=f"trial-{number}", tags=tags)
        return str(run.info.run_id)
    except Exception:  # the trial matters more than its run's id
        return None


@dataclass(frozen=True)
class OpenTrialRuns:
    """`open_trial_run` on one server as each trial starts: the sweep's `TrialRunIds`
    for an MLflow server, picklable for its workers."""

    target: tuple[str, str, str, str]

    def __call__(self, number: int) -> str | None:
        return open_trial_run(self.target, number)


def sweep_parent_runs(tracking_uri: str) -> list[Any]:
    """Every sweep's parent run in the store (tag `pk8opt.role=sweep`), up to 1000;
    empty when the store cannot be read."""
    if store_problem(tracking_uri):
        return []  # said by the caller (`store_problem`), without MLflow's retries
    _quiet()
    from mlflow import MlflowClient

    try:
        client = MlflowClient(tracking_uri=tracking_uri)
        exps = [e.experiment_id for e in client.search_experiments()]
        return list(
            client.search_runs(exps, filter_string=f"tags.`{ROLE}` = 'sweep'", max_results=1000)
        )
    except Exception:  # an unreachable store: the caller lists what Optuna knows
        return []


def param_text(value: Any) -> str:
    """A parameter as a person reads it: ints as ints (`30`, not `30.0`), other floats
    to 4 significant digits (`0.02031`), everything else as is. The exact values stay
    in the Optuna study, which `deploy` reads."""
    if isinstance(value, bool) or not isinstance(value, float):
        return str(value)
    if math.isfinite(value) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.4g}"


def run_status(rec: TrialRecord) -> str:
    """MLflow's status: a pruned trial ended as planned (FINISHED, tagged
    `pk8opt.state=pruned`); KILLED is kept for trials cut off by a stop or a kill."""
    if rec.state == "FAIL" and rec.tags.get("pk8opt.interrupted"):
        return "KILLED"
    return {"COMPLETE": "FINISHED", "PRUNED": "FINISHED"}.get(rec.state, "FAILED")


def shown(key: str, value: float) -> float:
    """A metric as the MLflow UI shows it: 4 significant digits, cents kept (7 digits
    for an objective, which ranks the trials). The exact figures stay in the Optuna
    study and the sweep's artifacts."""
    if value == 0 or not math.isfinite(value) or float(value).is_integer():
        return value
    digits = 7 if "objective" in key else 4
    return round(value, max(2, digits - 1 - math.floor(math.log10(abs(value)))))


def _child_run(parent_id: str, study: str, rec: TrialRecord) -> ChildRun:
    tags = {PARENT: parent_id, STUDY: study, TRIAL: str(rec.number), **RUN_SOURCE, **rec.tags}
    tags["pk8opt.state"] = rec.state.lower()
    what = {"COMPLETE": "complete", "PRUNED": "pruned early", "FAIL": "failed"}
    tags[DESCRIPTION] = f"Trial {rec.number} of sweep {study}: {what.get(rec.state, rec.state)}"
    if rec.error:
        tags["pk8opt.error"] = rec.error[:5000]
        tags[DESCRIPTION] += f": {rec.error[:200]}"
    end_ms = rec.end_ms or int(time.time() * 1000)
    metrics = dict(rec.metrics)
    if rec.state == "PRUNED":  # a partial score must not sort among full ones: beside them
        for key in [k for k in metrics if k == "objective" or k.startswith("objective_")]:
            metrics[f"pruned_{key}"] = metrics.pop(key)
    if rec.start_ms and rec.end_ms:
        metrics["duration_s"] = (rec.end_ms - rec.start_ms) / 1000
    return ChildRun(
        name=f"trial-{rec.number}",
        tags=tags,
        params={k: param_text(v) for k, v in rec.params.items()},
        metrics={k: shown(k, v) for k, v in _finite(metrics).items()},
        status=run_status(rec),
        start_ms=rec.start_ms or end_ms,
        end_ms=end_ms,
        run_id=rec.run_id,
        series=_series(rec.series),
    )


def _series(series: Mapping[str, list[tuple[int, float]]]) -> dict[str, list[tuple[int, float]]]:
    """The finite points of each curve, the P&L curve also under `PNL_CURVE`."""
    out = {
        k: [(int(s), float(v)) for s, v in points if math.isfinite(float(v))]
        for k, points in series.items()
    }
    if out.get(PNL_SERIES):
        out[PNL_CURVE] = out[PNL_SERIES]
    return out


def open_run_tags(tracking_uri: str, run_id: str) -> dict[str, str]:
    """The tags of any run in the store (used by `deploy --run-id`)."""
    problem = store_problem(tracking_uri)
    if problem:
        raise ConfigError(f"--run-id {run_id}: MLflow store {mask_url(tracking_uri)}: {problem}")
    _quiet()
    from mlflow import MlflowClient

    try:
        return dict(MlflowClient(tracking_uri=store_uri(tracking_uri)).get_run(run_id).data.tags)
    except Exception:
        raise ConfigError(f"--run-id {run_id}: no such run in {tracking_uri}") from None


def find_trial_run(tracking_uri: str, study: str, number: int) -> str | None:
    """The child run id of a trial, searching every experiment of the store."""
    if tracking_uri.startswith("sqlite:///") and not Path(tracking_uri[10:]).exists():
        return None  # no store: do not create an empty one
    if store_problem(tracking_uri):
        return None  # an unreadable store holds no run to name
    _quiet()
    from mlflow import MlflowClient

    try:
        client = MlflowClient(tracking_uri=store_uri(tracking_uri))
        exps = [e.experiment_id for e in client.search_experiments()]
        found = client.search_runs(
            exps,
            filter_string=f"tags.`{STUDY}` = '{study}' and tags.`{TRIAL}` = '{number}'",
            max_results=1,
        )
    except Exception:
        return None
    return found[0].info.run_id if found else None


def ui_command(tracking_uri: str, port: int, workers: int = 1) -> list[str]:
    """The `mlflow ui` command line for this store, bound to 127.0.0.1. One worker by
    default: MLflow's four answer no faster for one person and cost a laptop memory.

    The store's password is left out (a command line is readable by every user of the
    machine): the caller gives it to the UI another way (for PostgreSQL, a PGPASSFILE)."""
    from urllib.parse import urlsplit, urlunsplit

    store = store_uri(tracking_uri)
    parts = urlsplit(store)
    if parts.password is not None:
        host = parts.netloc.rsplit("@", 1)[1]
        store = urlunsplit(parts._replace(netloc=f"{parts.username or ''}@{host}"))
    cmd = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", store]
    root = artifact_root_for(tracking_uri)
    if root:
        cmd += ["--default-artifact-root", root]
    cmd += ["--app-name", webui.APP_NAME]  # MLflow's app, its page changed (`webui`)
    return cmd + ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]


def ui_environment(base: Mapping[str, str], folder: Path) -> dict[str, str]:
    """The environment of `ui_command`: `base`, with the app it names declared in
    `folder` (a private folder of the caller, on PYTHONPATH; see `webui`) and without
    MLflow's job runners (background processes for GenAI evaluations, which a sweep's
    runs never use)."""
    path = str(webui.plugin_folder(folder))
    if base.get("PYTHONPATH"):
        path = f"{path}{os.pathsep}{base['PYTHONPATH']}"
    return {**base, "PYTHONPATH": path, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


def runs_view_url(base: str, tracking_uri: str, experiment: str | None = None) -> str:
    """The MLflow UI's Runs view (the classic machine-learning view, not the GenAI
    traces page MLflow 3 opens by default) of the newest sweep's experiment, or of
    `experiment`; the UI's home when the store has none yet."""
    base = base.rstrip("/")
    if store_problem(tracking_uri):
        return f"{base}/"  # an unreadable store: the UI will say more than we can
    try:
        _quiet()
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=tracking_uri)
        if experiment is not None:
            exp = client.get_experiment_by_name(experiment)
            exp_id = exp.experiment_id if exp is not None else None
        else:
            runs = client.search_runs(
                [e.experiment_id for e in client.search_experiments()],
                filter_string=f"tags.`{ROLE}` = 'sweep'",
                order_by=["attributes.start_time DESC"],
                max_results=1,
            )
            exp_id = runs[0].info.experiment_id if runs else None
        tags = dict(client.get_experiment(exp_id).tags) if exp_id is not None else {}
    except Exception:  # an unreadable store: the UI will say more than we can
        exp_id = None
    if exp_id is None:
        return f"{base}/"
    return f"{base}/{runs_path(exp_id, tags)}"


def tag_runs(tracking_uri: str, run_ids: list[str], tags: Mapping[str, str]) -> None:
    """Add tags to existing runs (deploy's override record), never replacing one: a tag
    the run holds with another value keeps it, and the new value goes under the next
    free `<key>.2`, `<key>.3`, ... (the same value already held is not added again).
    An unreachable or unreadable store is one `ConfigError` line, at once."""
    where = mask_url(tracking_uri)
    problem = store_problem(tracking_uri)
    if problem:
        raise ConfigError(f"MLflow store {where}: {problem}: runs {', '.join(run_ids)} not tagged")
    _quiet()
    from mlflow import MlflowClient

    for run_id in run_ids:
        try:  # the client opens the store: its errors are this run's too
            client = MlflowClient(tracking_uri=store_uri(tracking_uri))
            held = dict(client.get_run(run_id).data.tags)
            for k, v in tags.items():
                key = _free_key(held, k, v)
                if key is not None:
                    client.set_tag(run_id, key, v)
                    held[key] = v
        except Exception as exc:
            raise ConfigError(
                f"MLflow store {where}: cannot tag run {run_id}: {first_line(exc)}"
            ) from None


def _free_key(held: Mapping[str, str], key: str, value: str) -> str | None:
    """`key`, or `key.2`, `key.3`, ...: the first that is not held; None when one of
    them already holds `value`."""
    n = 1
    name = key
    while name in held:
        if held[name] == value:
            return None
        n += 1
        name = f"{key}.{n}"
    return name

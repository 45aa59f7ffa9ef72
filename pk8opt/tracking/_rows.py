"""Child runs written as rows, many per transaction, through MLflow's own SQL models.

Writing a finished trial through `MlflowClient` (create the run, log a batch, mark it
finished) costs about 60 SQL statements and 15 ms of CPU in the sweep's main process,
which with as many workers as cores is taken from the backtests. A trial's child run is
written once and never changed, so for a SQLAlchemy-backed store (sqlite, PostgreSQL,
MySQL) the sweep inserts the same rows MLflow's store would (`runs`, `tags`, `params`,
`metrics`, `latest_metrics`) with MLflow's own table models and validation, for every
trial that finished since the last poll, in one transaction: five statements per batch.

`tests/integration/test_tracking_rows.py` checks that a run written here reads back through
`MlflowClient` exactly like one written through the client, for the installed MLflow.
Any other store (an MLflow server over HTTP) goes through the client.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


def new_run_id() -> str:
    """An id in MLflow's own form (32 hex digits)."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class MintedRunIds:
    """A trial's run id minted as the trial starts (a SQL store, where the main process
    inserts the run under it): the sweep's `TrialRunIds`, picklable for its workers."""

    def __call__(self, number: int) -> str | None:
        return new_run_id()


@dataclass(frozen=True)
class ChildRun:
    """One finished trial as MLflow rows: what both write paths take."""

    name: str
    tags: dict[str, str]
    params: dict[str, str]
    metrics: dict[str, float]
    status: str  # FINISHED | KILLED | FAILED
    start_ms: int
    end_ms: int
    # metrics with a history: key -> [(step, value)], e.g. the P&L of each session
    series: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    run_id: str | None = None  # the id minted for the trial, if any (else a new one)

    def metric_rows(self) -> list[tuple[str, float, int]]:
        """(key, value, step) of every metric value, single ones at step 0."""
        rows = [(k, v, 0) for k, v in self.metrics.items()]
        for k, points in self.series.items():
            rows += [(k, float(v), int(step)) for step, v in points]
        return rows


def sql_store(client: Any) -> Any | None:
    """The client's SQLAlchemy store, or None when it talks to anything else."""
    try:
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
    except ImportError:  # pragma: no cover - an MLflow without the SQL store
        return None
    store = getattr(getattr(client, "_tracking_client", None), "store", None)
    return store if isinstance(store, SqlAlchemyStore) else None


def _validated(run: ChildRun) -> tuple[list[Any], list[Any], list[Any]]:
    """MLflow's own batch validation: the same errors and limits as `log_batch`."""
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.utils.validation import _validate_batch_log_data, _validate_batch_log_limits

    metrics = [Metric(k, v, run.end_ms, step) for k, v, step in run.metric_rows()]
    params = [Param(k, v) for k, v in run.params.items()]
    tags = [RunTag(k, v) for k, v in run.tags.items()]
    # MLflow's limit counts metrics, params and tags of one batch together: each kind is
    # checked in chunks of its own (a run with a step per session has thousands of points)
    _validate_batch_log_limits([], params, [])
    for i in range(0, len(metrics), 1000):
        _validate_batch_log_limits(metrics[i : i + 1000], [], [])
    _validate_batch_log_limits([], [], tags)
    return _validate_batch_log_data(metrics, params, tags)


def insert_runs(
    store: Any,
    experiment_id: str,
    artifact_location: str,
    runs: Sequence[ChildRun],
    unique: tuple[str, str] | None = None,
) -> list[str]:
    """Insert `runs` as finished child runs in one transaction; their run ids, in order.

    With `unique=(group_tag, key_tag)`, a run whose two tag values are already held by a
    run in the store is not inserted again: its existing id is returned (another sweep
    process on the same study may have logged the same trial)."""
    from mlflow.store.tracking.dbmodels.models import (
        SqlLatestMetric,
        SqlMetric,
        SqlParam,
        SqlRun,
        SqlTag,
    )
    from sqlalchemy import insert

    ids: list[str] = []
    rows: dict[Any, list[dict[str, Any]]] = {
        SqlRun: [],
        SqlTag: [],
        SqlParam: [],
        SqlMetric: [],
        SqlLatestMetric: [],
    }
    for run in runs:
        run_id = run.run_id or new_run_id()
        ids.append(run_id)
        for model, batch in _run_rows(run, run_id, experiment_id, artifact_location).items():
            rows[model] += batch
    if not ids:
        return ids
    with store.ManagedSessionMaker(read_only=False) as session:
        if unique is not None:
            held = _held(session, SqlTag, unique, runs)
            if held:
                keep = {
                    run_id
                    for run_id, run in zip(ids, runs, strict=True)
                    if (run.tags[unique[0]], run.tags[unique[1]]) not in held
                }
                ids = [
                    run_id if run_id in keep else held[run.tags[unique[0]], run.tags[unique[1]]]
                    for run_id, run in zip(ids, runs, strict=True)
                ]
                rows = {m: [r for r in b if r["run_uuid"] in keep] for m, b in rows.items()}
        for model, batch in rows.items():
            if batch:
                session.execute(insert(model), batch)
    return ids


def _run_rows(
    run: ChildRun, run_id: str, experiment_id: str, artifact_location: str
) -> dict[Any, list[dict[str, Any]]]:
    """The rows of one run, by MLflow table model, as MLflow's store would write them."""
    from mlflow.entities import LifecycleStage, SourceType
    from mlflow.store.tracking.dbmodels.models import (
        SqlLatestMetric,
        SqlMetric,
        SqlParam,
        SqlRun,
        SqlTag,
    )
    from mlflow.utils.mlflow_tags import MLFLOW_RUN_NAME, MLFLOW_USER
    from mlflow.utils.uri import append_to_uri_path

    metrics, params, tags = _validated(run)
    run_row = {
        "run_uuid": run_id,
        "name": run.name,
        "artifact_uri": append_to_uri_path(artifact_location, run_id, "artifacts"),
        "experiment_id": int(experiment_id),
        "source_type": SourceType.to_string(SourceType.UNKNOWN),
        "source_name": "",
        "entry_point_name": "",
        "user_id": run.tags.get(MLFLOW_USER, "unknown"),
        "status": run.status,
        "start_time": run.start_ms,
        "end_time": run.end_ms,
        "deleted_time": None,
        "source_version": "",
        "lifecycle_stage": LifecycleStage.ACTIVE,
    }
    named = {t.key: t.value for t in tags}
    named.setdefault(MLFLOW_RUN_NAME, run.name)
    metric_rows: list[dict[str, Any]] = []
    latest: dict[str, dict[str, Any]] = {}
    for m in metrics:
        row = {
            "run_uuid": run_id,
            "key": m.key,
            "value": m.value,
            "timestamp": m.timestamp,
            "step": m.step,
            "is_nan": False,
        }
        metric_rows.append(row)
        top = latest.get(m.key)
        # MLflow's latest value: the highest step, then the latest timestamp
        if top is None or (m.step, m.timestamp, m.value) >= (
            top["step"],
            top["timestamp"],
            top["value"],
        ):
            latest[m.key] = row
    return {
        SqlRun: [run_row],
        SqlTag: [{"run_uuid": run_id, "key": k, "value": v} for k, v in named.items()],
        SqlParam: [{"run_uuid": run_id, "key": p.key, "value": p.value} for p in params],
        SqlMetric: metric_rows,
        SqlLatestMetric: list(latest.values()),
    }


def _held(
    session: Any, tag_model: Any, unique: tuple[str, str], runs: Sequence[ChildRun]
) -> dict[tuple[str, str], str]:
    """(group value, key value) -> run id, for the runs of the batch already stored."""
    from sqlalchemy import and_, select
    from sqlalchemy.orm import aliased

    group_key, key_key = unique
    g, k = aliased(tag_model), aliased(tag_model)
    found: dict[tuple[str, str], str] = {}
    for group in {run.tags[group_key] for run in runs}:
        values = [run.tags[key_key] for run in runs if run.tags[group_key] == group]
        query = (
            select(k.value, k.run_uuid)
            .join(g, and_(g.run_uuid == k.run_uuid, g.key == group_key, g.value == group))
            .where(k.key == key_key, k.value.in_(values))
        )
        for value, run_id in session.execute(query):
            found[group, value] = run_id
    return found

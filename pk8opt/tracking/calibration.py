"""`pk8opt calibrate`'s MLflow run: one run per calibration in the experiment
`pk8opt-calibrate` (tag `pk8opt.role=calibrate`), with the fitted `PM_PAPER_*` values and
settings as params, the scores as metrics, and the report's files as artifacts. Same
store as the sweep's unless told otherwise."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pk8opt.tracking._tracker import DESCRIPTION, ROLE, RUN_SOURCE, Tracker, param_text

CALIBRATE_EXPERIMENT = "pk8opt-calibrate"


def log_calibration(
    tracking_uri: str,
    *,
    run_name: str,
    params: Mapping[str, Any],
    metrics: Mapping[str, float],
    tags: Mapping[str, str],
    artifacts: Sequence[Path],
    description: str = "",
    experiment: str = CALIBRATE_EXPERIMENT,
) -> str:
    """One finished run holding the calibration; its id."""
    tracker = Tracker(tracking_uri, experiment)
    source = {**RUN_SOURCE, "mlflow.source.name": "pk8opt calibrate"}
    run = tracker.client.create_run(
        tracker.experiment_id,
        run_name=run_name,
        tags={ROLE: "calibrate", **source, **tags, DESCRIPTION: description},
    )
    run_id = str(run.info.run_id)
    tracker.client.log_batch(run_id, params=_params(params), metrics=_metrics(metrics))
    tracker.log_summary(run_id, {}, files=list(artifacts))
    tracker.client.set_terminated(run_id)
    return run_id


def _params(params: Mapping[str, Any]) -> list[Any]:
    from mlflow.entities import Param

    return [Param(k, param_text(v)[:6000]) for k, v in params.items()]


def _metrics(metrics: Mapping[str, float]) -> list[Any]:
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    return [Metric(k, float(v), now, 0) for k, v in metrics.items()]

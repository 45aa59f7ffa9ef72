"""The experiment's shared Runs view: the objective column first, sorted, and the URL
`pk8opt ui` prints opens it (docs/sweep.md shows it in a browser)."""

from __future__ import annotations

import json
from pathlib import Path

from mlflow import MlflowClient

from pk8opt.tracking import ROLE, Tracker, runs_view_url
from pk8opt.tracking.view import VIEW_KEY, VIEW_TAG


def test_the_sweep_view_shows_the_objective_and_the_searched_parameters(tmp_path: Path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    base = "http://127.0.0.1:5000"
    tracker = Tracker(uri, "s")
    run = tracker.client.create_run(tracker.experiment_id, tags={ROLE: "sweep"}).info.run_id
    plain = f"{base}/#/experiments/{tracker.experiment_id}?workflowType=machine_learning"
    assert runs_view_url(base, uri) == plain  # a store written before the view existed
    tracker.set_runs_view(["maximize"], ["edge", "size"], run, ["pnl_per_window"])
    exp = MlflowClient(tracking_uri=uri).get_experiment(tracker.experiment_id)
    state = json.loads(exp.tags[VIEW_TAG])
    cols = state["selectedColumns"]
    assert cols.index("metrics.`objective`") < cols.index("metrics.`pnl_usdc`")
    assert {"params.`edge`", "params.`size`", "tags.`pk8opt.state`"} <= set(cols)
    assert "metrics.`pnl_per_window`" not in cols  # the objective already shows it
    assert state["orderByKey"] == "metrics.`objective`" and state["orderByAsc"] is False
    assert state["runsExpanded"] == {run: True}
    assert runs_view_url(base, uri) == (
        f"{base}/#/experiments/{tracker.experiment_id}/runs?workflowType=machine_learning"
        f"&viewStateShareKey={VIEW_KEY}"
    )
    # minimized objectives sort ascending; a second objective gets its column
    tracker.set_runs_view(["minimize", "maximize"], ["edge"])
    exp = MlflowClient(tracking_uri=uri).get_experiment(tracker.experiment_id)
    state = json.loads(exp.tags[VIEW_TAG])
    assert state["orderByAsc"] is True and "metrics.`objective_1`" in state["selectedColumns"]

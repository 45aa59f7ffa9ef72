"""The Runs view a sweep's experiment opens on: the objective first, sorted.

MLflow 3's UI shows no metric or parameter column until one picks them, and keeps the
pick in the browser. What it offers for a view anyone opens is a *shared view*: the
experiment tag `mlflow.sharedViewState.<key>` holds the view's state (columns, sort,
expanded runs) as JSON, and `#/experiments/<id>/runs?viewStateShareKey=<key>` opens
it (what the UI's own "Share" button writes). The sweep writes one (`pk8opt-trials`):
the objective, the main metrics, the searched parameters and the trial state as columns,
best objective first. `pk8opt ui` opens it; "Override saved view" in the UI's banner
makes it the browser's own, and the Columns menu changes it as usual.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

VIEW_KEY = "pk8opt-trials"
VIEW_TAG = f"mlflow.sharedViewState.{VIEW_KEY}"
# beside the objective: what a trader reads first about a trial
MAIN_METRICS = ("pnl_per_window", "pnl_usdc", "fills", "fees_usdc", "max_drawdown_usdc")


def _column(group: str, key: str) -> str:
    """A column id as MLflow's UI writes it: metrics.`pnl_usdc`."""
    return f"{group}.`{key}`"


def view_state(
    directions: Sequence[str],
    params: Sequence[str],
    parent_run_id: str | None = None,
    objective_metrics: Sequence[str] = (),
) -> str:
    """The shared view's JSON: one objective column per direction (`objective`,
    `objective_1`, ...), sorted on the first (descending when maximized), the main
    metrics (but the ones the objective already is), the searched parameters, and the
    trial's state."""
    objectives = ["objective" if i == 0 else f"objective_{i}" for i in range(len(directions))]
    metrics = [m for m in MAIN_METRICS if m not in (*objectives, *objective_metrics)]
    pruned = [f"pruned_{o}" for o in objectives]  # a pruned trial's last running score
    columns = [
        *(_column("metrics", m) for m in (*objectives, *pruned, *metrics)),
        *(_column("params", p) for p in params),
        _column("tags", "pk8opt.state"),
    ]
    state: dict[str, object] = {
        "orderByKey": _column("metrics", "objective"),
        "orderByAsc": bool(directions) and directions[0] == "minimize",
        "selectedColumns": columns,
        # the table's own order (MLflow's is by name): the trial's state, the objective
        "columnOrder": [columns[-1], *columns[:-1]],
        "runsHiddenMode": "SHOW_ALL",
    }
    if parent_run_id:
        state["runsExpanded"] = {parent_run_id: True}
    return json.dumps(state, separators=(",", ":"))


def runs_path(experiment_id: str, tags: dict[str, str]) -> str:
    """The hash route of an experiment's Runs view: the shared view when it has one."""
    if VIEW_TAG in tags:
        return (
            f"#/experiments/{experiment_id}/runs?workflowType=machine_learning"
            f"&viewStateShareKey={VIEW_KEY}"
        )
    return f"#/experiments/{experiment_id}?workflowType=machine_learning"

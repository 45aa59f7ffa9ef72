"""A trial's run page opens on its per-session P&L curve.

MLflow's run page draws one chart per metric, grouped in sections: a metric named
`<section>/<name>` in a section of its own, every plain name in "Model metrics". Its
`getBaseChartAndSectionConfigs` sorts the metric names, and puts the named sections
(sorted) before "Model metrics". The first test pins that rule in the installed UI; the
second lays a logged trial's charts out by it.
"""

from __future__ import annotations

import re
from pathlib import Path

import mlflow
from mlflow import MlflowClient

from pk8opt.tracking import PNL_CURVE, Tracker, TrialRecord

BUILD = Path(mlflow.__file__).parent / "server" / "js" / "build" / "static" / "js"
MODEL_METRICS = "Model metrics"


def _ui_code() -> str:
    return "".join(p.read_text(errors="replace") for p in BUILD.glob("*.js"))


def test_mlflow_run_page_puts_named_sections_first() -> None:
    text = _ui_code()
    start = text.index("static getBaseChartAndSectionConfigs(")
    body = text[start : text.index("static updateChartAndSectionConfigs(", start)]
    # metric names in sorted order, each in the section its name gives
    assert "Array.from(y).sort().forEach(e=>{" in body
    assert "w[p.extractChartSectionName(e)]" in body
    # the sections: named ones sorted, then the default ones ("Model metrics", "System metrics")
    assert "const x=[...Object.keys(w).filter(e=>e!==i.NN&&e!==i.rx).sort(),...[i.NN,i.rx]" in body
    assert "split(t).slice(0,-1).join(t);return o===i.QB?i.NN:" in text
    assert re.search(rf'[,;{{\s]\w+="{MODEL_METRICS}"', text)  # the default section's name


def _section(key: str) -> str:
    return key.rsplit("/", 1)[0] if "/" in key else MODEL_METRICS


def _charts(keys: list[str]) -> list[str]:
    """The run page's chart order (the rule pinned above)."""
    named = sorted({_section(k) for k in keys} - {MODEL_METRICS})
    order = [*named, MODEL_METRICS]
    return [k for s in order for k in sorted(keys) if _section(k) == s]


def test_the_pnl_curve_is_the_first_chart_of_a_trial_run(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = Tracker(uri, "charts")
    parent = tracker.client.create_run(tracker.experiment_id).info.run_id
    points = [(0, 1.5), (1, -2.0), (2, 0.25)]
    aggregates = {f"{name}_usdc": 1.0 for name in ("a", "fees", "pnl", "max_drawdown")}
    rec = TrialRecord(
        0,
        "COMPLETE",
        {"edge": 0.01},
        {"objective": 2.0, "fills": 3.0, **aggregates},
        1,
        2,
        series={"session_pnl_usdc": points, "session_fills": [(0, 1.0), (1, 2.0)]},
    )
    run_id = tracker.log_trials(parent, "charts", [rec])[0]
    client = MlflowClient(tracking_uri=uri)
    keys = list(client.get_run(run_id).data.metrics)
    assert _charts(keys)[0] == PNL_CURVE
    assert [(m.step, m.value) for m in client.get_metric_history(run_id, PNL_CURVE)] == points
    # what reads the curves by their plain names still finds them
    assert (
        sorted((m.step, m.value) for m in client.get_metric_history(run_id, "session_pnl_usdc"))
        == points
    )
    assert {"objective", "fills", "session_fills", *aggregates} <= set(keys)
    assert sum(1 for k in keys if _section(k) != MODEL_METRICS) == 1


def test_mlflow_nests_trials_under_their_sweep_only_when_sorted_by_start_time() -> None:
    """Why the Runs view (sorted by objective) lists the sweep's parent run as a row of
    its own, last, not on top with its trials nested: MLflow's table nests child runs
    only without a sort and a filter, or when sorted by start time (docs/sweep.md)."""
    text = _ui_code()
    assert "shouldFetchParents:(({orderByKey:e,searchFilter:t})=>!e&&!t||e===r.T8.DATE)" in text
    assert 'DATE:"attributes.start_time"' in text

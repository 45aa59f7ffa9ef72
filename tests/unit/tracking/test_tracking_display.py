"""What the MLflow UI shows of a sweep: parameters a person can read, pruned trials
that do not look failed, run source and descriptions, the parent's settings by section."""

from __future__ import annotations

from pathlib import Path

from mlflow import MlflowClient

from pk8opt.sweep.config import parse_config
from pk8opt.sweep.parent_params import parent_params, sweep_description
from pk8opt.tracking import DESCRIPTION, Tracker, TrialRecord, param_text


def test_param_text_rounds_floats_and_keeps_ints() -> None:
    assert param_text(0.020313453701192554) == "0.02031"
    assert param_text(30.0) == "30" and param_text(30) == "30"
    assert param_text(1.5e-5) == "1.5e-05" and param_text(True) == "True"
    assert param_text("up") == "up" and param_text(float("nan")) == "nan"


def test_child_runs_status_state_description_and_source(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = Tracker(uri, "display")
    parent = tracker.client.create_run(tracker.experiment_id).info.run_id
    recs = [
        TrialRecord(0, "COMPLETE", {"edge": 0.0123456, "size": 30.0}, {"objective": 5.0}, 1, 2),
        TrialRecord(1, "PRUNED", {"edge": 0.05, "size": 10}, {"objective": -3.0}, 1, 2),
        TrialRecord(2, "FAIL", {"edge": 0.09}, {}, 1, 2, error="boom"),
        TrialRecord(3, "FAIL", {"edge": 0.01}, {}, 1, 2, tags={"pk8opt.interrupted": "1"}),
    ]
    ids = tracker.log_trials(parent, "display", recs)
    client = MlflowClient(tracking_uri=uri)
    runs = {n: client.get_run(ids[n]) for n in ids}
    assert [runs[n].info.status for n in range(4)] == ["FINISHED", "FINISHED", "FAILED", "KILLED"]
    assert [runs[n].data.tags["pk8opt.state"] for n in range(4)] == [
        "complete",
        "pruned",
        "fail",
        "fail",
    ]
    assert runs[0].data.params == {"edge": "0.01235", "size": "30"}
    assert runs[0].data.metrics["objective"] == 5.0
    assert "objective" not in runs[1].data.metrics  # a partial score is not an objective
    assert runs[1].data.tags[DESCRIPTION] == "Trial 1 of sweep display: pruned early"
    assert runs[2].data.tags[DESCRIPTION].endswith("failed: boom")
    assert runs[0].data.tags["mlflow.source.name"] == "pk8opt sweep"
    assert runs[0].data.tags["mlflow.user"]


def test_parent_params_by_section_with_ranges() -> None:
    doc = {
        "study": "s",
        "strategy": "balanced_arb",
        "fixed": {"stop_before_end_seconds": 60},
        "engine": {"seed": 1, "post_latency_ms": 50},
        "space": {
            "edge": {"low": 0.002, "high": 0.08, "log": True},
            "size": {"low": 5, "high": 50, "step": 5},
            "lag_boost_ticks": {"choices": [0, 1, 2]},
        },
        "data": {"paths": ["recordings/sample"]},
        "sampler": {"type": "tpe", "seed": 42},
    }
    cfg = parse_config(doc, "t.yaml")
    p = parent_params(cfg, 16, 4)
    assert p["strategy"] == "balanced_arb"
    assert p["strategy.stop_before_end_seconds"] == 60
    assert p["engine.seed"] == 1 and p["sampler.seed"] == 42  # two seeds, told apart
    assert p["space.edge"] == "[0.002, 0.08] log"
    assert p["space.size"] == "[5, 50] step 5"
    assert p["space.lag_boost_ticks"] == "{0, 1, 2}"
    assert p["pruner.type"] == cfg.pruner.type and "validation.scheme" in p
    # only the settings the chosen pruner and validation scheme read
    assert {k for k in p if k.startswith("pruner.")} == {
        "pruner.type",
        "pruner.p_threshold",
        "pruner.warmup_windows",
    }
    assert "validation.folds" in p and "validation.groups" not in p  # walk-forward
    median = parse_config(
        {**doc, "pruner": {"type": "median"}, "validation": {"scheme": "cpcv"}}, "t"
    )
    q = parent_params(median, 16, 4)
    assert "pruner.startup_trials" in q and "pruner.p_threshold" not in q
    assert "validation.groups" in q and "validation.folds" not in q
    assert not any(k.startswith("fixed.") for k in p)
    text = sweep_description(cfg, 16, 4)
    assert "balanced_arb, searching edge, size, lag_boost_ticks" in text and "16 in-sample" in text


def test_finishing_a_sweep_says_how_it_ended(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = Tracker(uri, "display")
    run = tracker.client.create_run(
        tracker.experiment_id,
        tags={DESCRIPTION: "Sweep s: x", "pk8opt.verdict": "fail: pbo 1 > 0.2"},
    ).info.run_id
    tracker.finish_sweep(run)
    got = MlflowClient(tracking_uri=uri).get_run(run)
    assert got.info.status == "FINISHED"
    text = got.data.tags[DESCRIPTION]
    assert text.startswith("Sweep s: x\nEnded ") and text.endswith(
        "validation verdict: fail: pbo 1 > 0.2"
    )


def test_ui_opens_the_runs_view_of_the_newest_sweep_with_one_worker(tmp_path: Path) -> None:
    from pk8opt.tracking import ROLE, runs_view_url, ui_command

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    base = "http://127.0.0.1:5000"
    assert runs_view_url(base, uri) == f"{base}/"  # no sweep yet: the UI's home
    tracker = Tracker(uri, "older")
    tracker.client.create_run(tracker.experiment_id, start_time=1_000, tags={ROLE: "sweep"})
    newer = Tracker(uri, "newer")
    newer.client.create_run(newer.experiment_id, start_time=2_000, tags={ROLE: "sweep"})
    want = f"{base}/#/experiments/{newer.experiment_id}?workflowType=machine_learning"
    assert runs_view_url(base, uri) == want
    older = runs_view_url(base, uri, "older")
    assert older == f"{base}/#/experiments/{tracker.experiment_id}?workflowType=machine_learning"
    cmd = ui_command(uri, 5000)
    assert cmd[cmd.index("--workers") + 1] == "1"
    assert ui_command(uri, 5000, workers=3)[-1] == "3"


def test_a_trial_with_thousands_of_session_points_is_logged(tmp_path: Path) -> None:
    """A month of sessions gives a trial thousands of step metrics: MLflow's 1,000 limit
    per batch (metrics, params and tags together) must not stop the sweep."""
    from pk8opt.tracking._tracker import _child_run

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = Tracker(uri, "many")
    parent = tracker.client.create_run(tracker.experiment_id).info.run_id
    points = [(i, float(i % 7)) for i in range(1_500)]
    rec = TrialRecord(
        0,
        "COMPLETE",
        {f"p{i}": i for i in range(8)},
        {"objective": 1.0},
        1,
        2,
        series={"session_pnl_usdc": points},
    )
    fast = tracker.log_trials(parent, "many", [rec])[0]
    slow = tracker.write_run(_child_run(parent, "many", rec))
    client = MlflowClient(tracking_uri=uri)
    for run_id in (fast, slow):
        history = client.get_metric_history(run_id, "session_pnl_usdc")
        assert sorted((m.step, m.value) for m in history) == points
        assert len(client.get_run(run_id).data.params) == 8

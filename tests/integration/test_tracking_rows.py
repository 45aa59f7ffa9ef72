"""Child runs inserted as rows read back through MlflowClient exactly like runs written
through the client, on a real sqlite MLflow store and on a real PostgreSQL one."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pk8opt.tracking import PARENT, TRIAL, Tracker, TrialRecord
from pk8opt.tracking._tracker import _child_run

RECORDS = [
    TrialRecord(
        number=3,
        state="COMPLETE",
        params={"edge": 0.0125, "size": 20, "mode": "maker"},
        metrics={"objective": 12.5, "pnl_usdc": 12.5, "fills": 41, "max_dd_usdc": -3.25},
        start_ms=1_760_000_000_000,
        end_ms=1_760_000_000_250,
        tags={"pk8opt.interrupted": "1"},
        series={"session_pnl_usdc": [(0, 1.5), (1, -2.0), (2, 0.25)], "session_fills": [(1, 3)]},
    ),
    TrialRecord(
        number=4,
        state="PRUNED",
        params={"edge": 0.05, "size": 5, "mode": "taker"},
        metrics={"running_score": -1.0, "pruned_at_session": 2, "bad": float("nan")},
        start_ms=1_760_000_001_000,
        end_ms=1_760_000_001_100,
    ),
    TrialRecord(
        number=5,
        state="FAIL",
        params={"edge": 0.07},
        metrics={},
        start_ms=1_760_000_002_000,
        end_ms=1_760_000_002_010,
        error="ValueError: boom\n" + "x" * 6000,
    ),
]


def _view(client, run_id: str) -> dict:
    run = client.get_run(run_id)
    info = run.info
    return {
        "name": info.run_name,
        "status": info.status,
        "start": info.start_time,
        "end": info.end_time,
        "stage": info.lifecycle_stage,
        "user": info.user_id,
        "experiment": info.experiment_id,
        "artifact_uri": info.artifact_uri.replace(info.run_id, "<id>"),
        "params": run.data.params,
        "metrics": run.data.metrics,
        "tags": run.data.tags,
        "history": {
            k: [(m.value, m.timestamp, m.step) for m in client.get_metric_history(run_id, k)]
            for k in run.data.metrics
        },
    }


@pytest.fixture(params=["sqlite", "postgresql"])
def tracker(tmp_path: Path, request: pytest.FixtureRequest) -> Tracker:
    """The store on sqlite, and on a real PostgreSQL (a throwaway cluster)."""
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_mlflow")
        return Tracker(url, "rows", (tmp_path / "artifacts").as_uri())
    return Tracker(f"sqlite:///{tmp_path / 'mlflow.db'}", "rows")


def test_inserted_runs_read_back_like_client_runs(tracker: Tracker) -> None:
    assert tracker._store is not None  # a sqlite store takes the row path
    parent = tracker.start_sweep("s", "journal", {"a": 1}, {}, {})
    fast = tracker.log_trials(parent, "s", RECORDS)
    assert sorted(fast) == [3, 4, 5]
    slow = {r.number: tracker.write_run(_child_run(parent, "s", r)) for r in RECORDS}
    for number in fast:
        a = _view(tracker.client, fast[number])
        b = _view(tracker.client, slow[number])
        assert a == b, number
    first = _view(tracker.client, fast[3])
    assert first["status"] == "FINISHED" and first["params"]["size"] == "20"
    assert first["metrics"]["duration_s"] == 0.25
    assert first["tags"][PARENT] == parent and first["tags"]["mlflow.runName"] == "trial-3"
    assert "bad" not in _view(tracker.client, fast[4])["metrics"]  # non-finite left out
    assert _view(tracker.client, fast[5])["status"] == "FAILED"
    # The sweep's resume lookup and MLflow's search see the inserted runs.
    found = tracker.client.search_runs(
        [tracker.experiment_id], filter_string=f"tags.`{TRIAL}` = '4'", max_results=10
    )
    assert {r.info.run_id for r in found} == {fast[4], slow[4]}
    by_metric = tracker.client.search_runs(
        [tracker.experiment_id], filter_string="metrics.pnl_usdc > 12", max_results=10
    )
    assert {r.info.run_id for r in by_metric} == {fast[3], slow[3]}


def test_a_batch_with_an_invalid_value_writes_nothing(tracker: Tracker) -> None:
    from mlflow.exceptions import MlflowException

    parent = tracker.start_sweep("s", "journal", {}, {}, {})
    bad = TrialRecord(number=9, state="COMPLETE", params={"bad\nkey": 1}, metrics={"x": 1.0})
    with pytest.raises(MlflowException):
        tracker.log_trials(parent, "s", [RECORDS[0], bad])
    with pytest.raises(MlflowException):
        tracker.write_run(_child_run(parent, "s", bad))
    assert 3 not in tracker.logged_trials(parent)


def test_other_stores_go_through_the_client(tracker: Tracker) -> None:
    parent = tracker.start_sweep("s", "journal", {}, {}, {})
    tracker._store = None  # as for an MLflow server
    ids = tracker.log_trials(parent, "s", RECORDS[:2])
    assert tracker.logged_trials(parent) == ids
    assert _view(tracker.client, ids[3])["metrics"]["pnl_usdc"] == 12.5


def test_a_deleted_experiment_is_named_with_the_fix(tmp_path: Path) -> None:
    from pk8opt.errors import ConfigError

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    first = Tracker(uri, "gone")
    first.client.delete_experiment(first.experiment_id)
    with pytest.raises(ConfigError, match="experiment 'gone' is deleted .* restore it"):
        Tracker(uri, "gone")


def test_a_trial_already_logged_under_the_parent_is_not_logged_twice(tracker: Tracker) -> None:
    parent = tracker.start_sweep("s", "journal", {}, {}, {})
    other = tracker.start_sweep("other", "journal", {}, {}, {})
    first = tracker.log_trials(parent, "s", RECORDS[:2])
    # another sweep process logs trials 3 and 4 again, and 5 for the first time
    again = tracker.log_trials(parent, "s", RECORDS, unique=True)
    assert again[3] == first[3] and again[4] == first[4]
    assert tracker.logged_trials(parent) == again
    # the same trial numbers under another parent are other trials
    elsewhere = tracker.log_trials(other, "other", RECORDS[:1], unique=True)
    assert set(elsewhere.values()).isdisjoint(again.values())
    # through the client (a tracking server) the check is the same
    tracker._store = None
    assert tracker.log_trials(parent, "s", RECORDS, unique=True) == again


def test_two_processes_starting_a_study_at_once_agree_on_one_parent(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    a, b = Tracker(uri, "race"), Tracker(uri, "race")
    first = a.start_sweep("s", "journal", {"x": 1}, {}, {})
    time.sleep(0.01)  # created at least a millisecond later
    real = b._sweep_runs
    calls = iter([[]])  # b searched before a's parent existed, then created its own
    b._sweep_runs = lambda study: next(calls, None) or real(study)  # type: ignore[method-assign]
    assert b.start_sweep("s", "journal", {"x": 1}, {}, {}) == first
    active = b.client.search_runs([b.experiment_id], filter_string="tags.`pk8opt.role` = 'sweep'")
    assert [r.info.run_id for r in active] == [first]  # b's own was deleted

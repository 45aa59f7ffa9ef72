"""What a sweep leaves in its Optuna study and its MLflow store, read back: small study
attrs (the whole config and the session lists on the parent run), and every trial
naming its MLflow run, through a real sweep (stand-in evaluator, real loky workers, a
real journal and MLflow sqlite store)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import optuna
import pytest
from mlflow import MlflowClient
from rich.console import Console
from support.fake_sweep import EVALUATOR, config_doc, make_sessions

from pk8opt.pipeline.listing import list_sweeps
from pk8opt.pipeline.run import run_sweep
from pk8opt.sweep.config import parse_config
from pk8opt.sweep.data import select_sessions
from pk8opt.sweep.study import make_storage
from pk8opt.sweep.study_meta import LEGACY, read_meta
from pk8opt.tracking import PARENT, RUN_ID_ATTR, TRIAL, Tracker, TrialRecord, param_text
from pk8opt.tracking.view import VIEW_TAG
from pk8opt.validation import record as verdict_record

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("sweep")
    make_sessions(tmp / "rec")
    # edges above 0.07 fail in the stand-in evaluator: failed trials are covered too
    cfg = parse_config(
        config_doc(
            tmp, trials=10, fixed={"size": 10}, space={"edge": {"low": 0.005, "high": 0.08}}
        ),
        "configs/toy.yaml",
    )
    out = run_sweep(
        cfg,
        "configs/toy.yaml",
        console=Console(quiet=True),
        evaluator=EVALUATOR,
        experiments_dir=tmp / "exp",
    )
    study = optuna.load_study(study_name="toy", storage=make_storage(cfg.storage_url()))
    return tmp, cfg, out, study, MlflowClient(tracking_uri=cfg.tracking_uri())


def test_every_finished_trial_names_its_mlflow_run(swept) -> None:
    _, _, out, study, client = swept
    trials = study.get_trials()
    assert {t.state.name for t in trials} >= {"COMPLETE", "FAIL"}
    assert len(trials) == 10
    ids = set()
    for t in trials:
        run_id = t.user_attrs[RUN_ID_ATTR]
        run = client.get_run(run_id)  # exists
        assert run.data.tags[TRIAL] == str(t.number)
        assert run.data.tags[PARENT] == out.parent_run_id
        assert run.data.tags["pk8opt.state"] == t.state.name.lower()
        assert run.data.params == {k: param_text(v) for k, v in t.params.items()}
        if t.state.name == "COMPLETE":
            assert run.data.metrics["objective"] == pytest.approx(t.value)
        ids.add(run_id)
    assert len(ids) == len(trials)


def test_study_attrs_are_small_and_the_whole_record_is_on_the_parent_run(swept) -> None:
    tmp, cfg, out, study, client = swept
    attrs = study.user_attrs
    assert LEGACY not in attrs
    mine = {k: v for k, v in attrs.items() if k.startswith("pk8opt.")}
    assert all(len(json.dumps(v)) < 200 for v in mine.values()), mine
    assert mine["pk8opt.strategy"] == "toy"
    assert mine["pk8opt.objective"] == "maximize pnl_usdc"
    assert mine["pk8opt.n_trials"] == 10 and mine["pk8opt.config"] == "configs/toy.yaml"
    assert mine["pk8opt.overrides"] == {"size": 10}
    assert mine["pk8opt.in_sample_sessions"] == 6
    # the row `optuna studies` prints: every attr of the study together stays short
    assert len(json.dumps(attrs)) < 1200
    # the verdict: its line and chosen trial at a glance, the whole record beside the study
    rec = verdict_record.load(make_storage(cfg.storage_url()), cfg.study)
    assert rec is not None and rec["verdict"] == out.verdict and len(rec["checks"]) >= 5
    assert mine["pk8opt.verdict"] == rec["brief"] and mine["pk8opt.chosen_trial"] == out.chosen
    failing = [c["name"] for c in rec["checks"] if not c["passed"]]
    assert rec["brief"] == "pass" if not failing else all(n in rec["brief"] for n in failing)
    meta = read_meta(attrs)
    assert meta is not None and meta.objectives == [("maximize", "pnl_usdc")]

    art = Path(client.download_artifacts(out.parent_run_id, "", str(tmp / "art")))
    config_yaml = (art / "config.yaml").read_text()
    assert hashlib.sha256(config_yaml.encode()).hexdigest()[:16] == mine["pk8opt.config_sha"]
    record = json.loads((art / "study.json").read_text())
    sel = select_sessions(cfg.data, "t")
    assert record["in_sample_paths"] == [str(p) for p in sel.in_sample]
    assert record["holdout_paths"] == [str(p) for p in sel.holdout]
    assert record["config"]["space"]["edge"]["low"] == 0.005
    assert record["fingerprint"] == sel.fingerprint == mine["pk8opt.fingerprint"]
    rows = {r.study: r for r in list_sweeps(cfg.storage_url(), cfg.tracking_uri())}
    assert rows["toy"].strategy == "toy"
    # the experiment's Runs view shows the objective and the searched parameter
    view = json.loads(client.get_experiment_by_name("toy").tags[VIEW_TAG])
    assert {"metrics.`objective`", "params.`edge`"} <= set(view["selectedColumns"])


def test_a_resumed_sweep_keeps_the_record_and_refuses_other_data(swept) -> None:
    tmp, cfg, _, study, _ = swept
    before = dict(study.user_attrs)
    from pk8opt.errors import ConfigError

    make_sessions(tmp / "rec2", n=6)
    other = parse_config(
        config_doc(tmp, trials=10, data={"paths": [str(tmp / "rec2")]}), "configs/toy.yaml"
    )
    with pytest.raises(ConfigError, match=r"was run on other sessions \(2025-06-15T"):
        run_sweep(
            other,
            "configs/toy.yaml",
            console=Console(quiet=True),
            evaluator=EVALUATOR,
            experiments_dir=tmp / "exp",
        )
    after = optuna.load_study(study_name="toy", storage=make_storage(cfg.storage_url()))
    assert {k: v for k, v in after.user_attrs.items() if k.startswith("pk8opt.")} == {
        k: v for k, v in before.items() if k.startswith("pk8opt.")
    }


def test_a_legacy_study_record_reads_as_the_small_attrs() -> None:
    blob = {
        "strategy": "balanced_arb",
        "overrides": {"seed": 1},
        "config": {"objective": {"metric": "pairs", "direction": "maximize"}, "trials": 40},
        "fingerprint": "abc",
        "in_sample": ["a", "b", "c"],
        "holdout": ["d"],
        "in_sample_window": "w1",
        "holdout_window": "w2",
        "code_version": "0.1",
        "tracking_uri": "sqlite:///x.db",
        "experiment": "e",
    }
    meta = read_meta({LEGACY: blob})
    assert meta is not None
    assert (meta.strategy, meta.overrides, meta.fingerprint) == ("balanced_arb", {"seed": 1}, "abc")
    assert meta.objectives == [("maximize", "pairs")] and meta.n_trials == 40
    assert (meta.n_in_sample, meta.in_sample_window, meta.holdout_window) == (3, "w1", "w2")
    assert (meta.tracking_uri, meta.experiment, meta.code_version) == ("sqlite:///x.db", "e", "0.1")
    assert read_meta({}) is None and read_meta({LEGACY: {"x": 1}}) is None


def test_a_trial_logged_twice_keeps_its_one_run_id(tmp_path: Path) -> None:
    """Two sweep processes may log the same finished trial (one of them thought it
    orphaned): the run id it carries is inserted once, either way."""
    tracker = Tracker(f"sqlite:///{tmp_path / 'm.db'}", "e")
    assert tracker.mints_run_ids
    parent = tracker.start_sweep("s", "j", params={}, tags={}, texts={})
    rec = TrialRecord(
        number=3,
        state="COMPLETE",
        params={"edge": 0.1},
        metrics={"objective": 1.0},
        run_id="0123456789abcdef0123456789abcdef",
    )
    assert tracker.log_trials(parent, "s", [rec]) == {3: rec.run_id}
    assert tracker.log_trials(parent, "s", [rec], unique=True) == {3: rec.run_id}
    assert tracker.log_trials(parent, "s", [rec]) == {3: rec.run_id}  # the race: no error
    assert tracker.logged_trials(parent) == {3: rec.run_id}

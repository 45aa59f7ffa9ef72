"""The sweep's plumbing with a stand-in evaluator: real journal storage, real loky
workers, a real MLflow sqlite store in a temp folder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from mlflow import MlflowClient
from rich.console import Console
from support.fake_sweep import EVALUATOR, SCRIPT, config_doc, make_sessions
from support.paths import TESTS

from pk8opt.pipeline.run import run_sweep
from pk8opt.sweep.config import parse_config
from pk8opt.sweep.study import make_storage
from pk8opt.tracking import param_text
from pk8opt.validation import record

pytestmark = pytest.mark.slow


def _sweep(tmp: Path, **changes):
    cfg = parse_config(config_doc(tmp, **changes), "toy.yaml")
    out = run_sweep(
        cfg,
        "toy.yaml",
        console=Console(quiet=True),
        evaluator=EVALUATOR,
        experiments_dir=tmp / "exp",
    )
    return cfg, out


def _children(tmp: Path, parent: str):
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp / 'exp' / 'mlflow.db'}")
    exp = client.get_experiment_by_name("toy")
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    return client, [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent]


def test_two_workers_fill_storage_and_mlflow_and_survive_failures(tmp_path: Path) -> None:
    make_sessions(tmp_path / "rec")
    cfg, out = _sweep(tmp_path, trials=12)
    study = optuna.load_study(study_name="toy", storage=make_storage(cfg.storage_url()))
    trials = study.get_trials()
    assert len(trials) == 12
    states = {t.state.name for t in trials}
    assert states <= {"COMPLETE", "PRUNED", "FAIL"}
    failed = [t for t in trials if t.state.name == "FAIL"]
    assert all("boom" in t.user_attrs["error"] for t in failed)
    assert any(t.params["edge"] > 0.07 for t in failed) or not failed
    client, children = _children(tmp_path, out.parent_run_id)
    assert sorted(int(r.data.tags["pk8opt.trial"]) for r in children) == list(range(12))
    by_trial = {int(r.data.tags["pk8opt.trial"]): r for r in children}
    for t in trials:
        run = by_trial[t.number]
        assert run.data.tags["pk8opt.state"] == t.state.name.lower()
        assert {k: param_text(v) for k, v in t.params.items()} == run.data.params
        # pruned trials ended as planned: FINISHED, and no partial objective
        assert run.info.status == {"FAIL": "FAILED"}.get(t.state.name, "FINISHED")
        if t.state.name == "PRUNED":
            assert "objective" not in run.data.metrics
        if t.state.name == "COMPLETE":
            assert run.data.metrics["objective"] == pytest.approx(t.value)
        if t.state.name == "FAIL":
            assert "boom" in run.data.tags["pk8opt.error"]
    # two workers ran trials at the same time: both processes took part
    assert len(out.worker_times) == 2
    # the validation stage ran once, chose a trial, and left its verdict everywhere
    rec = record.load(make_storage(cfg.storage_url()), "toy")
    assert rec is not None
    assert out.verdict == rec["verdict"] and out.chosen == rec["chosen_trial"]
    assert rec["verdict"] == "pass" or rec["verdict"].startswith("fail: ")
    # the study's own attrs keep it to a glance: the verdict line and the chosen trial
    assert study.user_attrs["pk8opt.verdict"] == rec["brief"]
    assert study.user_attrs["pk8opt.chosen_trial"] == out.chosen
    assert "validation" not in study.user_attrs
    assert study.user_attrs["lockbox_seen_by"] == [out.chosen]
    parent = client.get_run(out.parent_run_id)
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["pk8opt.verdict"] == rec["verdict"]
    assert parent.data.tags["pk8opt.chosen_trial"] == str(out.chosen)
    assert {"pbo", "dsr", "psr", "n_trials", "oos_pnl_per_window"} <= set(parent.data.metrics)
    assert parent.data.metrics["n_trials"] == 12
    arts = {a.path for a in client.list_artifacts(out.parent_run_id)}
    assert {"config.yaml", "best_trial.json", "best_sessions.json", "validation.md"} <= arts
    assert {"trials_x_windows.csv", "optimization_history.png", "param_slices.png"} <= arts
    local = client.download_artifacts(out.parent_run_id, "best_trial.json", str(tmp_path))
    best = json.loads(Path(local).read_text())
    assert best["chosen_trial"] == out.chosen
    assert best["verdict"] == rec["verdict"]


def test_rerun_resumes_toward_the_target(tmp_path: Path) -> None:
    make_sessions(tmp_path / "rec")
    _sweep(tmp_path, trials=4)
    cfg, out = _sweep(tmp_path, trials=7)
    study = optuna.load_study(study_name="toy", storage=make_storage(cfg.storage_url()))
    assert len(study.get_trials()) == 7
    _, children = _children(tmp_path, out.parent_run_id)
    assert sorted(int(r.data.tags["pk8opt.trial"]) for r in children) == list(range(7))


def test_ctrl_c_keeps_finished_trials_and_a_rerun_completes(tmp_path: Path) -> None:
    make_sessions(tmp_path / "rec")
    script = SCRIPT.format(tests=str(TESTS), tmp=str(tmp_path), trials=10, changes={})
    # the workers import support.fake_sweep: os.environ's PYTHONPATH has tests/ (conftest.py)
    env = {**os.environ, "FAKE_SESSION_SLEEP": "0.15"}
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    journal = tmp_path / "exp" / "optuna.journal"
    storage = None
    deadline = time.time() + 120
    while time.time() < deadline:
        if journal.exists():
            storage = storage or make_storage(str(journal))
            try:
                trials = optuna.load_study(study_name="toy", storage=storage).get_trials()
            except KeyError:
                trials = []
            if sum(t.state.name in ("COMPLETE", "PRUNED", "FAIL") for t in trials) >= 2:
                break
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert "INTERRUPTED" in stdout, stderr
    study = optuna.load_study(study_name="toy", storage=make_storage(str(journal)))
    kept = [t for t in study.get_trials() if t.state.name in ("COMPLETE", "PRUNED", "FAIL")]
    assert 2 <= len(kept) < 10
    assert not [t for t in study.get_trials() if t.state.name == "RUNNING"]
    env["FAKE_SESSION_SLEEP"] = "0"
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=180
    )
    assert "DONE" in done.stdout, done.stderr
    study = optuna.load_study(study_name="toy", storage=make_storage(str(journal)))
    counted = [
        t
        for t in study.get_trials()
        if t.state.name in ("COMPLETE", "PRUNED")
        or (t.state.name == "FAIL" and not t.user_attrs.get("interrupted"))
    ]
    assert len(counted) == 10


def test_two_machines_join_one_study_through_a_database_url(tmp_path: Path) -> None:
    """Two sweep processes (as on two machines) on one study in an Optuna database and
    one MLflow store: together they run exactly the target, and every trial is one child
    run of the one parent, whichever process ran it. The first process's first trial is
    held until the second has finished one, so both surely take part."""
    make_sessions(tmp_path / "rec")
    url = f"sqlite:///{tmp_path / 'exp' / 'optuna.db'}"
    (tmp_path / "exp").mkdir()
    script = SCRIPT.format(
        tests=str(TESTS), tmp=str(tmp_path), trials=14, changes={"storage": url, "workers": 1}
    )
    gate = tmp_path / "gate"

    def start(**env: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-c", script],
            env={**os.environ, "FAKE_SESSION_SLEEP": "0.02", **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def trials() -> list:
        try:
            return optuna.load_study(study_name="toy", storage=make_storage(url)).get_trials()
        except Exception:  # the study does not exist yet
            return []

    first = start(FAKE_GATE=str(gate))
    deadline = time.time() + 240
    while time.time() < deadline and not any(t.state.name == "RUNNING" for t in trials()):
        assert first.poll() is None, first.communicate()[1][-2000:]
        time.sleep(0.1)
    second = start()
    while time.time() < deadline and not any(t.state.name == "COMPLETE" for t in trials()):
        assert second.poll() is None, second.communicate()[1][-2000:]
        time.sleep(0.1)
    gate.touch()
    outs = [p.communicate(timeout=240) for p in (first, second)]
    for p, (stdout, stderr) in zip((first, second), outs, strict=True):
        assert p.returncode == 0 and "DONE" in stdout, stderr[-2000:]
    study = optuna.load_study(study_name="toy", storage=url)
    finished = [t for t in study.get_trials() if t.state.name in ("COMPLETE", "PRUNED", "FAIL")]
    assert len(finished) == len(study.get_trials()) == 14  # exactly the target
    tokens = {t.user_attrs.get("token") for t in finished}
    assert len(tokens) == 2  # both processes ran trials
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'exp' / 'mlflow.db'}")
    exp = client.get_experiment_by_name("toy")
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    parents = [r for r in runs if r.data.tags.get("pk8opt.role") == "sweep"]
    assert len(parents) == 1
    numbers = [
        int(r.data.tags["pk8opt.trial"])
        for r in runs
        if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id
    ]
    assert sorted(numbers) == sorted(t.number for t in finished)  # each once
    # validation ran once, in one of the two
    assert sum("\nvalidating: " in "\n" + out for out, _ in outs) == 1, [o for o, _ in outs]


def add_trials(study, edges_values: list[tuple[float, float]]) -> None:
    """Finished trials as a sweep process that was killed before logging them leaves."""
    from optuna.distributions import FloatDistribution, IntDistribution

    space = {"edge": FloatDistribution(0.005, 0.08), "size": IntDistribution(5, 50, step=5)}
    for edge, value in edges_values:
        study.add_trial(
            optuna.trial.create_trial(
                params={"edge": edge, "size": 10},
                distributions=space,
                value=value,
                user_attrs={"token": "dead-process"},
            )
        )


@pytest.mark.parametrize("orphan_after_s", [0.0, 3600.0], ids=["old", "just-finished"])
def test_trials_finished_by_a_killed_sweep_are_logged_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, orphan_after_s: float
) -> None:
    """Trials a killed process finished but never logged reach MLflow from the next
    sweep: at its start when they are old, at its end when they had just finished
    (their own process might still have logged them meanwhile)."""
    from pk8opt.pipeline import trial_log

    make_sessions(tmp_path / "rec")
    cfg = parse_config(config_doc(tmp_path, trials=5), "toy.yaml")
    study = optuna.create_study(
        study_name="toy", storage=make_storage(cfg.storage_url()), direction="maximize"
    )
    add_trials(study, [(0.02, 0.0), (0.03, 1.0), (0.04, 2.0)])
    monkeypatch.setattr(trial_log, "ORPHAN_AFTER_S", orphan_after_s)
    _, out = _sweep(tmp_path, trials=5)
    _, children = _children(tmp_path, out.parent_run_id)
    numbers = sorted(int(r.data.tags["pk8opt.trial"]) for r in children)
    assert numbers == [0, 1, 2, 3, 4]


SINGLE = {"metric": "pnl_usdc", "direction": "maximize"}
BOTH = [SINGLE, {"metric": "fills", "direction": "minimize"}]


@pytest.mark.parametrize(
    ("sampler", "changes"),
    [
        ({"type": "tpe", "seed": 1, "startup_trials": 2}, {}),
        ({"type": "random", "seed": 1}, {}),
        ({"type": "cmaes", "seed": 1}, {}),
        ({"type": "nsga2", "seed": 1}, {"objective": BOTH, "pruner": {"type": "none"}}),
        (
            {"type": "grid"},
            {
                "space": {
                    "edge": {"low": 0.01, "high": 0.05, "step": 0.02},
                    "size": {"low": 5, "high": 10, "step": 5},
                }
            },
        ),
    ],
    ids=lambda v: v.get("type", "") if isinstance(v, dict) else "",
)
def test_every_sampler_runs_a_sweep(tmp_path: Path, sampler: dict, changes: dict) -> None:
    make_sessions(tmp_path / "rec")
    cfg, out = _sweep(tmp_path, trials=6, workers=1, sampler=sampler, **changes)
    study = optuna.load_study(study_name="toy", storage=make_storage(cfg.storage_url()))
    trials = study.get_trials()
    assert len(trials) == 6
    for t in trials:  # the stand-in evaluator raises for edge > 0.07
        assert t.state.name in (("FAIL",) if t.params["edge"] > 0.07 else ("COMPLETE", "PRUNED"))
    if sampler["type"] == "grid":  # 3 edges x 2 sizes: each combination once
        assert len({(t.params["edge"], t.params["size"]) for t in trials}) == 6
    _, children = _children(tmp_path, out.parent_run_id)
    assert len(children) == 6


@pytest.mark.parametrize(
    "pruner",
    [
        {"type": "median", "startup_trials": 2, "warmup_windows": 1},
        {"type": "percentile", "percentile": 50.0, "startup_trials": 2},
        {"type": "successive_halving", "warmup_windows": 1},
        {"type": "hyperband", "warmup_windows": 1},
        {"type": "none"},
    ],
    ids=lambda p: p["type"],
)
def test_every_pruner_runs_a_sweep(tmp_path: Path, pruner: dict) -> None:
    make_sessions(tmp_path / "rec")
    sampler = {"type": "random", "seed": 2}
    cfg, out = _sweep(tmp_path, trials=10, workers=1, sampler=sampler, pruner=pruner)
    study = optuna.load_study(study_name="toy", storage=make_storage(cfg.storage_url()))
    trials = study.get_trials()
    assert len(trials) == 10 and out.tally.done == 10
    assert all(t.state.name in ("COMPLETE", "PRUNED", "FAIL") for t in trials)
    pruned = [t for t in trials if t.state.name == "PRUNED"]
    if pruner["type"] == "none":
        assert not pruned
    for t in pruned:  # pruned after reporting at least the warm-up sessions
        assert len(t.intermediate_values) >= 1


def test_a_candidate_failing_when_replayed_is_reported_and_the_sweep_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A trial finished by another process without per-session results is replayed by
    validation; when the replay raises, the sweep says so and still ends with a verdict."""
    from pk8opt.pipeline import trial_log

    make_sessions(tmp_path / "rec")
    cfg = parse_config(config_doc(tmp_path, trials=4), "toy.yaml")
    study = optuna.create_study(
        study_name="toy", storage=make_storage(cfg.storage_url()), direction="maximize"
    )
    add_trials(study, [(0.075, 1e6)])  # the best, and the stand-in raises for edge > 0.07
    console = Console(record=True, width=200, file=open(os.devnull, "w"))  # noqa: SIM115
    monkeypatch.setattr(trial_log, "ORPHAN_AFTER_S", 0.0)
    out = run_sweep(
        cfg, "toy.yaml", console=console, evaluator=EVALUATOR, experiments_dir=tmp_path / "exp"
    )
    text = console.export_text()
    assert "trial 0 on the in-sample windows failed: RuntimeError: boom" in text
    assert "verdict: " in text
    client, _ = _children(tmp_path, out.parent_run_id)
    assert client.get_run(out.parent_run_id).info.status == "FINISHED"
    assert out.chosen is not None and out.chosen != 0
    rec = record.load(make_storage(cfg.storage_url()), "toy")
    assert rec is not None and rec["chosen_trial"] == out.chosen


def test_cmaes_says_once_which_parameters_it_draws_at_random(tmp_path: Path) -> None:
    from pk8opt.sweep.evaluate import load_evaluator
    from pk8opt.sweep.runner import prepare

    make_sessions(tmp_path / "rec")
    space = {"edge": {"low": 0.005, "high": 0.05}, "size": {"choices": [5, 10]}}
    doc = config_doc(tmp_path, sampler={"type": "cmaes"}, space=space)
    _, _, notes = prepare(parse_config(doc, "toy.yaml"), "toy.yaml", load_evaluator(EVALUATOR))
    assert notes == [
        "toy.yaml: sampler.type: cmaes searches ranges only; size (choices) will be drawn at random"
    ]

"""A sweep whose trials fail says so (how many, the first error), offers no deploy, and
exits non-zero when every trial failed. Real journal, real loky workers, real MLflow."""

from __future__ import annotations

import functools
from pathlib import Path

import optuna
import pytest
import yaml
from support.fake_sweep import EVALUATOR, config_doc, make_sessions
from typer.testing import CliRunner

from pk8opt.cli import app
from pk8opt.pipeline import run as runner
from pk8opt.sweep.failures import find_failures
from pk8opt.sweep.study import make_storage

pytestmark = pytest.mark.slow


def sweep_cli(tmp: Path, monkeypatch: pytest.MonkeyPatch, **changes) -> tuple[int, str]:
    """`pk8opt sweep CONFIG` in process, its trials run by the stand-in evaluator (which
    raises `RuntimeError: boom: edge too wide` for an edge above 0.07)."""
    make_sessions(tmp / "rec")
    path = tmp / "toy.yaml"
    path.write_text(yaml.safe_dump(config_doc(tmp, **changes)))
    real = runner.run_sweep
    monkeypatch.setattr(
        runner,
        "run_sweep",
        functools.partial(real, evaluator=EVALUATOR, experiments_dir=tmp / "exp"),
    )
    r = CliRunner().invoke(app, ["sweep", str(path)], env={"COLUMNS": "200"})
    return r.exit_code, r.output


def test_every_trial_failing_exits_non_zero_with_the_first_error(tmp_path, monkeypatch):
    space = {"edge": {"low": 0.08, "high": 0.2}, "size": {"low": 5, "high": 50, "step": 5}}
    code, out = sweep_cli(tmp_path, monkeypatch, space=space, trials=4, workers=2)
    assert code == 1, out
    assert "every trial failed; first, trial 0: RuntimeError: boom: edge too wide" in out
    assert "not offering to deploy" in out
    assert "pk8opt deploy" not in out
    assert "Traceback" not in out


def test_some_trials_failing_is_said_and_deploy_is_not_offered(tmp_path, monkeypatch):
    space = {"edge": {"low": 0.04, "high": 0.1}, "size": {"low": 5, "high": 50, "step": 5}}
    code, out = sweep_cli(tmp_path, monkeypatch, space=space, trials=8, workers=1)
    storage = make_storage(str(tmp_path / "exp" / "optuna.journal"))
    trials = optuna.load_study(study_name="toy", storage=storage).get_trials()
    failed = sorted(t.number for t in trials if t.state.name == "FAIL")
    assert 0 < len(failed) < 8, "the seeded sampler gives both kinds of trial"
    assert code == 0, out
    assert f"{len(failed)} of 8 trials failed; first, trial {failed[0]}: RuntimeError: boom" in out
    assert "pk8opt deploy" not in out and "not offering to deploy" in out
    f = find_failures(trials)
    assert (f.count, f.first_number, f.all_failed) == (len(failed), failed[0], False)


def test_no_failure_still_offers_deploy(tmp_path, monkeypatch):
    space = {"edge": {"low": 0.005, "high": 0.06}, "size": {"low": 5, "high": 50, "step": 5}}
    code, out = sweep_cli(tmp_path, monkeypatch, space=space, trials=3, workers=1)
    assert code == 0, out
    assert "trials failed" not in out and "not offering to deploy" not in out
    # the validation stage decides what deploy ships; either way the command is shown
    assert "deploy the validated trial" in out or "nothing to deploy" in out, out


def test_workers_are_capped_at_the_cores_unless_forced(tmp_path, monkeypatch):
    from pk8opt.sweep.cores import cap_workers, usable_cores

    cores = usable_cores()
    code, out = sweep_cli(tmp_path, monkeypatch, trials=2, workers=1000)
    assert code == 0, out
    assert f"workers: 1000 capped at {cores}, the cores of this machine" in out
    assert f"with {cores} worker{'s' if cores != 1 else ''}\n" in out
    assert cap_workers(1000, force=True) == (1000, None)
    assert cap_workers(cores) == (cores, None)

"""deploy: the managed .env block, untouched credentials, backups, dry runs."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from support.deploy import CREDS, make_study, verdict
from support.fake_sweep import EVALUATOR, FakeConfig

from pk8opt.deploy.trial import BEGIN, END, deploy_trial, merge_env, render_block
from pk8opt.errors import ConfigError
from pk8opt.sweep.study import make_storage
from pk8opt.validation import record


def test_merge_keeps_other_lines_and_replaces_the_block() -> None:
    block = render_block({"PM_TOY_EDGE": "0.01", "PM_TOY_SIZE": "5"}, ["study s, trial 1"])
    once = merge_env(CREDS, block, {"PM_TOY_EDGE", "PM_TOY_SIZE"})
    assert once.startswith(
        "# credentials\nPOLY_PRIVATE_KEY=0xabc\nexport POLY_API_SECRET='s e c'\n\n"
    )
    assert "# (replaced by pk8opt deploy) PM_TOY_EDGE=0.4" in once
    assert once.count(BEGIN) == 1 and once.count(END) == 1
    block2 = render_block({"PM_TOY_EDGE": "0.02"}, ["study s, trial 2"])
    twice = merge_env(once, block2, {"PM_TOY_EDGE"})
    assert twice.count(BEGIN) == 1 and "trial 2" in twice and "trial 1" not in twice
    assert "PM_TOY_SIZE" not in twice
    assert twice.split(BEGIN)[0] == once.split(BEGIN)[0]


@pytest.mark.parametrize("legacy", [True, False], ids=["one-attr record", "small attrs"])
def test_deploy_best_writes_env_with_header_backup_and_diff(tmp_path: Path, legacy: bool) -> None:
    url = make_study(tmp_path, legacy=legacy)
    assert ("pk8opt" in _load(url).user_attrs) == legacy
    env_file = tmp_path / ".env"
    env_file.write_text(CREDS)
    dep = deploy_trial(
        env_file, storage=url, evaluator=EVALUATOR, tracking_uri=f"sqlite:///{tmp_path / 'm.db'}"
    )
    study = optuna.load_study(study_name="toy", storage=make_storage(url))
    assert dep.trial == study.best_trial.number == 1
    text = env_file.read_text()
    assert "# study toy, trial 1" in text
    # P&L sums over sessions: also per session
    assert "in-sample 5 (1.25/session)" in text
    assert "# validation: pass; oos_pnl_per_window 0.8, oos_t 2.4, dsr 0.97, pbo 0.1" in text
    assert "# in-sample: w1\n# lockbox:   w2\n# data fingerprint f, code v\n" in text
    assert "# objective: maximize pnl_usdc: in-sample 5 (1.25/session)" in text
    assert dep.backup is not None and dep.backup.read_text() == CREDS
    assert "+PM_STRATEGY=toy" in dep.diff
    from pk8opt.live.keys import read_env_file

    env = read_env_file(env_file)
    assert env["POLY_PRIVATE_KEY"] == "0xabc" and env["POLY_API_SECRET"] == "s e c"
    cfg = FakeConfig.from_env(env)
    assert cfg.values["edge"] == study.best_trial.params["edge"]
    assert cfg.values["min_requote_s"] == 2.5
    assert env_file.stat().st_mode & 0o777 == (dep.backup.stat().st_mode & 0o777)


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    url = make_study(tmp_path)
    env_file = tmp_path / ".env"
    env_file.write_text(CREDS)
    dep = deploy_trial(
        env_file,
        storage=url,
        evaluator=EVALUATOR,
        dry_run=True,
        tracking_uri=f"sqlite:///{tmp_path / 'm.db'}",
    )
    assert dep.diff and env_file.read_text() == CREDS
    assert list(tmp_path.glob(".env.bak-*")) == []


def test_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no study storage here"):
        deploy_trial(
            tmp_path / ".env", storage=str(tmp_path / "missing.journal"), evaluator=EVALUATOR
        )
    url = make_study(tmp_path)
    make_study(tmp_path, "other")
    with pytest.raises(ConfigError, match=r"holds several studies \(.*\); pick one with --study"):
        deploy_trial(tmp_path / ".env", storage=url, evaluator=EVALUATOR)
    with pytest.raises(ConfigError, match="--study nope: not in"):
        deploy_trial(tmp_path / ".env", storage=url, study="nope", evaluator=EVALUATOR)


def _load(url: str):
    return optuna.load_study(study_name="toy", storage=make_storage(url))


def _set_verdict(url: str, rec: dict) -> None:
    """A (new) verdict of the study's validation, where the sweep stores it."""
    record.save(make_storage(url), "toy", rec)


def test_best_deploys_the_trial_validation_chose_not_the_best_in_sample(tmp_path: Path) -> None:
    url = make_study(tmp_path)  # trial values 1, 5, 2: trial 1 is the best in-sample
    _set_verdict(url, verdict(chosen=2))
    tracking = f"sqlite:///{tmp_path / 'm.db'}"
    dep = deploy_trial(tmp_path / ".env", storage=url, evaluator=EVALUATOR, tracking_uri=tracking)
    assert dep.trial == 2 and dep.forced is None


def test_a_failing_verdict_refuses_every_deploy_and_names_the_checks(tmp_path: Path) -> None:
    from pk8opt.validation.gate import DeployRefused

    url = make_study(tmp_path)
    _set_verdict(url, verdict(chosen=1, failing=("oos_t", "pbo")))
    env_file = tmp_path / ".env"
    env_file.write_text(CREDS)
    for dry_run in (True, False):
        with pytest.raises(DeployRefused) as err:
            deploy_trial(env_file, storage=url, evaluator=EVALUATOR, dry_run=dry_run)
        assert [c.name for c in err.value.checks] == ["oos_t", "pbo"]
        assert "validation fails: oos_t, pbo" in str(err.value)
    assert env_file.read_text() == CREDS  # nothing written, no backup
    assert list(tmp_path.glob(".env.bak-*")) == []


def test_another_trial_than_the_chosen_one_is_refused(tmp_path: Path) -> None:
    from pk8opt.validation.gate import DeployRefused

    url = make_study(tmp_path)  # validation chose trial 1 and passed
    with pytest.raises(DeployRefused) as err:
        deploy_trial(tmp_path / ".env", storage=url, evaluator=EVALUATOR, number=2)
    assert [(c.name, c.value) for c in err.value.checks] == [("chosen_trial", 2)]


def test_a_study_without_validation_is_refused(tmp_path: Path) -> None:
    from pk8opt.validation.gate import DeployRefused

    url = make_study(tmp_path, legacy=False, validated=False)
    with pytest.raises(DeployRefused, match="validation fails: validation"):
        deploy_trial(tmp_path / ".env", storage=url, evaluator=EVALUATOR)


def test_force_deploys_and_writes_the_reason_and_failing_figures(tmp_path: Path) -> None:
    from mlflow import MlflowClient

    from pk8opt.tracking import Tracker

    tracking = f"sqlite:///{tmp_path / 'm.db'}"
    tracker = Tracker(tracking, "toy")
    parent = tracker.start_sweep("toy", "journal", {}, {}, {})
    url = make_study(tmp_path)
    rec = {**verdict(chosen=1, failing=("dsr",)), "parent_run_id": parent}
    _set_verdict(url, rec)
    with pytest.raises(ConfigError, match="--force: give the reason"):
        deploy_trial(tmp_path / ".env", storage=url, evaluator=EVALUATOR, force="  ")
    dep = deploy_trial(
        tmp_path / ".env",
        storage=url,
        evaluator=EVALUATOR,
        tracking_uri=tracking,
        force="paper-trading the runner",
    )
    assert dep.trial == 1 and [c.name for c in dep.forced or []] == ["dsr"]
    text = (tmp_path / ".env").read_text()
    assert "# FORCED past failing validation: paper-trading the runner" in text
    assert "#   failing: dsr = 0.5 (required >= 0.95)" in text
    # the verdict's reasons are said once: by the failing lines, not again on the verdict's
    assert "# validation: fail (forced; the failing checks below); " in text
    assert text.count("dsr = 0.5") + text.count("dsr 0.5 <") == 1
    tag = MlflowClient(tracking_uri=tracking).get_run(parent).data.tags["pk8opt.deploy_override"]
    assert tag.startswith("paper-trading the runner | failing: dsr=0.5 (required >= 0.95)")


def test_a_tracking_password_is_not_kept_in_the_study_and_deploy_asks_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pk8opt.sweep.study_meta import StudyMeta, study_attrs

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    secret = "postgresql://pk8:hunter2@db.invalid/mlflow"
    kept = study_attrs(StudyMeta("toy", [("maximize", "pnl_usdc")], tracking_uri=secret))
    assert kept["pk8opt.tracking_uri"] == "postgresql://pk8:***@db.invalid/mlflow"
    assert "hunter2" not in str(kept)

    url = make_study(tmp_path, legacy=False)
    study = _load(url)
    study.set_user_attr("pk8opt.tracking_uri", kept["pk8opt.tracking_uri"])
    with pytest.raises(ConfigError) as err:
        deploy_trial(tmp_path / ".env", storage=url, evaluator=EVALUATOR)
    assert "pk8:***@db.invalid/mlflow" in str(err.value) and "--tracking-uri" in str(err.value)
    # given the store, it deploys (here another, reachable one)
    tracking = f"sqlite:///{tmp_path / 'm.db'}"
    dep = deploy_trial(tmp_path / ".env", storage=url, evaluator=EVALUATOR, tracking_uri=tracking)
    assert dep.trial == 1


def test_a_deployed_env_always_trades_on_paper(tmp_path: Path) -> None:
    """Going real is a decision on the command line: deploy never writes PM_DRY_RUN=0 or
    PM_PAPER_TRADING=0, and a line of the user's own setting them is commented out."""
    url = make_study(tmp_path)
    env_file = tmp_path / ".env"
    env_file.write_text(CREDS + "PM_PAPER_TRADING=0\nPM_DRY_RUN=0\n")
    deploy_trial(
        env_file, storage=url, evaluator=EVALUATOR, tracking_uri=f"sqlite:///{tmp_path / 'm.db'}"
    )
    from pk8opt.live.keys import read_env_file

    env = read_env_file(env_file)
    assert env["PM_PAPER_TRADING"] == "1" and env["PM_DRY_RUN"] == "1"
    text = env_file.read_text()
    assert "# (replaced by pk8opt deploy) PM_PAPER_TRADING=0" in text
    assert "# (replaced by pk8opt deploy) PM_DRY_RUN=0" in text
    assert "PM_DRY_RUN=0\n" not in text.replace("# (replaced by pk8opt deploy) PM_DRY_RUN=0", "")

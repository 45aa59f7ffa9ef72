""".env handling: secrets never printed, a symlink written at its target, CRLF kept,
read-only refused, unknown PM_* keys warned about with the nearest name."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest
from support.deploy import CREDS, make_study
from support.fake_sweep import EVALUATOR

from pk8opt.deploy.trial import deploy_trial
from pk8opt.errors import ConfigError
from pk8opt.live.keys import read_env_file, unknown_pm_keys

SECRETS = "POLY_PRIVATE_KEY=0xdeadbeef\n# POLY_OLD_KEY=0xcafe\nexport POLY_API_SECRET='s3cr3t'\n"


def _deploy(tmp: Path, env_file: Path, **kw):  # noqa: ANN003
    url = str(tmp / "optuna.journal")
    if not Path(url).exists():
        make_study(tmp)
    return deploy_trial(
        env_file, storage=url, evaluator=EVALUATOR, tracking_uri=f"sqlite:///{tmp / 'm.db'}", **kw
    )


def test_diff_shows_keys_never_the_values_of_lines_deploy_does_not_own(tmp_path: Path):
    env_file = tmp_path / ".env"
    env_file.write_text(SECRETS + "PM_TOY_EDGE=0.4\n")
    dep = _deploy(tmp_path, env_file, dry_run=True)
    for secret in ("0xdeadbeef", "0xcafe", "s3cr3t", "0.4"):
        assert secret not in dep.diff, secret
    assert " POLY_PRIVATE_KEY=***" in dep.diff and "export POLY_API_SECRET=***" in dep.diff
    assert "+# (replaced by pk8opt deploy) PM_TOY_EDGE=***" in dep.diff
    assert "+PM_STRATEGY=toy" in dep.diff  # the block's own values are shown
    dep = _deploy(tmp_path, env_file)
    assert "0xdeadbeef" not in dep.diff and "0xdeadbeef" in env_file.read_text()


def test_symlinked_env_is_updated_at_its_target(tmp_path: Path):
    real = tmp_path / "secrets" / "live.env"
    real.parent.mkdir()
    real.write_text(CREDS)
    link = tmp_path / ".env"
    link.symlink_to(real)
    dep = _deploy(tmp_path, link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert "PM_STRATEGY=toy" in real.read_text() and "POLY_PRIVATE_KEY=0xabc" in real.read_text()
    assert dep.backup is not None and dep.backup.parent == real.parent
    assert dep.backup.read_text() == CREDS


def test_crlf_file_stays_crlf(tmp_path: Path):
    env_file = tmp_path / ".env"
    env_file.write_bytes(CREDS.replace("\n", "\r\n").encode())
    dep = _deploy(tmp_path, env_file)
    data = env_file.read_bytes()
    assert b"PM_STRATEGY=toy\r\n" in data
    assert data.count(b"\n") == data.count(b"\r\n")  # no bare LF
    assert "\r" not in dep.diff  # the diff compares lines, not line ends
    assert read_env_file(env_file)["POLY_PRIVATE_KEY"] == "0xabc"


def test_read_only_env_is_refused_in_one_line(tmp_path: Path):
    """Refused for every user: root may write anything, pk8opt still leaves a file
    marked read-only alone."""
    env_file = tmp_path / ".env"
    env_file.write_text(CREDS)
    env_file.chmod(stat.S_IRUSR | stat.S_IRGRP)
    with pytest.raises(ConfigError, match=r"read-only; make it writable \(chmod u\+w"):
        _deploy(tmp_path, env_file)
    assert env_file.read_text() == CREDS and not list(tmp_path.glob(".env.bak-*"))


def test_unknown_pm_key_is_warned_with_the_nearest_name(tmp_path: Path):
    env_file = tmp_path / ".env"
    env_file.write_text("PM_STRATEGY=balanced_arb\nPM_ARB_EGDE=0.05\nPM_WHATEVER_ELSE=1\nX=1\n")
    said: list[str] = []
    env = read_env_file(env_file, warn=said.append)
    assert env["PM_ARB_EGDE"] == "0.05"
    assert said[0] == f"{env_file}: PM_ARB_EGDE is not a pk8opt setting; did you mean PM_ARB_EDGE?"
    assert said[1].startswith(f"{env_file}: PM_WHATEVER_ELSE is not a pk8opt setting")
    assert len(said) == 2
    assert unknown_pm_keys(["PM_ARB_EDGE", "PM_STRATEGY", "PM_WATCHLIST"]) == []


def test_unknown_pm_key_warning_reaches_the_terminal(tmp_path: Path, sample_dir: Path):
    import subprocess

    env_file = tmp_path / ".env"
    env_file.write_text("PM_STRATEGY=balanced_arb\nPM_ARB_EGDE=0.05\n")
    session = sample_dir / "btc-updown-15m-1791986400"
    import shutil

    copy = tmp_path / session.name
    shutil.copytree(session, copy, ignore=shutil.ignore_patterns(".cache"))
    r = subprocess.run(
        [sys.executable, "-m", "pk8opt.cli", "backtest", "--json", "--env-file", str(env_file)]
        + [str(copy)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert "warning:" in r.stderr and "did you mean PM_ARB_EDGE?" in r.stderr

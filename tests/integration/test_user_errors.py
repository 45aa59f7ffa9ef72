"""Every user error is one line (no traceback), through the real console script: the
paths a careless user and a hostile world take."""

from __future__ import annotations

import errno
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PK8 = [sys.executable, "-m", "pk8opt.cli"]
SLUG = "btc-updown-15m-1791986400"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PK8, *args], capture_output=True, text=True, timeout=300, cwd=cwd)


def one_error_line(r: subprocess.CompletedProcess[str], *words: str) -> str:
    assert r.returncode == 1, (r.returncode, r.stdout[-2000:], r.stderr[-2000:])
    assert "Traceback" not in r.stderr, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, r.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


@pytest.fixture
def session(sample_dir: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "rec" / SLUG
    shutil.copytree(sample_dir / SLUG, dst, ignore=shutil.ignore_patterns(".cache"))
    return dst


def test_config_path_that_is_a_directory(tmp_path: Path):
    (tmp_path / "cfg").mkdir()
    one_error_line(run("sweep", str(tmp_path / "cfg")), str(tmp_path / "cfg"), "directory")


def test_plot_into_a_missing_folder_is_refused_before_the_replay(session: Path, tmp_path: Path):
    target = tmp_path / "nowhere" / "eq.png"
    line = one_error_line(run("backtest", str(session), "--plot", str(target)), "--plot")
    assert "does not exist" in line and str(tmp_path / "nowhere") in line
    assert not (tmp_path / "nowhere").exists()


def test_plot_into_an_existing_folder_writes_inside_it(session: Path, tmp_path: Path):
    plots = tmp_path / "plots"
    plots.mkdir()
    r = run("backtest", str(session), "--plot", str(plots))
    assert r.returncode == 0, r.stderr
    assert (plots / "equity.png").stat().st_size > 1000
    assert not (tmp_path / "plots.png").exists()
    assert f"equity curve: {plots / 'equity.png'}" in r.stdout


def test_env_file_that_is_a_directory(session: Path, tmp_path: Path):
    (tmp_path / "envdir").mkdir()
    one_error_line(
        run("backtest", str(session), "--env-file", str(tmp_path / "envdir")), "is a directory"
    )


def test_env_file_with_binary_bytes(session: Path, tmp_path: Path):
    bad = tmp_path / "bin.env"
    bad.write_bytes(b"PM_ARB_EDGE=0.02\nPM_X=\xff\xfe\x00garbage\n")
    one_error_line(run("backtest", str(session), "--env-file", str(bad)), str(bad), "binary")
    latin = tmp_path / "latin.env"
    latin.write_bytes(b"PM_ARB_EDGE=0.02\nNOTE=caf\xe9\n")
    one_error_line(run("backtest", str(session), "--env-file", str(latin)), "not UTF-8")


def test_unknown_tracking_uri_scheme(tmp_path: Path):
    one_error_line(run("ui", "--tracking-uri", "bogus://x"), "bogus://x")


def test_log_into_a_missing_folder(tmp_path: Path):
    log = tmp_path / "nowhere" / "record.log"
    r = run(
        "record",
        "--out",
        str(tmp_path / "out"),
        "--log",
        str(log),
        "--duration",
        "1",
        "--gamma-url",
        "http://127.0.0.1:9",  # never the real venue: the error comes first anyway
        "--clob-ws-url",
        "ws://127.0.0.1:9",
        "--live-ws-url",
        "ws://127.0.0.1:9",
    )
    one_error_line(r, str(log), "No such file or directory")


def test_nan_setting_is_refused_naming_the_variable(session: Path, tmp_path: Path):
    env = tmp_path / "nan.env"
    env.write_text("PM_STRATEGY=balanced_arb\nPM_ARB_EDGE=nan\n")
    one_error_line(run("backtest", str(session), "--env-file", str(env)), "PM_ARB_EDGE", "finite")
    one_error_line(
        run("backtest", str(session), "-s", "balanced_arb", "--set", "edge=inf"), "edge", "finite"
    )
    one_error_line(
        run("live", "--env-file", str(env), "--headless", "--duration", "1"),
        "PM_ARB_EDGE",
        "finite",
    )


def test_password_in_a_storage_url_is_never_printed(session: Path, tmp_path: Path):
    cfg = tmp_path / "s.yaml"
    cfg.write_text(
        "study: s\nstrategy: balanced_arb\nspace: {edge: {low: 0.01, high: 0.05}}\n"
        f"data: {{paths: [{session.parent}], holdout: {{fraction: 0}}}}\n"
        "objective: {metric: pnl_usdc, direction: maximize}\ntrials: 1\nworkers: 1\n"
        f"mlflow: {{tracking_uri: 'sqlite:///{tmp_path}/m.db'}}\n"
    )
    url = "postgresql://bob:hunter2@127.0.0.1:9/optuna"  # nothing listens there
    r = run("sweep", str(cfg), "--storage", url)
    line = one_error_line(r, "bob:***@127.0.0.1:9")
    assert "hunter2" not in r.stderr + r.stdout, line


def test_disk_full_during_recordings_check(session: Path, monkeypatch: pytest.MonkeyPatch):
    """The cache cannot be written (ENOSPC, as polars and the OS report it): the check
    still runs, from memory, and no half-written file is left beside the session."""
    import polars as pl
    from typer.testing import CliRunner

    from pk8opt.cli import app

    def full(self, path, *a, **k):  # noqa: ANN001, ANN002, ANN003
        Path(path).write_bytes(b"PAR1 half")  # what a full disk leaves
        raise pl.exceptions.ComputeError(
            "parquet: underlying IO error: No space left on device (os error 28)"
        )

    monkeypatch.setattr(pl.DataFrame, "write_parquet", full)
    r = CliRunner().invoke(app, ["recordings", "check", str(session)])
    assert r.exit_code == 0, r.output
    assert "1 of 1 session(s) ok" in r.output
    assert not [p for p in (session / ".cache").glob("*") if ".tmp" in p.name]

    def enospc(self, path, *a, **k):  # noqa: ANN001, ANN002, ANN003
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(pl.DataFrame, "write_parquet", enospc)
    r = CliRunner().invoke(app, ["recordings", "check", str(session)])
    assert r.exit_code == 0, r.output

"""The CLI's error boundary, through the real console script."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PK8 = [sys.executable, "-m", "pk8opt.cli"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PK8, *args], capture_output=True, text=True, timeout=120)


def test_help_lists_the_days_commands():
    r = run("--help")
    assert r.returncode == 0
    for cmd in ("record", "sweep", "deploy", "live", "backtest", "recordings", "serve", "ui"):
        assert cmd in r.stdout


def test_bad_option_value_is_a_usage_error_not_a_traceback():
    r = run("backtest", "--json", "--set")
    assert r.returncode == 2
    assert "Traceback" not in r.stderr


def test_project_error_is_one_line(tmp_path: Path):
    r = run("recordings", "ls", str(tmp_path / "nowhere"))
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "nowhere" in lines[0]


def test_strategies_lists_every_declared_parameter_with_its_env_variable():
    import json

    from pk8opt.strategies import STRATEGIES
    from pk8opt.trading.run_config import RunConfig

    r = run("strategies", "--json")
    assert r.returncode == 0
    assert [row["name"] for row in json.loads(r.stdout)] == list(STRATEGIES)
    r = run("strategies", "balanced_arb", "--json")
    assert r.returncode == 0
    groups = json.loads(r.stdout)
    declared = [p for ps in RunConfig.param_sets("balanced_arb") for p in ps]
    listed = [row for rows in groups.values() for row in rows]
    assert [(row["name"], row["env"]) for row in listed] == [(p.name, p.env) for p in declared]
    assert run("strategies", "nope").returncode == 1


COMMANDS = [
    ["backtest"],
    ["live"],
    ["record"],
    ["serve"],
    ["simulate"],
    ["strategies"],
    ["sweep"],
    ["ui"],
    ["deploy"],
    ["recordings", "ls"],
    ["recordings", "check"],
]


def test_every_command_has_a_help_that_teaches():
    from typer.testing import CliRunner

    from pk8opt.cli import app

    runner = CliRunner()
    for cmd in COMMANDS:
        r = runner.invoke(app, [*cmd, "--help"], env={"COLUMNS": "100"})
        assert r.exit_code == 0, (cmd, r.output)
        text = " ".join(r.output.split())
        assert "Usage:" in text and "Options" in text, cmd
        assert "example" in text.lower(), cmd  # every command shows how it is used

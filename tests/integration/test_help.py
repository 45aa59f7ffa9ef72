"""Every command's `--help`: plain metavars (`INTEGER`, `PATH`, none for a flag), and
its examples one command per line."""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from pk8opt.cli import app


def _commands(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = [prefix]
    for name, command in group.commands.items():
        if hasattr(command, "commands"):  # a group of commands
            found += _commands(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


COMMANDS = _commands(typer.main.get_group(app))


def _help(path: tuple[str, ...]) -> str:
    out = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "100"}, color=False)
    assert out.exit_code == 0, out.output
    return out.output


def test_every_command_is_iterated() -> None:
    assert {("sweep",), ("sweeps", "show"), ("deploy",), ("record",), ("ui",)} <= set(COMMANDS)


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "pk8opt")
def test_metavars_are_plain(path: tuple[str, ...]) -> None:
    text = _help(path)
    assert "<list[" not in text and "<bool>" not in text, text
    # no `<int>`, `<path>`, `<str>` type labels, no `{name}` argument in the usage line
    assert not re.search(r"<(int|float|str|path|Path)\b[^>]*>", text), text
    assert "{" not in text, text
    for line in text.splitlines():  # an on/off flag takes no value: no metavar after it
        if line.strip("│ ").startswith("--help"):
            assert line.strip("│ ").split()[1:3] == ["Show", "this"], line


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "pk8opt")
def test_examples_are_one_per_line(path: tuple[str, ...]) -> None:
    lines = _help(path).splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip().startswith("Example")]
    for i in starts:
        block = []
        for line in lines[i + 1 :]:
            if line.strip().startswith("╭"):  # the options panel
                break
            if line.strip():
                block.append(line.strip())
        commands = [x for x in block if "pk8opt " in x]
        for x in commands:  # each example its own line, beginning with the command
            assert x.startswith("pk8opt ") and x.count("pk8opt ") == 1, block


def test_the_examples_of_sweep_deploy_and_record_are_separate_lines() -> None:
    sweep = [x.strip() for x in _help(("sweep",)).splitlines()]
    assert "pk8opt sweep configs/balanced_arb.yaml --trials 200 --workers 8" in sweep
    assert "pk8opt sweep configs/balanced_arb.yaml --json > summary.json" in sweep
    deploy = [x.strip() for x in _help(("deploy",)).splitlines()]
    assert "pk8opt deploy --best --env-file .env --dry-run" in deploy
    assert "pk8opt deploy --best --dry-run --json" in deploy
    record = [x.strip() for x in _help(("record",)).splitlines()]
    assert "pk8opt record --symbols BTC,ETH --sessions 4" in record
    assert "pk8opt record --check" in record


def test_options_read_as_on_a_command_line() -> None:
    text = _help(("sweep",))
    assert re.search(r"--trials\s+INTEGER", text) and re.search(r"--storage\s+TEXT", text)
    assert "Usage: pk8opt sweep [OPTIONS] CONFIG" in text
    assert re.search(r"--json\s+Print the final summary", text)  # a flag: no metavar

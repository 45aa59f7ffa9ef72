"""`--json` output: strict JSON (no NaN), and a stdout the command's helpers and child
processes cannot write into."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pk8opt.cli.json_out import json_text


def test_a_figure_that_could_not_be_computed_is_null() -> None:
    doc = {"checks": [{"name": "oos_t", "value": float("nan")}], "x": (1.5, float("inf"))}
    text = json_text(doc)
    assert json.loads(text) == {"checks": [{"name": "oos_t", "value": None}], "x": [1.5, None]}
    assert "NaN" not in text and "Infinity" not in text


@pytest.mark.parametrize("where", ["print", "child"])
def test_stdout_carries_the_document_alone(where: str) -> None:
    body = (
        "print('progress')"
        if where == "print"
        else "import subprocess, sys; subprocess.run([sys.executable, '-c', 'print(1)'])"
    )
    code = (
        "from pk8opt.cli.json_out import echo_json, stdout_to_stderr\n"
        f"with stdout_to_stderr():\n    {body}\n"
        "echo_json({'ok': True})\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(r.stdout) == {"ok": True}
    assert r.stderr.strip() == ("progress" if where == "print" else "1")

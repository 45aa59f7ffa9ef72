"""What the commands print, stream by stream and word by word: `record` keeps its
JSON-lines log on stderr and its summary on stdout; `backtest`'s table speaks in words."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from pk8opt.fakepm.broken import closed_port

PK8 = str(Path(sys.executable).parent / "pk8opt")


def test_record_summary_on_stdout_and_stderr_json_lines_alone(tmp_path: Path) -> None:
    port = closed_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PK8_")}
    proc = subprocess.run(
        [
            PK8,
            "record",
            "--symbols",
            "BTC",
            "--out",
            str(tmp_path / "out"),
            "--quiet",
            "--duration",
            "1",
            "--gamma-url",
            f"http://127.0.0.1:{port}",
            "--clob-ws-url",
            f"ws://127.0.0.1:{port}",
            "--live-ws-url",
            f"ws://127.0.0.1:{port}",
        ],  # fmt: skip
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stderr
    events = [json.loads(line) for line in proc.stderr.splitlines() if line.strip()]
    assert events and all("event" in e for e in events), proc.stderr
    assert {"connect_failed", "stop"} <= {e["event"] for e in events}
    (summary,) = proc.stdout.strip().splitlines()
    assert summary.startswith("0 complete session(s) in ") and "Gamma unreachable" in summary


def test_backtest_table_speaks_in_words(tmp_path: Path, sample_dir: Path) -> None:
    one = next(p for p in sorted(sample_dir.iterdir()) if (p / "manifest.json").exists())
    proc = subprocess.run(
        [PK8, "backtest", "-s", "fixed", str(one)],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    head = next(line for line in proc.stdout.splitlines() if line.startswith("session"))
    for words in ("winner", "P&L", "orders", "fill rate", "unpaired", "max drawdown"):
        assert words in head, head
    for cryptic in ("ords", "fill%", "unpair ", "maxDD", "won"):
        assert cryptic not in head, head
    row = next(line for line in proc.stdout.splitlines() if line.split()[:1] == ["all"])
    assert "%" in row  # the fill rate as a percentage
    assert " Dn " not in proc.stdout

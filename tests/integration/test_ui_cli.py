"""`pk8opt ui` as a trader runs it: it prints the sweep's Runs view URL, the browser is
asked to open that URL once the UI answers, and stopping the command (a closed
terminal, `kill`) stops the MLflow server it started. A real MLflow UI on loopback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pk8opt.tracking import Tracker, runs_view_url

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent / "pk8opt"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


@pytest.mark.timeout(600)
def test_ui_prints_and_opens_the_runs_view_and_stops_its_server(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = Tracker(uri, "my-sweep")
    parent = tracker.start_sweep("my-sweep", "journal", params={}, tags={}, texts={})
    tracker.set_runs_view(["maximize"], ["edge"], parent, ["pnl_per_window"])
    port = _free_port()
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"  # the browser: writes down the URL it is given
    browser.write_text(f'#!/bin/sh\necho "$1" > {opened}\n')
    browser.chmod(0o755)
    proc = subprocess.Popen(
        [str(BIN), "ui", "--tracking-uri", uri, "--port", str(port)],
        env={**os.environ, "BROWSER": f"{browser} %s"},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = runs_view_url(f"http://127.0.0.1:{port}", uri)
        assert "viewStateShareKey=pk8opt-trials" in url
        assert proc.stdout.readline().strip() == f"MLflow UI: {url}  (Ctrl-C to stop)"
        while not (opened.exists() and opened.read_text().strip()):
            assert proc.poll() is None, "pk8opt ui ended before the UI answered"
            time.sleep(0.2)  # the UI starts (20-60 s on a busy machine), then the browser
        assert opened.read_text().strip() == url
        assert _answers(port)
        proc.send_signal(signal.SIGHUP)  # the terminal closed (SIGTERM: the same)
        assert proc.wait(timeout=60) == 0
        assert not _answers(port)  # the MLflow server went with it
    finally:
        if proc.poll() is None:
            proc.kill()

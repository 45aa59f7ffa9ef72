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


def _group(pgid: int) -> list[int]:
    """The live processes of process group `pgid` (zombies are gone already)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def _ui(uri: str, port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(BIN), "ui", "--tracking-uri", uri, "--port", str(port), "--no-browser"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.timeout(600)
def test_a_busy_port_is_one_line_and_no_url(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    Tracker(uri, "my-sweep")
    with socket.socket() as other:  # another server holds the port
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        out, err = _ui(uri, port).communicate(timeout=120)
    assert out == ""  # no URL of another server
    (line,) = err.strip().splitlines()
    assert line.startswith(f"error: --port {port}: busy") and "--port " in line


@pytest.mark.timeout(600)
@pytest.mark.parametrize("when", ["starting", "up"])
def test_ctrl_c_ends_cleanly_and_leaves_no_process(tmp_path: Path, when: str) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    Tracker(uri, "my-sweep")
    port = _free_port()
    proc = _ui(uri, port)
    try:
        assert proc.stdout is not None and proc.stderr is not None
        said = proc.stderr.readline()
        log = tmp_path / "mlflow-ui.log"
        assert said.strip().endswith(f"its log: {log}")
        if when == "up":
            line = proc.stdout.readline()  # printed once the UI answers, not before
            assert line.startswith(f"MLflow UI: http://127.0.0.1:{port}/") and _answers(port)
        else:
            # the UI's server is being started: its process exists, it does not answer yet
            while not (log.exists() and _children_of(proc.pid)):
                assert proc.poll() is None
                time.sleep(0.05)
        server = _children_of(proc.pid)
        assert server  # there is a process to see gone
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert "Traceback" not in err and "KeyboardInterrupt" not in err
        for pid in server:  # the UI's whole process group is gone
            assert not _group(pid)
        assert not _answers(port)
        if when == "up":
            assert "GET /health" in log.read_text()  # MLflow's request log: in the file
            assert "GET /health" not in out + err
    finally:
        if proc.poll() is None:
            proc.kill()


def _children_of(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                kids.append(int(entry.name))
    return kids

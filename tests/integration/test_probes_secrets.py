"""`pk8opt ui` on a PostgreSQL store whose user needs a password: the password never
reaches the command line or the environment of any process the command starts (what
`ps` and /proc show every user of the machine), the UI still reads the store, and the
file holding the password is private and gone once the command ends. A real PostgreSQL
cluster on loopback (password authentication), a real MLflow UI."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg
import pytest

from pk8opt.tracking import Tracker

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent / "pk8opt"
PASSWORD = "hunter2pw"


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


@pytest.fixture(scope="module")
def bob(pg_cluster) -> str:
    """A role `bob` that must give its password over TCP (made once per test cluster)."""
    with psycopg.connect(pg_cluster.url(), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE bob LOGIN SUPERUSER PASSWORD '{PASSWORD}'")
    hba = pg_cluster.data / "pg_hba.conf"
    hba.write_text(f"host all bob 127.0.0.1/32 scram-sha-256\n{hba.read_text()}")
    with psycopg.connect(pg_cluster.url(), autocommit=True) as conn:
        conn.execute("SELECT pg_reload_conf()")
    bare = f"postgresql://bob@127.0.0.1:{pg_cluster.port}/postgres"
    for _ in range(600):  # until the server has reloaded: bob without a password is refused
        try:
            psycopg.connect(bare, connect_timeout=5).close()
        except psycopg.OperationalError:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the server still lets bob in without a password")
    return "bob"


def _children(pid: int) -> list[int]:
    """Every live descendant of `pid`, from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        kids = [p for p, pp in parents.items() if pp == parent]
        found += kids
        todo += kids
    return found


def _read(pid: int, name: str) -> str:
    try:
        return (Path("/proc") / str(pid) / name).read_bytes().replace(b"\0", b" ").decode()
    except OSError:  # gone meanwhile
        return ""


def _experiments(port: int) -> list[str]:
    url = f"http://127.0.0.1:{port}/ajax-api/2.0/mlflow/experiments/search?max_results=50"
    with urllib.request.urlopen(url, timeout=30) as answer:
        return [e["name"] for e in json.load(answer).get("experiments", [])]


@pytest.mark.timeout(600)
@pytest.mark.parametrize("given", ["flag", "environment"])
def test_ui_keeps_the_store_password_off_every_child_command_line_and_environment(
    tmp_path: Path, pg_cluster, pg_mlflow: str, bob: str, given: str
) -> None:
    database = pg_mlflow.rsplit("/", 1)[1]
    uri = f"postgresql://{bob}:{PASSWORD}@127.0.0.1:{pg_cluster.port}/{database}"
    Tracker(uri, "probe-sweep")
    port = _free_port()
    args = [str(BIN), "ui", "--port", str(port), "--no-browser"]
    env = {k: v for k, v in os.environ.items() if k not in ("PGPASSWORD", "PGPASSFILE")}
    if given == "flag":
        args += ["--tracking-uri", uri]
    else:
        env["MLFLOW_TRACKING_URI"] = uri
    proc = subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path
    )
    try:
        while not _answers(port):  # the UI is up once its port answers
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            time.sleep(0.2)
        kids = _children(proc.pid)
        assert kids
        passfiles = set()
        for pid in kids:
            cmdline, environ = _read(pid, "cmdline"), _read(pid, "environ")
            assert PASSWORD not in cmdline, cmdline
            assert PASSWORD not in environ, (pid, cmdline)
            passfiles |= {
                v.split("=", 1)[1] for v in environ.split() if v.startswith("PGPASSFILE=")
            }
        assert "probe-sweep" in _experiments(port)  # the UI reads the store all the same
        (passfile,) = passfiles
        held = Path(passfile)
        assert stat.S_IMODE(held.stat().st_mode) == 0o600
        assert stat.S_IMODE(held.parent.stat().st_mode) == 0o700
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err[-3000:]
        assert PASSWORD not in out + err
        assert not held.parent.exists()  # removed on the way out
        assert not _answers(port)
    finally:
        if proc.poll() is None:
            proc.kill()

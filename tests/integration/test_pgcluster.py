"""The test PostgreSQL cluster cleans up after a killed run: each cluster folder names
its owner, and the next cluster stops and removes those whose owner is gone
(tests/support/pgcluster.py)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.paths import TESTS
from support.pgcluster import OWNER, PREFIX, UNOWNED_AGE_S, process_key, reap_orphans, server_bin

NO_SERVER = Path("/nonexistent")  # pg_ctl is never needed where no server runs


def _folder(tmp: Path, name: str, owner: str | None = None, age_s: float = 0.0) -> Path:
    root = tmp / f"{PREFIX}{name}"
    (root / "data").mkdir(parents=True)
    if owner is not None:
        (root / OWNER).write_text(f"{owner}\n")
    then = time.time() - age_s
    os.utime(root, (then, then))
    return root


def test_only_clusters_whose_owner_is_gone_are_removed(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # its pid now names no process
    me = process_key(os.getpid())
    assert me is not None and process_key(child.pid) is None
    mine = _folder(tmp_path, "mine", owner=me)
    dead = _folder(tmp_path, "dead", owner=f"{child.pid} 12345")
    reused = _folder(tmp_path, "reused", owner=f"{os.getpid()} 1")  # same pid, other process
    fresh = _folder(tmp_path, "fresh")  # no owner yet: being made by an older run
    old = _folder(tmp_path, "old", age_s=UNOWNED_AGE_S + 60)
    serving = _folder(tmp_path, "serving", age_s=UNOWNED_AGE_S + 60)
    (serving / "data" / "postmaster.pid").write_text(f"{os.getpid()}\n/x\n")  # server alive
    other = tmp_path / "not-a-cluster"
    other.mkdir()
    reaped = reap_orphans(NO_SERVER, tmp_path)
    assert sorted(reaped) == sorted([dead, reused, old])
    assert all(not p.exists() for p in reaped)
    assert all(p.exists() for p in (mine, fresh, serving, other))


def _accepts(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.slow
def test_a_killed_runs_cluster_is_stopped_and_removed_by_the_next_one() -> None:
    bindir = server_bin()
    if bindir is None:
        if os.environ.get("PK8OPT_REQUIRE_PG"):
            pytest.fail("no PostgreSQL server here (initdb/pg_ctl not found)")
        pytest.skip("no PostgreSQL server here (initdb/pg_ctl not found)")
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(TESTS)!r})\n"
        "from support.pgcluster import cluster\n"
        "with cluster() as c:\n"
        "    print(c.root, c.port, flush=True)\n"
        "    sys.stdin.read()\n"
    )
    run = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert run.stdout is not None
        line = run.stdout.readline()  # the cluster is up
        assert line, "the cluster did not start"
        root, port = Path(line.split()[0]), int(line.split()[1])
        assert _accepts(port)
    finally:
        run.send_signal(signal.SIGKILL)  # no `finally` of its own runs
        run.wait()
    postmaster = int((root / "data" / "postmaster.pid").read_text().split()[0])
    assert root.exists() and process_key(postmaster) is not None  # left behind, serving
    assert root in reap_orphans(bindir)
    assert not root.exists()
    assert process_key(postmaster) is None and not _accepts(port)

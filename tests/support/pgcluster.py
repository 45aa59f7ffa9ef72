"""A throwaway PostgreSQL cluster for the tests: initdb in a temp folder, started on a
free 127.0.0.1 port, removed after the session.

A run that is killed (SIGKILL, a CI timeout) cannot remove its cluster, and the server it
started keeps running. Each cluster folder therefore names its owner (the test process's
pid and start time, in `owner`); before a new cluster starts, clusters whose owner is
gone are stopped and removed (`reap_orphans`).

Uses the server binaries of Debian's `postgresql` package (/usr/lib/postgresql/*/bin),
which `make test` installs when they are missing (see the Makefile's `pg-server`).
PostgreSQL refuses to run as root: as root the cluster runs as the `postgres` user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

USER = "pk8opt"
PREFIX = "pk8opt-pg-"
OWNER = "owner"  # in a cluster's folder: "<pid> <start time>" of the process that made it
# a folder without `owner` (made before owners were recorded) is an orphan only when its
# server is not running and it is older than this
UNOWNED_AGE_S = 600.0


def server_bin() -> Path | None:
    """The folder holding initdb and pg_ctl, the newest version first."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def process_key(pid: int) -> str | None:
    """ "<pid> <start time>" of a live process, None when there is none: a pid the kernel
    hands to a new process later comes with another start time."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    except OSError:  # no /proc here: the pid alone
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return str(pid)
    fields = stat.rsplit(")", 1)[1].split()  # from field 3, the state
    if fields[0] in "ZX":  # exited, not yet (or never to be) reaped by its parent
        return None
    return f"{pid} {fields[19]}"  # field 22, the start time


def _as_user() -> list[str]:
    """As root, the prefix that runs a command as `postgres` (initdb and postgres refuse root)."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def _server_running(data: Path) -> bool:
    try:
        pid = int((data / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return False
    return process_key(pid) is not None


def _orphaned(root: Path) -> bool:
    try:
        owner = (root / OWNER).read_text().strip()
    except FileNotFoundError:
        try:
            age_s = time.time() - root.stat().st_mtime
        except OSError:
            return False
        return age_s > UNOWNED_AGE_S and not _server_running(root / "data")
    except OSError:
        return False
    pid = owner.split()[0]
    return not pid.isdigit() or process_key(int(pid)) != owner


def reap_orphans(bindir: Path, tmp: Path | None = None) -> list[Path]:
    """Stop the server of each cluster under `tmp` whose owner is gone and remove its
    folder; the folders removed. A cluster whose server will not stop is left as it is."""
    reaped = []
    for root in sorted(Path(tmp or tempfile.gettempdir()).glob(f"{PREFIX}*")):
        if not root.is_dir() or not _orphaned(root):
            continue
        data = root / "data"
        if _server_running(data):
            subprocess.run(
                [*_as_user(), str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                capture_output=True,
                timeout=120,
                cwd=root,
            )
            if _server_running(data):
                continue
        shutil.rmtree(root, ignore_errors=True)
        reaped.append(root)
    return reaped


class Cluster:
    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix=PREFIX))
        (self.root / OWNER).write_text(f"{process_key(os.getpid())}\n")
        self.data = self.root / "data"
        self.port = _free_port()
        self.as_user = _as_user()
        if self.as_user:
            import pwd

            pw = pwd.getpwnam("postgres")
            os.chown(self.root, pw.pw_uid, pw.pw_gid)

    def _run(self, *args: str) -> None:
        done = subprocess.run(
            [*self.as_user, *args], capture_output=True, text=True, timeout=120, cwd=self.root
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")

    def start(self) -> None:
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            USER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        )
        options = " ".join(
            [
                f"-p {self.port}",
                "-c listen_addresses=127.0.0.1",
                f"-c unix_socket_directories={self.data}",
                "-c max_connections=300",
                "-c shared_buffers=32MB",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
            ]
        )
        log = str(self.root / "server.log")
        pg_ctl = str(self.bindir / "pg_ctl")
        self._run(pg_ctl, "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str, template: str | None = None) -> str:
        """A new database (a copy of `template` when given): its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            if template is None:
                conn.execute(f'CREATE DATABASE "{name}"')
            else:  # a template must have no other connection while it is copied
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()",
                    (template,),
                )
                conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return self.url(name)


@contextlib.contextmanager
def cluster() -> Iterator[Cluster]:
    bindir = server_bin()
    if bindir is None:
        raise FileNotFoundError("no PostgreSQL server (initdb, pg_ctl) installed")
    reap_orphans(bindir)
    c = Cluster(bindir)
    try:
        c.start()
        yield c
    finally:
        c.stop()

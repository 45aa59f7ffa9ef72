"""Opening the Optuna storage: a journal file on this machine, or a database URL that
several machines share (PostgreSQL), and the locks the sweep processes of one study
take there.

- `postgresql://` picks the installed driver (psycopg 3, else psycopg2): SQLAlchemy
  2.0 maps the bare scheme to psycopg2 and 2.1 to psycopg, so a URL that works on one
  machine works on the next. `pip install 'pk8opt[postgres]'` brings psycopg 3.
- The tables of an empty database are created by one process at a time (a PostgreSQL
  advisory lock), so any number of sweeps may start at once.
- A database storage keeps a heartbeat of every running trial: a trial whose process
  died (a kill, a machine lost) is failed after the grace period and its parameters
  are run again by whichever sweep process asks next.
- A journal file whose last line was cut short (a full disk, a kill in the middle of
  a write) is repaired on the next start: the torn line is cut off, with one line
  saying so; everything before it is kept.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import json
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pk8opt.errors import ConfigError
from pk8opt.redact import mask_url

# Heartbeat of a running trial in a database storage; a trial silent for GRACE is stale.
HEARTBEAT_S = float(os.environ.get("PK8OPT_HEARTBEAT_S", "10"))


def grace_s() -> float:
    return 3 * HEARTBEAT_S


def is_database(url: str) -> bool:
    return "://" in url


def _pg_driver() -> str:
    for module in ("psycopg", "psycopg2"):
        if importlib.util.find_spec(module) is not None:
            return module
    raise ConfigError(
        "postgresql:// needs a PostgreSQL driver: pip install 'pk8opt[postgres]' (psycopg)"
    )


def sqlalchemy_url(url: str) -> str:
    """The URL as SQLAlchemy should open it: `postgresql://` (or `postgres://`) with the
    driver that is installed; anything else as given."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme in ("postgresql", "postgres"):
        return f"postgresql+{_pg_driver()}://{rest}"
    return url


def _is_postgres(url: str) -> bool:
    return url.partition("://")[0].split("+")[0] in ("postgresql", "postgres")


def _local_path(url: str) -> Path | None:
    """The file behind a journal path or a `sqlite:///` URL (None for a server)."""
    if not is_database(url):
        return Path(url)
    if url.startswith("sqlite:///") and ":memory:" not in url:
        return Path(url.removeprefix("sqlite:///"))
    return None


def open_storage(url: str, report: Callable[[str], None] | None = None) -> Any:
    """The Optuna storage for `url`: a database URL, or a journal file path (created if
    missing, a torn last line repaired and reported through `report`)."""
    import optuna

    if not is_database(url):
        from optuna.storages.journal import JournalFileBackend

        path = Path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        note = recover_journal(path)
        if note:
            (report or _to_stderr)(note)
        return optuna.storages.JournalStorage(JournalFileBackend(str(path)))
    engine_url = sqlalchemy_url(url)
    db_file = _local_path(url)
    if db_file is not None:
        db_file.parent.mkdir(parents=True, exist_ok=True)
    try:
        with study_lock(url, "schema"):  # the tables of an empty database, made once
            return _rdb_storage(optuna, engine_url, _is_postgres(url))
    except ConfigError:
        raise
    except Exception as exc:  # unreachable server, bad credentials, unknown database
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"storage {mask_url(url)}: {first}") from None


def _rdb_storage(optuna: Any, engine_url: str, postgres: bool) -> Any:
    """RDBStorage, retried when another program (not holding our lock) created the
    tables at the same moment: Optuna's create-then-stamp is not atomic."""
    from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

    for attempt in range(6):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    engine_url,
                    engine_kwargs={"pool_pre_ping": True} if postgres else None,
                    heartbeat_interval=max(1, round(HEARTBEAT_S)),
                    grace_period=max(2, round(grace_s())),
                    **_retry_stale(optuna),
                )
        except (IntegrityError, ProgrammingError, OperationalError):
            if attempt == 5:
                raise
            time.sleep(0.2 * 2**attempt)
    raise AssertionError("unreachable")


def _retry_stale(optuna: Any) -> dict[str, Any]:
    """A trial whose process died is run once more (its parameters, a new number)."""
    storages = optuna.storages
    if hasattr(storages, "RetryHeartbeatStaleTrialCallback"):  # Optuna >= 4.9
        callback = storages.RetryHeartbeatStaleTrialCallback(max_retry=1)
        return {"heartbeat_stale_trial_callback": callback}
    return {"failed_trial_callback": storages.RetryFailedTrialCallback(max_retry=1)}


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr)


# -- the journal file -----------------------------------------------------------------


def recover_journal(path: Path) -> str | None:
    """Cut off a half-written last record (left by a full disk or a kill in the middle
    of a write); one line saying what was kept, or None when the file was whole. Done
    under the journal's own lock, so a record another process is writing is not cut."""
    if not path.is_file() or path.stat().st_size == 0:
        return None
    from optuna.storages.journal import JournalFileSymlinkLock

    lock = JournalFileSymlinkLock(str(path))
    lock.acquire()
    try:
        return _cut_torn_tail(path)
    finally:
        lock.release()


def _cut_torn_tail(path: Path) -> str | None:
    size = path.stat().st_size
    with open(path, "rb") as f:
        keep = _whole_end(f, size)
    if keep == size:
        return None
    with open(path, "r+b") as f:
        f.truncate(keep)
        f.flush()
        os.fsync(f.fileno())
    with open(path, "rb") as f:
        records = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    return (
        f"{path}: cut off a half-written last record ({size - keep} bytes, left by a full "
        f"disk or a kill); the {records} complete records before it are kept"
    )


def _whole_end(f: Any, size: int) -> int:
    """The offset just past the last complete, parseable record."""
    end = size
    while end > 0:
        start = _line_start(f, end)
        f.seek(start)
        line = f.read(end - start)
        if line.endswith(b"\n"):
            try:
                json.loads(line)
                return end
            except ValueError:
                pass
        end = start
    return 0


def _line_start(f: Any, end: int) -> int:
    """Where the line ending at `end` begins (after the previous newline)."""
    pos = end - 1  # a newline at end-1 ends this line, it does not start it
    block = 1 << 16
    while pos > 0:
        lo = max(0, pos - block)
        f.seek(lo)
        chunk = f.read(pos - lo)
        i = chunk.rfind(b"\n")
        if i >= 0:
            return lo + i + 1
        pos = lo
    return 0


# -- locks shared by the sweep processes of one storage ---------------------------------

_ENGINES: dict[str, Any] = {}


@contextlib.contextmanager
def study_lock(url: str, name: str) -> Iterator[None]:
    """Held by one process at a time among all that use this storage: a PostgreSQL
    advisory lock for a PostgreSQL URL (every machine), a file lock beside a journal or
    sqlite file (this machine); nothing for other databases."""
    if _is_postgres(url):
        with _pg_lock(url, name):
            yield
        return
    path = _local_path(url)
    if path is None:
        yield
        return
    folder = path.parent / f".{path.name}.locks"
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    with open(folder / digest, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def _pg_lock(url: str, name: str) -> Iterator[None]:
    import sqlalchemy

    engine = _ENGINES.get(url)
    if engine is None:
        engine = sqlalchemy.create_engine(sqlalchemy_url(url), pool_size=1, pool_pre_ping=True)
        _ENGINES[url] = engine
    key = int.from_bytes(hashlib.sha256(f"pk8opt:{name}".encode()).digest()[:8], "big", signed=True)
    with engine.connect() as conn:
        conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"), {"k": key})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            conn.commit()

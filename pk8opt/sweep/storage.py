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
- A journal path must name an Optuna journal: a file whose lines are JSON records
  opening with Optuna's journal op code (`{"op_code": ...`). Anything else given as a
  journal (notes, a YAML config, an SQLite database) is refused with one line and left
  as it is, byte for byte.
- A journal whose last record was cut short (a full disk, a kill in the middle of a
  write) is repaired by the sweep that writes to it next, and only by it: that one
  record is cut off, its bytes kept in `<journal>.cut-<time>` beside it, with one line
  saying so. Every other opener (the sweep's workers, `pk8opt sweeps`, `deploy`) reads
  the journal as it is: Optuna skips a torn last record when it reads.
- A bad record before the last one (garbage, a record cut in half) is never repaired:
  opening the journal fails with one line naming the file, the line and what to do.
- A lock left by a process that stopped while writing the journal (`<journal>.lock`,
  held for the few milliseconds of one write) is removed by the next sweep once it is
  older than `STALE_LOCK_S`, with one line saying so.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import json
import os
import re
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pk8opt.errors import ConfigError
from pk8opt.redact import mask_url

# Heartbeat of a running trial in a database storage; a trial silent for GRACE is stale.
HEARTBEAT_S = float(os.environ.get("PK8OPT_HEARTBEAT_S", "10"))
# A journal's lock is held for one write (milliseconds); one older than this was left
# by a process that stopped while writing.
STALE_LOCK_S = 10.0


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
    missing). `report` is given by the sweep's main process, the one opener that writes
    to a journal before any other: only there is a torn last record repaired (and a
    stale lock removed), each said in one line through `report`. A file that is not an
    Optuna journal, or a journal with a bad record before its last, is refused with one
    `ConfigError` line and left untouched."""
    import optuna

    if not is_database(url):
        path = Path(url)
        check_journal(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if report is not None:
            for note in (clear_stale_lock(path), recover_journal(path)):
                if note:
                    report(note)
        backend: Any = JournalFile(path)  # Optuna's file backend, its errors naming the file
        try:
            return optuna.storages.JournalStorage(backend)
        except ValueError:  # a bad record Optuna met outside `JournalFile.read_logs`
            raise ConfigError(bad_record_line(path)) from None
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


# -- the journal file -----------------------------------------------------------------

# Optuna writes each journal record as one line of JSON opening with its op code
# (`{"op_code":0,"worker_id":...}`): how a journal is told from any other file.
_RECORD_START = re.compile(rb'\{\s*"op_code"\s*:\s*\d')
_OPENING = b'{"op_code":'
_SQLITE = b"SQLite format 3\x00"
_SNIFF = 1 << 16  # the bytes read to tell what a file is
_JOURNAL_FIX = "give a journal file (e.g. experiments/optuna.journal) or a database URL"


class JournalFile:
    """Optuna's journal file backend with errors that name the file: a bad record is one
    `ConfigError` line with its line number; an error of the disk (a full disk) names
    the journal."""

    def __init__(self, path: Path) -> None:
        from optuna.storages.journal import JournalFileBackend

        self.path = path
        self._file = JournalFileBackend(str(path))

    def read_logs(self, log_number_from: int) -> Iterator[dict[str, Any]]:
        try:
            yield from self._file.read_logs(log_number_from)
        except ValueError:  # not JSON, not UTF-8, a record without its line end
            raise ConfigError(bad_record_line(self.path)) from None

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        try:
            self._file.append_logs(logs)
        except OSError as exc:
            if exc.filename is not None:
                raise
            raise OSError(exc.errno, exc.strerror or str(exc), str(self.path)) from None


def _is_record(line: bytes) -> bool:
    """A whole journal record: a JSON object with an integer op code."""
    try:
        record = json.loads(line)
    except ValueError:  # not JSON, or not UTF-8
        return False
    return isinstance(record, dict) and isinstance(record.get("op_code"), int)


def _opens_a_record(fragment: bytes) -> bool:
    """The first bytes of a journal record (a record cut short)."""
    return bool(_RECORD_START.match(fragment)) or (
        bool(fragment.strip()) and _OPENING.startswith(fragment)
    )


def _not_a_journal(path: Path) -> str | None:
    """What the file is when it is not an Optuna journal; None when it is one (one of its
    first lines is a journal record, or its first line opens one)."""
    with open(path, "rb") as f:
        head = f.read(_SNIFF)
    if head.startswith(_SQLITE):
        return "an SQLite database; a database storage is given as a URL, sqlite:///PATH"
    lines = head.split(b"\n")[:-1]  # the lines whose end was read
    if any(_is_record(line + b"\n") for line in lines[:8]):
        return None
    if not lines and _opens_a_record(head):
        return None  # a first record cut short, or longer than the bytes read
    kind = "a binary file" if b"\x00" in head else "a text file"
    return f"{kind} whose first lines are not Optuna journal records"


def check_journal(path: Path) -> None:
    """Refuse, in one `ConfigError` line, a journal path that names something else: a
    folder, or a file that is not an Optuna journal. A missing or empty file is a new
    journal. Nothing is changed in the file."""
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder, not an Optuna journal; {_JOURNAL_FIX}")
    if not path.is_file() or path.stat().st_size == 0:
        return
    what = _not_a_journal(path)
    if what:
        what, _, fix = what.partition("; ")
        raise ConfigError(
            f"{path}: not an Optuna journal ({what}); left as it is: {fix or _JOURNAL_FIX}"
        )


def _fault(line: bytes) -> str:
    """What is wrong with a line that is not a journal record, in a few words."""
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return "bytes that are not text"
    if _opens_a_record(line):
        return "a record cut short, or two records run together"
    return "not a JSON record"


def bad_record_line(path: Path) -> str:
    """The one line naming a journal's first bad record, what is wrong with it and what
    to do. A torn last record is not one: Optuna skips it when it reads."""
    with open(path, "rb") as f:
        for number, line in enumerate(f, start=1):
            if not line.endswith(b"\n"):
                break
            if not _is_record(line):
                return (
                    f"{path}: line {number} is not an Optuna journal record "
                    f"({_fault(line)}), so the records from it on cannot be read; the file "
                    f"is left as it is. Restore it from a backup, or go on from the "
                    f"{number - 1} records before it: head -n {number - 1} {path} > {path}.fixed "
                    "and give that file as --storage"
                )
    return f"{path}: cannot be read as an Optuna journal; restore it from a backup"


def clear_stale_lock(path: Path) -> str | None:
    """Remove the journal's lock (`<journal>.lock`) when a process that stopped while
    writing left it: a write holds it for milliseconds, so one older than `STALE_LOCK_S`
    is stale. The line saying so, or None."""
    lock = Path(f"{path}.lock")
    try:
        age = time.time() - lock.lstat().st_mtime
    except FileNotFoundError:
        return None
    if age < STALE_LOCK_S:
        return None  # held now, or Optuna's own grace period releases it
    try:
        lock.unlink()
    except FileNotFoundError:
        return None  # released meanwhile
    return (
        f"{lock}: removed a stale lock, left {age:.0f} s ago by a process that stopped "
        "while writing the journal"
    )


def recover_journal(path: Path) -> str | None:
    """Cut off a torn last record (left by a full disk or a kill in the middle of a
    write), its bytes kept in `<journal>.cut-<time>`; one line saying so, or None when
    the journal was whole. Only an Optuna journal is touched (anything else is refused,
    unchanged), only its last record is ever cut, and under the journal's own lock, so
    a record another process is writing is not cut."""
    if not path.is_file() or path.stat().st_size == 0:
        return None
    check_journal(path)
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
        start = _line_start(f, size)
        f.seek(start)
        tail = f.read(size - start)
    if tail.endswith(b"\n") and _is_record(tail):
        return None
    copy = _keep_cut(path, tail)
    with open(path, "r+b") as f:
        f.truncate(start)
        f.flush()
        os.fsync(f.fileno())
    with open(path, "rb") as f:
        records = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    return (
        f"{path}: cut off a half-written last record ({len(tail)} bytes, left by a full "
        f"disk or a kill); the {records} complete records before it are kept; the cut "
        f"bytes are in {copy}"
    )


def _keep_cut(path: Path, data: bytes) -> Path:
    """`data` in a new file beside the journal, `<journal>.cut-<time>`, on disk before
    anything is cut."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    copy = path.with_name(f"{path.name}.cut-{stamp}")
    n = 1
    while copy.exists():
        n += 1
        copy = path.with_name(f"{path.name}.cut-{stamp}-{n}")
    try:
        with open(copy, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:  # a full disk: nothing is cut
        copy.unlink(missing_ok=True)
        raise OSError(exc.errno, exc.strerror or str(exc), str(copy)) from None
    return copy


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

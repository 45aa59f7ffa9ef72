"""Is a tracking URI one MLflow can open, and does its store answer? Checked before
anything is started with it, in a few seconds at most."""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path
from urllib.parse import urlsplit

from pk8opt.errors import ConfigError
from pk8opt.redact import mask_url, mask_urls
from pk8opt.sweep.storage import sqlalchemy_url

# The stores MLflow's tracking accepts: files, databases (SQLAlchemy), a tracking server.
SCHEMES = ("file", "sqlite", "postgresql", "mysql", "mssql", "http", "https", "databricks")


def check_tracking_uri(uri: str, option: str = "--tracking-uri") -> str:
    """`uri` itself, or one `ConfigError` line naming it and the schemes that work."""
    scheme = uri.split("://", 1)[0].split("+", 1)[0].lower() if "://" in uri else ""
    if scheme and scheme not in SCHEMES:
        raise ConfigError(
            f"{option} {mask_url(uri)}: MLflow cannot open a {scheme!r} store; use one of "
            f"{', '.join(s + '://' for s in SCHEMES)} or a folder path, e.g. "
            "sqlite:///experiments/mlflow.db"
        )
    return uri


# The longest a first contact with a tracking store may take before it is called
# unreachable. MLflow itself retries a SQL store it cannot open for about 100 s (ten
# attempts, the last 51 s apart): the retries of a running sweep, not of its first contact.
PROBE_TIMEOUT_S = 5


def first_line(exc: BaseException) -> str:
    """An error as one line, a URL's password masked."""
    text = str(exc).strip()
    return mask_urls(text.splitlines()[0]) if text else type(exc).__name__


def _sqlite_problem(uri: str) -> str | None:
    """A sqlite file that exists but cannot be read as a database (a store not made yet
    is created by MLflow)."""
    if not uri.startswith("sqlite:///") or ":memory:" in uri:
        return None  # a database in memory
    path = Path(uri.removeprefix("sqlite:///").split("?", 1)[0])
    if path.is_dir():
        return "a folder, not an SQLite database"
    if not path.exists():
        return None
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True, timeout=PROBE_TIMEOUT_S)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    finally:
        conn.close()
    return None


def _database_problem(uri: str) -> str | None:
    """One connection to a database server, given up after `PROBE_TIMEOUT_S`."""
    import sqlalchemy
    from sqlalchemy.pool import NullPool

    url = sqlalchemy_url(uri)
    scheme = url.split("://", 1)[0]
    wait = (
        {"connect_timeout": PROBE_TIMEOUT_S} if scheme.startswith(("postgresql", "mysql")) else {}
    )
    engine = sqlalchemy.create_engine(url, poolclass=NullPool, connect_args=wait)
    try:
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("SELECT 1"))
    finally:
        engine.dispose()
    return None


def _server_problem(uri: str) -> str | None:
    """A tracking server that accepts no connection."""
    parts = urlsplit(uri)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname or "", port), timeout=PROBE_TIMEOUT_S).close()
    except OSError as exc:
        return f"no answer from {parts.hostname}:{port} ({exc.strerror or exc})"
    return None


def store_problem(uri: str) -> str | None:
    """What keeps the tracking store at `uri` from being used, in a few words (a corrupt
    sqlite file, an unreachable database or server); None when it answers, or is a
    store MLflow makes on first use. One attempt, `PROBE_TIMEOUT_S` at most."""
    scheme = uri.split("://", 1)[0].split("+", 1)[0].lower() if "://" in uri else ""
    try:
        if scheme == "sqlite":
            return _sqlite_problem(uri)
        if scheme in ("postgresql", "postgres", "mysql", "mssql"):
            return _database_problem(uri)
        if scheme in ("http", "https"):
            return _server_problem(uri)
    except Exception as exc:  # the database's own words: not a database, refused, ...
        return first_line(exc)
    return None  # a folder of runs (MLflow makes it), or a store only MLflow knows


def check_store(uri: str, consequence: str = "") -> None:
    """Nothing when the tracking store at `uri` answers; otherwise one `ConfigError`
    line naming it, what is wrong and `consequence` (what that means for the command)."""
    problem = store_problem(uri)
    if problem:
        tail = f"; {consequence}" if consequence else ""
        raise ConfigError(f"MLflow store {mask_url(uri)}: {problem}{tail}")

"""Indexing: build, once, what replaying a session needs, beside each recording.

For every session: its normalized tables (`recordings.load`) and its replay cache
(`replay_store`), each a column store in `<session>/.cache/`. A session already
indexed is skipped (a stat and a small JSON read), so indexing is resumable: stop it at
any point and run it again. Several processes may index the same folders at once: each
session is built by one of them while the others wait for it (`recordings.store`).
`pk8opt recordings index` runs it with a progress bar; a sweep or a backtest does it on
first use.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pk8opt.backtest.replay_handle import replay_store
from pk8opt.backtest.replay_store import has_replay_store
from pk8opt.errors import RecordingError
from pk8opt.progress import steps
from pk8opt.recordings.load import (
    CACHE_DIR,
    StoredSession,
    events_store_fresh,
    found_sessions,
    load_session,
    read_sessions,
)


def index_session(path: str | Path) -> tuple[Any, bool]:
    """The loaded session, and whether anything was built for it (a session whose
    folder cannot be written to is loaded without its stores, and nothing is built)."""

    path = Path(path)
    built = not events_store_fresh(path)
    session = load_session(path)
    if not isinstance(session, StoredSession):
        return session, False
    if not has_replay_store(session):
        built = replay_store(session) is not None
    return session, built


def _unwritable(path: Path, session: Any) -> str | None:
    """Why a loaded session has no stores on disk (its cache folder cannot be written),
    or None when both are there."""
    if isinstance(session, StoredSession) and has_replay_store(session):
        return None
    return (
        f"{path}: could not write {path / CACHE_DIR} (a read-only folder?): not indexed; "
        "backtests and sweeps will normalize it again at each load"
    )


def index_sessions(paths: Iterable[str | Path], *, progress: bool = False) -> list[Any]:
    """`index_session` for every session under `paths`, in time order. As
    `recordings.load.load_sessions`: a session that cannot be read is skipped with one
    line on stderr; only when none is left is that an error."""
    return read_sessions(
        paths, lambda p: index_session(p)[0], "indexing sessions", progress=progress
    )


@dataclass
class IndexReport:
    sessions: int = 0
    built: int = 0
    seconds: float = 0.0
    cache_bytes: int = 0
    errors: list[str] = field(default_factory=list)


def _one(path: str) -> tuple[bool, str | None]:
    try:
        session, built = index_session(path)
    except RecordingError as exc:
        return False, str(exc)
    unwritable = _unwritable(Path(path), session)
    return (False, unwritable) if unwritable else (built, None)


def index_folders(
    paths: Iterable[str | Path], *, workers: int = 1, progress: bool = False
) -> IndexReport:
    """Index every session under `paths` with `workers` processes; a session that
    cannot be read, or whose cache cannot be written, is reported and the others are
    indexed."""

    found = found_sessions(paths)
    report = IndexReport(sessions=len(found))
    t0 = time.perf_counter()
    with steps("indexing sessions", len(found) if progress else 0) as advance:
        if workers <= 1:
            results = []
            for p in found:
                results.append(_one(str(p)))
                advance()
        else:
            with ProcessPoolExecutor(workers) as pool:
                results = []
                for r in pool.map(_one, [str(p) for p in found], chunksize=4):
                    results.append(r)
                    advance()
    report.seconds = time.perf_counter() - t0
    for built, error in results:
        report.built += built
        if error:
            report.errors.append(error)
    for p in found:
        for f in (p / CACHE_DIR).glob("*/data.bin"):
            report.cache_bytes += f.stat().st_size
    return report

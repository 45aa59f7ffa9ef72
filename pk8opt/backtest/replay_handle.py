"""What the backtest keeps on a loaded session, and where its replay arrays come from.

Every loaded session gets one `ReplayHandle`, attached on first use (`replay_handle`):
an in-memory session's `SessionCache` once built, a stored session's replay store path
once found, and the compiled replay's column map of it. `session_cache` and
`replay_store` are the one dispatcher between building in memory (`session_cache`) and
mapping from the column store (`replay_store`): neither of those modules knows of the
other's caller or of the session's attributes.

`ReplaySession` (from `session_cache`, re-exported here) is what the backtest needs of a
loaded session (`LoadedSession` and `StoredSession` in `pk8opt.recordings` both are one).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pk8opt.backtest.replay_store import decode, open_replay_store
from pk8opt.backtest.session_cache import ReplaySession, SessionCache
from pk8opt.recordings.load import StoredSession
from pk8opt.recordings.store import Store

__all__ = ["ReplayHandle", "ReplaySession", "replay_handle", "replay_store", "session_cache"]

HANDLE_ATTR = "_pk8opt_replay"


class ReplayHandle:
    """The backtest's state on one loaded session (see the module's docstring)."""

    __slots__ = ("cache", "columns", "store_path")

    def __init__(self) -> None:
        self.cache: SessionCache | None = None  # an in-memory session's, once built
        self.store_path: Path | None = None  # a stored session's replay store, once found
        # the compiled replay's: the store's columns it reads, and the session's last_ns
        self.columns: tuple[Any, int] | None = None


def replay_handle(session: ReplaySession) -> ReplayHandle:
    """The session's handle, attached on first use."""
    attrs = vars(session)
    handle = attrs.get(HANDLE_ATTR)
    if handle is None:
        handle = attrs[HANDLE_ATTR] = ReplayHandle()
    return handle


def session_cache(session: ReplaySession) -> SessionCache:
    """The cache of a loaded session, built on first use. A session read from its column
    store gets its cache mapped from disk at each call (`replay_store`), kept only as long
    as the caller keeps it; any other session keeps its cache (on its handle) once built."""
    if isinstance(session, StoredSession):
        store = replay_store(session)
        if store is None:  # a folder we cannot write to: build in memory
            return SessionCache(session)
        return decode(store, session, SessionCache)
    handle = replay_handle(session)
    if handle.cache is None:
        handle.cache = SessionCache(session)
    return handle.cache


def replay_store(session: StoredSession) -> Store | None:
    """The session's mapped replay store, built when missing (None: read-only folder)."""
    handle = replay_handle(session)
    store, path = open_replay_store(session, handle.store_path)
    if store is not None:
        handle.store_path = path
    return store

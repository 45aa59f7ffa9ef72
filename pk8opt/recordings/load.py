"""Loading sessions for replay, with the normalized tables stored beside the recording.

`load_session(folder)` reads the manifest, checks it against the folder, and returns
the normalized tables as numpy columns. The first load normalizes the frames file and
writes a column store (`recordings.store`); later loads map it (well under a millisecond)::

    <session>/.cache/events-<key>/header.json  what it was built from, the problems, the layout
    <session>/.cache/events-<key>/data.bin     the events table (schema.EVENTS_SCHEMA) as
                                               `events.<column>`, the underlying table
                                               (schema.UNDERLYING_SCHEMA) as `underlying.<column>`

The key is a hash of the frames file's and the manifest's size and modification time and
of `NORMALIZER_VERSION`: when one of them changes the session is normalized again into a
new store and the old one is removed. Deleting `.cache/` is always safe.

A session loaded from its store is a `StoredSession`: it keeps only its manifest, its
problem counts and where the store is, and maps the arrays when they are read, so a
process can hold thousands of them. A read-only folder is normalized in memory instead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import numpy as np

from pk8opt.errors import DataSelectionError, RecordingError
from pk8opt.progress import steps
from pk8opt.recordings.catalog import (  # noqa: F401  (check_manifest: re-exported)
    CACHE_DIR,
    check_manifest,
    read_session_manifest,
    report_skipped,
    session_folders,
)
from pk8opt.recordings.manifest import Manifest, manifest_path
from pk8opt.recordings.normalize import Normalized, Problems, normalize_session
from pk8opt.recordings.raw import frames_path
from pk8opt.recordings.schema import EVENTS_SCHEMA, NORMALIZER_VERSION, UNDERLYING_SCHEMA
from pk8opt.recordings.session import LoadedSession, with_recorded_resolution
from pk8opt.recordings.store import Store, building, open_store, prune, store_path, write_store

T = TypeVar("T")

EVENTS_KIND = "events"
# the Parquet cache of earlier versions, removed when a store replaces it
LEGACY_FILES = ("events.parquet", "underlying.parquet", "meta.json")


class CacheMeta(msgspec.Struct):
    normalizer_version: int
    frames_file: str
    frames_size: int
    frames_mtime_ns: int
    manifest_size: int
    manifest_mtime_ns: int
    problems: dict = {}


def _meta_for(session_dir: Path, frames: Path) -> CacheMeta:
    fst = frames.stat()
    mst = manifest_path(session_dir).stat()
    return CacheMeta(
        normalizer_version=NORMALIZER_VERSION,
        frames_file=frames.name,
        frames_size=fst.st_size,
        frames_mtime_ns=fst.st_mtime_ns,
        manifest_size=mst.st_size,
        manifest_mtime_ns=mst.st_mtime_ns,
    )


def _key(meta: CacheMeta) -> str:
    return hashlib.sha256(msgspec.json.encode(meta)).hexdigest()[:16]


class StoredSession(LoadedSession):
    """A session whose tables live in its column store: it holds the manifest, the
    problem counts and the store's folder; `events` and `underlying` map the store at
    each access (the mapping lasts as long as the caller keeps the arrays)."""

    def __init__(
        self, path: Path, manifest: Manifest, problems: dict[str, int], store: Path, n: int
    ) -> None:
        self.path = path
        self.manifest = manifest
        self.problems = problems
        self.store = store
        self._n_events = n

    def open(self) -> Store:
        """The mapped store (rebuilt when another process replaced it meanwhile)."""
        store = open_store(self.store)
        if store is None:
            store = _events_store(self.path, self.manifest)[0]
            if store is None:
                raise RecordingError(f"{self.path}: cannot write its cache in {CACHE_DIR}/")
            self.store = store.path
        return store

    @property
    def events(self) -> dict[str, np.ndarray]:  # type: ignore[override]
        return self.open().group("events")

    @property
    def underlying(self) -> dict[str, np.ndarray]:  # type: ignore[override]
        return self.open().group("underlying")

    @property
    def n_events(self) -> int:
        return self._n_events

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        return f"StoredSession({str(self.path)!r}, store={self.store.name!r})"


def _events_store(session_dir: Path, manifest: Manifest) -> tuple[Store | None, Normalized | None]:
    """The session's events store, built when missing; on a read-only folder (None) the
    tables normalized in memory instead."""
    frames = frames_path(session_dir)
    if frames is None:
        raise RecordingError(
            f"{session_dir}: no frames file (frames.jsonl or frames.jsonl.gz) beside the manifest"
        )
    want = _meta_for(session_dir, frames)
    key = _key(want)
    cache = session_dir / CACHE_DIR
    path = store_path(cache, EVENTS_KIND, key)
    store = open_store(path)
    if store is not None:
        return store, None
    norm = None
    try:
        with building(cache):
            store = open_store(path)  # built while we waited
            if store is None:
                norm = normalize_session(session_dir, manifest)
                columns = {f"events.{c}": norm.events[c].to_numpy() for c in EVENTS_SCHEMA}
                for c in UNDERLYING_SCHEMA:
                    columns[f"underlying.{c}"] = norm.underlying[c].to_numpy()
                meta = msgspec.structs.replace(want, problems=norm.problems.to_dict())
                attrs = {"meta": msgspec.to_builtins(meta), "n_events": len(norm.events)}
                write_store(cache, EVENTS_KIND, key, columns, attrs)
                prune(cache, EVENTS_KIND, key, LEGACY_FILES)
                store = open_store(path)
    except OSError:
        store = None
    if store is None:  # a read-only folder: work without a cache
        return None, norm or normalize_session(session_dir, manifest)
    return store, None


def events_store_fresh(session_dir: Path) -> bool:
    """Whether the session's events store is built and up to date."""
    frames = frames_path(session_dir)
    if frames is None:
        return False
    try:
        key = _key(_meta_for(session_dir, frames))
    except OSError:
        return False
    return (store_path(session_dir / CACHE_DIR, EVENTS_KIND, key) / "header.json").exists()


def load_session_report(session_dir: str | Path) -> tuple[LoadedSession, Problems]:
    """Load a session and return it with the normalizer's problems (with examples)."""
    session_dir = Path(session_dir)
    manifest = read_session_manifest(session_dir)
    store, norm = _events_store(session_dir, manifest)
    if store is None:
        assert norm is not None
        loaded = LoadedSession(
            path=session_dir,
            manifest=manifest,
            events={c: norm.events[c].to_numpy() for c in EVENTS_SCHEMA},
            underlying={c: norm.underlying[c].to_numpy() for c in UNDERLYING_SCHEMA},
            problems=dict(norm.problems.counts),
        )
        return loaded, norm.problems
    attrs: dict[str, Any] = store.attrs
    problems = Problems.from_dict(attrs["meta"]["problems"])
    stored = StoredSession(
        session_dir, manifest, dict(problems.counts), store.path, int(attrs["n_events"])
    )
    # the venue's own market_resolved wins over the manifest (columns are mapped, not read)
    stored.manifest = with_recorded_resolution(manifest, stored.events)
    return stored, problems


def load_session(session_dir: str | Path) -> LoadedSession:
    """The normalized session in `session_dir`, from the cache when it is fresh."""
    return load_session_report(session_dir)[0]


def load_sessions(paths: Iterable[str | Path], *, progress: bool = False) -> list[LoadedSession]:
    """Every session under `paths` (folders, folders of sessions, globs), in time order.
    With `progress`, a bar on the terminal (the first load of a session normalizes it).

    A session that cannot be read (its manifest, its frames) is skipped with one line on
    stderr naming it and why; only when none is left is that an error. A session is
    loaded once however many paths reach it (`catalog.distinct_sessions`): the others are
    skipped with one line; two different sessions under one slug are an error."""
    return read_sessions(paths, load_session, "loading sessions", progress=progress)


def found_sessions(paths: Iterable[str | Path]) -> list[Path]:
    """The session folders under `paths`, in time order, each session once (a second
    path to it, or a copy, is left out with one line on stderr); none is an error."""
    return session_folders(paths)


def read_sessions(
    paths: Iterable[str | Path],
    read: Callable[[Path], T],
    doing: str,
    *,
    progress: bool = False,
) -> list[T]:
    """`read` of every session under `paths`, in time order, as `load_sessions` says:
    one that cannot be read is skipped with a line on stderr; none left is an error.
    `doing` names the work on the progress bar ("loading sessions")."""
    paths = list(paths)
    found = found_sessions(paths)
    out = []
    skipped: list[tuple[Path, str]] = []
    with steps(doing, len(found) if progress else 0) as advance:
        for p in found:
            try:
                out.append(read(p))
            except RecordingError as exc:
                skipped.append((p, str(exc)))
            advance()
    report_skipped(skipped)
    if not out:
        raise DataSelectionError(
            f"no readable session under {', '.join(map(str, paths))} "
            f"({len(skipped)} skipped; first: {skipped[0][1]})"
        )
    return out

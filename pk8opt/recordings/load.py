"""Loading sessions for replay, with the normalized tables cached beside the recording.

`load_session(folder)` reads the manifest, checks it against the folder, and returns
the normalized tables as numpy columns. The first load normalizes the frames file and
writes the cache; later loads read the cache (a few milliseconds)::

    <session>/.cache/events.parquet      the events table (schema.EVENTS_SCHEMA)
    <session>/.cache/underlying.parquet  the underlying table (schema.UNDERLYING_SCHEMA)
    <session>/.cache/meta.json           what the cache was built from, and the problems

The cache is rebuilt automatically when the frames file or the manifest changes (size
or modification time) or when `NORMALIZER_VERSION` does. Deleting `.cache/` is always safe.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import msgspec

from pk8opt.errors import DataSelectionError, RecordingError
from pk8opt.recordings.catalog import (  # noqa: F401  (check_manifest: re-exported)
    check_manifest,
    find_sessions,
    read_session_manifest,
    report_skipped,
)
from pk8opt.recordings.manifest import manifest_path
from pk8opt.recordings.normalize import Problems, normalize_session
from pk8opt.recordings.raw import frames_path
from pk8opt.recordings.schema import EVENTS_SCHEMA, NORMALIZER_VERSION, UNDERLYING_SCHEMA
from pk8opt.recordings.session import LoadedSession

CACHE_DIR = ".cache"
EVENTS_FILE = "events.parquet"
UNDERLYING_FILE = "underlying.parquet"
META_FILE = "meta.json"


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


def _fresh(cache: Path, want: CacheMeta) -> CacheMeta | None:
    try:
        meta = msgspec.json.decode((cache / META_FILE).read_bytes(), type=CacheMeta)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        return None
    same = msgspec.structs.replace(meta, problems={}) == want
    if not same:
        return None
    if not (cache / EVENTS_FILE).exists() or not (cache / UNDERLYING_FILE).exists():
        return None
    return meta


def _atomic_write(path: Path, write) -> None:  # noqa: ANN001
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk leaves no half-written file behind
        raise


def load_session_report(session_dir: str | Path) -> tuple[LoadedSession, Problems]:
    """Load a session and return it with the normalizer's problems (with examples)."""
    import polars as pl

    session_dir = Path(session_dir)
    manifest = read_session_manifest(session_dir)
    frames = frames_path(session_dir)
    if frames is None:
        raise RecordingError(
            f"{session_dir}: no frames file (frames.jsonl or frames.jsonl.gz) beside the manifest"
        )
    want = _meta_for(session_dir, frames)
    cache = session_dir / CACHE_DIR
    meta = _fresh(cache, want)
    if meta is not None:
        events = pl.read_parquet(cache / EVENTS_FILE)
        underlying = pl.read_parquet(cache / UNDERLYING_FILE)
        problems = Problems.from_dict(meta.problems)
    else:
        norm = normalize_session(session_dir, manifest)
        events, underlying, problems = norm.events, norm.underlying, norm.problems
        try:
            cache.mkdir(exist_ok=True)
            _atomic_write(cache / EVENTS_FILE, lambda p: events.write_parquet(p, statistics=False))
            _atomic_write(
                cache / UNDERLYING_FILE, lambda p: underlying.write_parquet(p, statistics=False)
            )
            meta = msgspec.structs.replace(want, problems=problems.to_dict())
            _atomic_write(cache / META_FILE, lambda p: p.write_bytes(msgspec.json.encode(meta)))
        except (OSError, pl.exceptions.PolarsError):
            pass  # a read-only folder or a full disk (polars says ComputeError): no cache
    loaded = LoadedSession(
        path=session_dir,
        manifest=manifest,
        events={c: events[c].to_numpy() for c in EVENTS_SCHEMA},
        underlying={c: underlying[c].to_numpy() for c in UNDERLYING_SCHEMA},
        problems=dict(problems.counts),
    )
    return loaded, problems


def load_session(session_dir: str | Path) -> LoadedSession:
    """The normalized session in `session_dir`, from the cache when it is fresh."""
    return load_session_report(session_dir)[0]


def load_sessions(paths: Iterable[str | Path], *, progress: bool = False) -> list[LoadedSession]:
    """Every session under `paths` (folders, folders of sessions, globs), in time order.
    With `progress`, a bar on the terminal (the first load of a session normalizes it).

    A session that cannot be read (its manifest, its frames) is skipped with one line on
    stderr naming it and why; only when none is left is that an error."""
    from pk8opt.progress import steps

    paths = list(paths)
    found = find_sessions(paths)
    if not found:
        raise DataSelectionError(
            f"no sessions (folders with a manifest.json) under {', '.join(map(str, paths))}"
        )
    out = []
    skipped: list[tuple[Path, str]] = []
    with steps("loading sessions", len(found) if progress else 0) as advance:
        for p in found:
            try:
                out.append(load_session(p))
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

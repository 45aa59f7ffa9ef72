"""Finding sessions on disk: a session is a folder holding a `manifest.json` (and its
frames file).

`find_sessions` lists them, and the folders that hold a frames file without a manifest
(reading those says what is missing, so they are reported, never dropped unseen);
`usable_sessions` also reads and checks each manifest and sets aside, with the reason,
the folders that cannot be read as a session (a broken or missing manifest, a folder not
named after its slug such as an old `<slug>_r2`), so one bad folder never makes a whole
recordings folder unusable.

A session is what it holds, not where it is: its identity is its slug, its market's
condition id and its frames file's sha256 (the manifest's, so nothing is hashed again).
`distinct_sessions` keeps one folder per session: the same session reached twice (two
paths to one folder, a backup copy) is played once and the others are set aside with
one line each; two folders holding different sessions under one slug are an error that
names both.
"""

from __future__ import annotations

import contextlib
import glob
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pk8opt.errors import DataSelectionError, RecordingError
from pk8opt.polymarket.slugs import TIMEFRAME_SECONDS, parse_slug
from pk8opt.recordings.manifest import MANIFEST_NAME, Manifest, manifest_path, read_manifest
from pk8opt.recordings.raw import FRAMES_GZ_NAME, FRAMES_NAME, frames_path, sha256_file

CACHE_DIR = ".cache"
# what makes a folder a session folder (a frames file alone: one that lost its manifest)
_SESSION_FILES = (MANIFEST_NAME, FRAMES_NAME, FRAMES_GZ_NAME)


def _session_folders(root: Path) -> Iterable[Path]:
    """The folders under `root` (itself included) holding a manifest or a frames file,
    the caches left out."""
    for folder, subdirs, files in os.walk(root):
        subdirs[:] = [d for d in subdirs if d != CACHE_DIR]
        if any(name in files for name in _SESSION_FILES):
            yield Path(folder)


def find_sessions(paths: Iterable[str | Path]) -> list[Path]:
    """Session folders under each path (a session folder, a folder of them, or a glob),
    sorted by name (the slug ends in the window start, so by time within a symbol); folders
    of one name by the path given first, then the shortest (a copy nested deeper comes
    after its original). A folder holding frames but no manifest is listed too: reading
    it says what is missing."""
    found: dict[Path, int] = {}  # folder -> the first of `paths` it was found under
    for rank, item in enumerate(paths):
        text = str(item)
        matches = [Path(m) for m in glob.glob(text)] if glob.has_magic(text) else [Path(text)]
        if not matches:
            raise DataSelectionError(f"{text}: no such file or folder")
        for path in matches:
            if not path.exists():
                raise DataSelectionError(f"{path}: no such file or folder")
            if (path / MANIFEST_NAME).exists():
                found.setdefault(path, rank)
            elif path.is_dir():
                for folder in _session_folders(path):
                    found.setdefault(folder, rank)
    return sorted(
        found,
        key=lambda p: (p.name.rsplit("-", 1)[-1], p.name, found[p], len(p.parts), str(p)),
    )


def check_manifest(session_dir: Path, manifest: Manifest) -> None:
    """Raise `RecordingError` when the manifest does not describe its folder."""
    path = manifest_path(session_dir)
    name = Path(session_dir).resolve().name
    if manifest.slug != name:
        raise RecordingError(
            f"{path}: slug {manifest.slug!r} does not match the folder name {name!r} "
            "(rename the folder to its slug)"
        )
    try:
        symbol, timeframe, start = parse_slug(manifest.slug)
    except ValueError as exc:
        raise RecordingError(f"{path}: {exc}") from None
    if manifest.symbol.upper() != symbol:
        raise RecordingError(f"{path}: symbol {manifest.symbol!r} but the slug says {symbol!r}")
    if manifest.timeframe != timeframe:
        raise RecordingError(
            f"{path}: timeframe {manifest.timeframe!r} but the slug says {timeframe!r}"
        )
    if manifest.window_start_s != start:
        raise RecordingError(
            f"{path}: window_start_s {manifest.window_start_s} but the slug says {start}"
        )
    if manifest.window_end_s - manifest.window_start_s != TIMEFRAME_SECONDS[timeframe]:
        raise RecordingError(
            f"{path}: window {manifest.window_start_s}..{manifest.window_end_s} is not "
            f"{timeframe} long"
        )
    for field in ("token_up", "token_down", "condition_id"):
        if not getattr(manifest, field).strip():
            raise RecordingError(f"{path}: {field} is empty (copy it from Gamma's market)")
    if manifest.token_up == manifest.token_down:
        raise RecordingError(f"{path}: token_up and token_down are the same id")


def read_session_manifest(session_dir: Path) -> Manifest:
    manifest = read_manifest(Path(session_dir))
    check_manifest(Path(session_dir), manifest)
    return manifest


@dataclass(frozen=True)
class SessionId:
    """What a session is: its slug, its market and its frames (the manifest's sha256 of
    the frames file; empty while it is still recording)."""

    slug: str
    condition_id: str
    sha256: str

    @classmethod
    def of(cls, manifest: Manifest) -> SessionId:
        return cls(manifest.slug, manifest.condition_id, manifest.sha256 or "")


def _frames_size(session_dir: Path) -> tuple[str, int] | None:
    frames = frames_path(session_dir)
    return None if frames is None else (frames.name, frames.stat().st_size)


def _content(session_dir: Path, manifest: Manifest) -> str:
    """The frames' sha256: the manifest's, or (a session not finished) the file's."""
    if manifest.sha256:
        return manifest.sha256
    frames = frames_path(session_dir)
    return sha256_file(frames) if frames is not None else ""


def same_session(first: Path, mine: Manifest, other: Path, theirs: Manifest) -> str:
    """Why the folders `first` and `other` (one slug) hold the same session, as the end
    of a line; `DataSelectionError` naming both when they hold different ones. Files are
    hashed only for a session still recording (its manifest has no sha256 yet)."""
    if os.path.samefile(first, other):
        return f"the same folder as {first}"
    a, b = SessionId.of(mine), SessionId.of(theirs)
    why = ""
    if a.condition_id != b.condition_id:
        why = f"condition ids {a.condition_id} and {b.condition_id}"
    elif a.sha256 != b.sha256 or not a.sha256:
        ha, hb = _content(first, mine), _content(other, theirs)
        if ha != hb:
            why = f"frames sha256 {ha[:12]} and {hb[:12]}"
    if not why and _frames_size(first) != _frames_size(other):
        why = "frames files of different sizes (one changed since it was recorded)"
    if why:
        raise DataSelectionError(
            f"two different sessions named {a.slug}: {first} and {other} ({why}); "
            "keep one of them out of the paths"
        )
    return f"the same session as {first} (slug, condition id and sha256 agree)"


def distinct_sessions(
    manifests: dict[Path, Manifest],
) -> tuple[dict[Path, Manifest], list[tuple[Path, str]]]:
    """One folder per session (the first, in the order given), and the others that hold
    a session already kept as `(path, reason)`; two different sessions under one slug
    are a `DataSelectionError` naming both folders."""
    kept: dict[Path, Manifest] = {}
    first_of: dict[str, Path] = {}
    again: list[tuple[Path, str]] = []
    for path, manifest in manifests.items():
        first = first_of.get(manifest.slug)
        if first is None:
            first_of[manifest.slug] = path
            kept[path] = manifest
        else:
            again.append((path, same_session(first, kept[first], path, manifest)))
    return kept, again


def usable_sessions(
    paths: Iterable[str | Path],
) -> tuple[dict[Path, Manifest], list[tuple[Path, str]]]:
    """The sessions under `paths` whose manifest reads and describes its folder (path ->
    manifest, in `find_sessions` order), each once (`distinct_sessions`), and the others
    as `(path, reason)`."""
    good: dict[Path, Manifest] = {}
    skipped: list[tuple[Path, str]] = []
    for path in find_sessions(paths):
        try:
            good[path] = read_session_manifest(path)
        except RecordingError as exc:
            skipped.append((path, str(exc)))
    good, again = distinct_sessions(good)
    return good, skipped + again


def session_folders(paths: Iterable[str | Path]) -> list[Path]:
    """The session folders under `paths`, in time order, each session once: a folder
    holding a session already listed is left out with one line on stderr
    (`distinct_sessions`). Folders whose manifest cannot be read stay in the list, for
    their reader to report. None at all is an error."""
    paths = list(paths)
    found = find_sessions(paths)
    if not found:
        raise DataSelectionError(
            "no sessions (folders holding a manifest.json or a frames file) under "
            + ", ".join(map(str, paths))
        )
    readable: dict[Path, Manifest] = {}
    for path in found:
        with contextlib.suppress(RecordingError):  # reported by whoever reads it
            readable[path] = read_session_manifest(path)
    _, again = distinct_sessions(readable)
    report_skipped(again)
    left_out = {path for path, _ in again}
    return [path for path in found if path not in left_out]


def report_skipped(skipped: Iterable[tuple[Path, str]]) -> None:
    """One line on stderr per session set aside."""
    for path, reason in skipped:
        reason = reason.removeprefix(f"{manifest_path(path)}: ").removeprefix(f"{path}: ")
        sys.stderr.write(f"skipped {path}: {reason}\n")

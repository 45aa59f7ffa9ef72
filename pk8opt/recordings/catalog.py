"""Finding sessions on disk: a session is a folder holding a `manifest.json`.

`find_sessions` lists them; `usable_sessions` also reads and checks each manifest and
sets aside, with the reason, the folders that cannot be read as a session (a broken
manifest, a folder not named after its slug such as an old `<slug>_r2`), so one bad
folder never makes a whole recordings folder unusable.
"""

from __future__ import annotations

import glob
import sys
from collections.abc import Iterable
from pathlib import Path

from pk8opt.errors import DataSelectionError, RecordingError
from pk8opt.polymarket.slugs import TIMEFRAME_SECONDS, parse_slug
from pk8opt.recordings.manifest import MANIFEST_NAME, Manifest, manifest_path, read_manifest


def find_sessions(paths: Iterable[str | Path]) -> list[Path]:
    """Session folders under each path (a session folder, a folder of them, or a glob),
    sorted by name (the slug ends in the window start, so by time within a symbol)."""
    found: set[Path] = set()
    for item in paths:
        text = str(item)
        matches = [Path(m) for m in glob.glob(text)] if glob.has_magic(text) else [Path(text)]
        if not matches:
            raise DataSelectionError(f"{text}: no such file or folder")
        for path in matches:
            if not path.exists():
                raise DataSelectionError(f"{path}: no such file or folder")
            if (path / MANIFEST_NAME).exists():
                found.add(path)
            elif path.is_dir():
                found.update(m.parent for m in path.rglob(MANIFEST_NAME) if ".cache" not in m.parts)
    return sorted(found, key=lambda p: (p.name.rsplit("-", 1)[-1], p.name))


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


def usable_sessions(
    paths: Iterable[str | Path],
) -> tuple[dict[Path, Manifest], list[tuple[Path, str]]]:
    """The sessions under `paths` whose manifest reads and describes its folder (path ->
    manifest, in `find_sessions` order), and the others as `(path, reason)`."""
    good: dict[Path, Manifest] = {}
    skipped: list[tuple[Path, str]] = []
    for path in find_sessions(paths):
        try:
            good[path] = read_session_manifest(path)
        except RecordingError as exc:
            skipped.append((path, str(exc)))
    return good, skipped


def report_skipped(skipped: Iterable[tuple[Path, str]]) -> None:
    """One line on stderr per session set aside."""
    for path, reason in skipped:
        reason = reason.removeprefix(f"{manifest_path(path)}: ").removeprefix(f"{path}: ")
        sys.stderr.write(f"skipped {path}: {reason}\n")

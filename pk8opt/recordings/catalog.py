"""Finding sessions on disk: a session is a folder holding a `manifest.json`."""

from __future__ import annotations

import glob
from collections.abc import Iterable
from pathlib import Path

from pk8opt.errors import DataSelectionError
from pk8opt.recordings.manifest import MANIFEST_NAME


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

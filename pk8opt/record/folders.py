"""Session folders as the recorder opens them: new, or continued after a restart.

A window recorded again (the recorder was killed or stopped and started again within
the window) goes on in the same `<out>/<slug>/` folder: its frames are reopened
(`reopen_frames`), the manifest goes back to `recording`, and the recorder writes a
`resumed` note and one `gap` per socket covering the time nobody recorded. The loader
then reads one session with a gap. A finished (`complete`) session is never reopened;
frames of it that arrive late are added to its `.gz` by `add_late_frames`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import msgspec

from pk8opt.errors import RecordingError
from pk8opt.recordings.manifest import Manifest, manifest_path, read_manifest, write_manifest
from pk8opt.recordings.raw import (
    Frame,
    FrameWriter,
    append_frames,
    decode_frame,
    reopen_frames,
)
from pk8opt.recordings.session import finish_session


class AlreadyComplete(Exception):
    """The folder holds a finished session of this window; it is left alone."""


@dataclass
class Opened:
    writer: FrameWriter
    manifest: Manifest
    resumed_after_ns: int | None  # the last frame before the restart, when continued


def last_frame_ns(path: Path) -> int | None:
    """The time of the last complete frame of a plain frames file (reads its tail)."""
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            fh.seek(max(0, size - (1 << 20)))
            tail = fh.read()
    except FileNotFoundError:
        return None
    for line in reversed(tail.split(b"\n")):
        try:
            return decode_frame(line).t
        except (msgspec.DecodeError, msgspec.ValidationError):
            continue
    return None


def open_folder(folder: Path, manifest: Manifest) -> Opened:
    """Start a session in `folder`, or continue the one a restart left there."""
    if not folder.exists():
        folder.mkdir(parents=True)
        write_manifest(folder, manifest)
        return Opened(FrameWriter(folder), manifest, None)
    notes: list[str] = []
    try:
        old: Manifest | None = read_manifest(folder)
    except RecordingError as exc:
        old = None
        if manifest_path(folder).exists():  # keep the unreadable one beside the new
            os.replace(manifest_path(folder), folder / "manifest.json.unreadable")
            notes.append(f"the previous manifest was unreadable ({exc}); kept beside it")
    if old is not None:
        if old.status == "complete":
            raise AlreadyComplete(str(folder))
        ours = (manifest.condition_id, manifest.token_up, manifest.token_down)
        if (old.condition_id, old.token_up, old.token_down) != ours:
            raise RecordingError(
                f"{folder}: holds another market (condition {old.condition_id}) than Gamma "
                f"gives for {manifest.slug} now ({manifest.condition_id}); move it aside"
            )
        notes = [*old.notes, *notes]
    frames = reopen_frames(folder)
    after = last_frame_ns(frames)
    writer = FrameWriter(folder)  # raises when another recorder writes it
    continued = msgspec.structs.replace(manifest, notes=notes, status="recording")
    write_manifest(folder, continued)
    return Opened(writer, continued, after)


def add_late_frames(folder: Path, frames: list[Frame]) -> Manifest:
    """Add frames that came after a session was finished, and finish it again (counts,
    sha256 and time span then describe them too); its status and resolution stay."""
    append_frames(folder, frames)
    manifest = read_manifest(folder)
    return finish_session(folder, manifest, status=manifest.status)

"""Does a session's manifest still describe its frames?

Two findings, made when the session is normalized (so they are cached with its other
problems and shown wherever the session is used: `backtest`, `sweep`, `recordings
check`):

    sha256      the frames file is not the one the manifest was written for (edited,
                replaced, or another session's file)
    resolution  the venue's own `market_resolved`, recorded in the frames, names another
                winner than the manifest: the recorded one is used (`recorded_outcome`),
                since it is what the venue said, when it said it

Neither stops the session from being used: both are warnings with the file (and line).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pk8opt.recordings.manifest import Manifest
from pk8opt.recordings.raw import sha256_file
from pk8opt.recordings.schema import Kind

OUTCOMES = ("Up", "Down")  # by token index
_RESOLVED = int(Kind.RESOLVED)


def sha256_problem(frames: Path, manifest: Manifest) -> str | None:
    """What is wrong between a finished session's frames file and its manifest's
    `frames_file`/`sha256`, or None (a session still recording has no sha256 yet)."""
    if manifest.status == "recording" or not manifest.sha256:
        return None
    if frames.name != manifest.frames_file:
        return f"manifest describes {manifest.frames_file!r}, the folder holds {frames.name!r}"
    if sha256_file(frames) != manifest.sha256:
        return "sha256 differs from the manifest's (the frames file changed since it was recorded)"
    return None


def recorded_outcome(events: dict[str, Any]) -> tuple[str, int, int] | None:
    """The winner of the last `market_resolved` in the events, with its frame (line)
    number and receive time, or None when the frames hold none."""
    kinds = events["kind"]
    if not len(kinds):
        return None
    hits = np.flatnonzero(kinds == _RESOLVED)
    if not len(hits):
        return None
    i = int(hits[-1])
    token = int(events["token"][i])
    if token not in (0, 1):
        return None
    return OUTCOMES[token], int(events["frame"][i]), int(events["local_ns"][i])


def resolution_problem(events: dict[str, Any], manifest: Manifest) -> tuple[int, str] | None:
    """(line, detail) when the recorded `market_resolved` and the manifest name
    different winners, else None."""
    rec = recorded_outcome(events)
    said = manifest.resolution.outcome
    if rec is None or said == "unknown" or rec[0] == said:
        return None
    return rec[1], (
        f"market_resolved says {rec[0]}, the manifest says {said} "
        f"({manifest.resolution.source}): {rec[0]} is used"
    )

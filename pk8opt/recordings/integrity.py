"""Does a session's manifest still describe its frames?

Findings made when the session is normalized (so they are cached with its other
problems and shown wherever the session is used: `backtest`, `sweep`, `recordings
check`):

    sha256      the frames file is not the one the manifest was written for (edited,
                replaced, or another session's file)
    frame_count the file holds more or fewer lines than the manifest counts (`frames`
                and its `bad_line` count): frames lost or added since it was written,
                even when the sha256 was written again to match
    resolution  the venue's own `market_resolved`, recorded in the frames, names another
                winner than the manifest: the recorded one is used (`recorded_outcome`),
                since it is what the venue said, when it said it
    resolution_source  the manifest says its winner came from `market_resolved` and the
                frames hold none: the manifest's winner is used

None stops the session from being used: all are warnings with the file (and line).
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


def frame_count_problem(lines: int, manifest: Manifest) -> str | None:
    """What differs between the lines the frames file holds (frames and bad lines, not
    blank ones) and what a finished session's manifest counts, or None."""
    if manifest.status == "recording":
        return None
    bad = manifest.counts.get("bad_line", 0)
    if lines == manifest.frames + bad:
        return None
    counted = f"{manifest.frames:,} frames" + (f" and {bad:,} bad lines" if bad else "")
    held = f"{lines:,}" + (" lines" if bad else "")
    return f"the manifest counts {counted}, the file holds {held}"


def resolution_source_problem(events: dict[str, Any], manifest: Manifest) -> str | None:
    """What is wrong when the manifest's winner came from a `market_resolved` the
    frames do not hold, else None."""
    if manifest.resolution.source != "market_resolved" or recorded_outcome(events) is not None:
        return None
    return (
        f"the manifest says market_resolved gave {manifest.resolution.outcome}, the frames "
        "hold no market_resolved (a line lost?): the manifest's winner is used"
    )

"""Opening, finishing and summarizing session folders; the loaded-session type.

`finish_session` is what the recorder (and the simulator) call when a window is done,
and what the recorder calls on start-up for folders a kill left in `recording` state.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from pk8opt.recordings.integrity import recorded_outcome
from pk8opt.recordings.manifest import (
    Gap,
    Manifest,
    Resolution,
    Status,
    read_manifest,
    write_manifest,
)
from pk8opt.recordings.raw import BadLine, compress_frames, decode_frame, frames_path, iter_lines

_any = msgspec.json.Decoder()

# Problems the normalizer counts that say nothing is wrong with the data: heartbeat
# text, the other market's frames during a rollover, topics replay does not use.
HARMLESS_PROBLEMS = frozenset({"text", "foreign_asset", "foreign_symbol", "other_topic", "empty"})


def classify(ch: str, raw: str) -> list[str]:
    """Count keys for one frame: the market socket's event types (`book` for a snapshot
    without `event_type`), the live-data topics, `gamma`, `note:<kind>`, `text` for
    non-JSON text frames such as `PONG`. An array frame gives one key per element."""
    if ch == "gamma":
        return ["gamma"]
    try:
        obj = _any.decode(raw)
    except msgspec.DecodeError:
        return ["text"] if ch != "note" else ["note:invalid"]
    if ch == "note":
        return [f"note:{obj.get('kind', '?')}" if isinstance(obj, dict) else "note:invalid"]
    items = obj if isinstance(obj, list) else [obj]
    keys = []
    for item in items:
        if not isinstance(item, dict):
            keys.append("other")
        elif ch == "live":
            keys.append(str(item.get("topic") or ("empty" if not item else "other")))
        elif "event_type" in item:
            keys.append(str(item["event_type"]))
        elif "bids" in item or "asks" in item or "buys" in item or "sells" in item:
            keys.append("book")
        else:
            keys.append("other")
    return keys or ["empty"]


@dataclass
class Summary:
    counts: Counter[str] = field(default_factory=Counter)
    gaps: list[Gap] = field(default_factory=list)
    first_ns: int | None = None
    last_ns: int | None = None
    frames: int = 0
    bad: list[BadLine] = field(default_factory=list)


def summarize(session_dir: Path) -> Summary:
    """Scan a frames file: counts per event type, gaps (from `gap` notes), time span."""
    summary = Summary()
    path = frames_path(session_dir)
    if path is None:
        return summary
    for lineno, line, complete in iter_lines(path):
        if not complete:
            summary.bad.append(BadLine(path, lineno, "line cut off (file truncated mid-write)"))
            continue
        if not line.strip():
            continue
        try:
            frame = decode_frame(line)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            summary.bad.append(BadLine(path, lineno, f"not a frame: {exc}"))
            continue
        summary.frames += 1
        if summary.first_ns is None:
            summary.first_ns = frame.t
        summary.last_ns = frame.t
        for key in classify(frame.ch, frame.raw):
            summary.counts[key] += 1
        if frame.ch == "note":
            try:
                note = _any.decode(frame.raw)
            except msgspec.DecodeError:
                continue
            if isinstance(note, dict) and note.get("kind") == "gap":
                summary.gaps.append(
                    Gap(
                        socket=str(note.get("socket", "market")),
                        start_ns=int(note.get("start_ns", frame.t)),
                        duration_ns=int(note.get("duration_ns", 0)),
                    )
                )
    if summary.bad:
        summary.counts["bad_line"] += len(summary.bad)
    return summary


def finish_session(
    session_dir: Path,
    manifest: Manifest | None = None,
    status: Status = "complete",
    **changes: Any,
) -> Manifest:
    """Compress the frames file atomically and write the final manifest.

    `manifest` defaults to the one on disk; `changes` (e.g. `resolution=...`) are
    applied on top; counts, gaps, first/last, frames and sha256 are computed from the
    frames themselves, so the manifest always describes the file beside it.
    """
    session_dir = Path(session_dir)
    if manifest is None:
        manifest = read_manifest(session_dir)
    summary = summarize(session_dir)
    sha: str | None = None
    frames_file = manifest.frames_file
    if frames_path(session_dir) is not None:
        gz, sha = compress_frames(session_dir)
        frames_file = gz.name
    notes = list(manifest.notes)
    if summary.bad:
        notes.append(f"{len(summary.bad)} bad line(s); first: {summary.bad[0]}")
    final = msgspec.structs.replace(
        manifest,
        counts=dict(sorted(summary.counts.items())),
        gaps=summary.gaps,
        first_ns=summary.first_ns,
        last_ns=summary.last_ns,
        frames=summary.frames,
        frames_file=frames_file,
        sha256=sha,
        status=status,
        notes=notes,
        **changes,
    )
    write_manifest(session_dir, final)
    return final


def recover_session(session_dir: Path) -> Manifest | None:
    """Close a session a kill left in `recording` state: mark it incomplete, keep it."""
    manifest = read_manifest(session_dir)
    if manifest.status != "recording":
        return None
    return finish_session(session_dir, manifest, status="incomplete")


def with_recorded_resolution(manifest: Manifest, events: dict[str, np.ndarray]) -> Manifest:
    """The manifest, its resolution replaced by the venue's own `market_resolved` when
    the frames recorded one that names another winner."""
    rec = recorded_outcome(events)
    if rec is not None and rec[0] != manifest.resolution.outcome:
        won = Resolution(rec[0], "market_resolved", rec[2])  # type: ignore[arg-type]
        return msgspec.structs.replace(manifest, resolution=won)
    return manifest


@dataclass
class LoadedSession:
    """A normalized session ready for replay: plain numpy columns, no Polymarket dicts.

    `events` holds one array per column of `schema.EVENTS_SCHEMA`, `underlying` one per
    column of `schema.UNDERLYING_SCHEMA`. `problems` counts what the normalizer skipped
    (bad lines, unknown event types, non-JSON text, foreign assets ...), by kind.
    """

    path: Path
    manifest: Manifest
    events: dict[str, np.ndarray]
    underlying: dict[str, np.ndarray]
    problems: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # The venue's own `market_resolved`, recorded in the frames, wins over the
        # manifest's word (Gamma's, or an edit): replay settles on `manifest.resolution`.
        # A contradiction is also a `resolution` problem (see `integrity`).
        self.manifest = with_recorded_resolution(self.manifest, self.events)

    @property
    def slug(self) -> str:
        return self.manifest.slug

    @property
    def n_events(self) -> int:
        return int(len(self.events["kind"]))

    @property
    def serious_problems(self) -> dict[str, int]:
        """What the normalizer skipped that means something is wrong with the data."""
        return {k: v for k, v in sorted(self.problems.items()) if k not in HARMLESS_PROBLEMS}


# Problems about the session as a whole, worded as what they mean rather than as rows
# skipped (see `integrity`).
WHOLE_SESSION_PROBLEMS = {
    "sha256": "the frames file is not the one its manifest describes (sha256)",
    "frame_count": "the frames file does not hold the number of frames its manifest counts",
    "resolution": "the recorded market_resolved contradicts the manifest's winner; "
    "the recorded one is used",
    "resolution_source": "the manifest's winner came from a market_resolved the frames "
    "do not hold (no market_resolved); the manifest's winner is used",
}


def problems_line(session: LoadedSession) -> str | None:
    """One line for a session whose data had problems (skipped, counted, or the
    manifest contradicting its frames), else None."""
    serious = session.serious_problems
    if not serious:
        return None
    said = [text for kind, text in WHOLE_SESSION_PROBLEMS.items() if kind in serious]
    rows = {k: n for k, n in serious.items() if k not in WHOLE_SESSION_PROBLEMS}
    if rows:
        what = ", ".join(f"{n} {kind}" for kind, n in rows.items())
        said.append(f"skipped {what}; the rest of the session is used")
    return (
        f"{session.path}: {'; '.join(said)} "
        f"(details with file:line: pk8opt recordings check {session.path})"
    )

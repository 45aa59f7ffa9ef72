"""Which sessions a sweep plays: the selection, its time split, and its fingerprint.

Only manifests are read here (cheap); the workers load the sessions themselves.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pk8opt.errors import DataSelectionError
from pk8opt.recordings.catalog import report_skipped, usable_sessions
from pk8opt.recordings.manifest import Manifest
from pk8opt.sweep.config import Data, as_utc


@dataclass(frozen=True)
class Selection:
    in_sample: list[Path]
    holdout: list[Path]
    manifests: dict[Path, Manifest]
    fingerprint: str

    def window(self, paths: list[Path]) -> str:
        """`2025-01-01T00:00Z .. 2025-01-01T02:00Z (8 sessions)`."""
        if not paths:
            return "(no sessions)"
        start = min(self.manifests[p].window_start_s for p in paths)
        end = max(self.manifests[p].window_end_s for p in paths)
        return f"{_iso(start)} .. {_iso(end)} ({len(paths)} sessions)"


def _iso(ts_s: int) -> str:
    return datetime.fromtimestamp(ts_s, UTC).strftime("%Y-%m-%dT%H:%MZ")


def fingerprint(manifests: list[Manifest]) -> str:
    """Changes whenever a session is added, removed or its frames change."""
    h = hashlib.sha256()
    for m in sorted(manifests, key=lambda m: (m.window_start_s, m.slug)):
        h.update(f"{m.slug}|{m.sha256 or m.frames}|{m.status}\n".encode())
    return h.hexdigest()[:16]


def select_sessions(data: Data, where: str, base: Path | None = None) -> Selection:
    """Sessions matching `data`, split by time into in-sample and holdout."""
    paths = [str(base / p) if base and not Path(p).is_absolute() else p for p in data.paths]
    try:
        manifests, skipped = usable_sessions(paths)
    except DataSelectionError as exc:
        raise DataSelectionError(f"{where}: data.paths: {exc}") from None
    report_skipped(skipped)  # unreadable sessions: one line each, the rest is used
    found = list(manifests)
    if not found:
        raise DataSelectionError(
            f"{where}: data.paths: no session folder (with a readable manifest.json) under "
            f"{', '.join(data.paths)}"
            + (f" ({len(skipped)} skipped; first: {skipped[0][1]})" if skipped else "")
        )
    chosen = list(found)
    if data.symbols:
        wanted = {s.upper() for s in data.symbols}
        chosen = [p for p in chosen if manifests[p].symbol.upper() in wanted]
        if not chosen:
            have = sorted({m.symbol for m in manifests.values()})
            raise DataSelectionError(
                f"{where}: data.symbols: no session for {', '.join(data.symbols)} "
                f"(the recordings hold {', '.join(have)})"
            )
    if data.start or data.end:
        lo = as_utc(data.start).timestamp() if data.start else float("-inf")
        hi = as_utc(data.end).timestamp() if data.end else float("inf")
        span = [manifests[p].window_start_s for p in chosen]
        chosen = [p for p in chosen if lo <= manifests[p].window_start_s < hi]
        if not chosen:
            raise DataSelectionError(
                f"{where}: data.start/end: no session starts in that range "
                f"(the selection spans {_iso(min(span))} .. {_iso(max(span))})"
            )
    chosen.sort(key=lambda p: (manifests[p].window_start_s, manifests[p].slug))
    h = data.holdout
    if h.start is not None:
        cut = as_utc(h.start).timestamp()
        in_sample = [p for p in chosen if manifests[p].window_start_s < cut]
        holdout = [p for p in chosen if manifests[p].window_start_s >= cut]
    else:
        starts = sorted({manifests[p].window_start_s for p in chosen})
        n_out = int(len(starts) * h.fraction)
        cut_s = starts[len(starts) - n_out] if n_out else None
        in_sample = [p for p in chosen if cut_s is None or manifests[p].window_start_s < cut_s]
        holdout = [p for p in chosen if cut_s is not None and manifests[p].window_start_s >= cut_s]
    if not in_sample:
        raise DataSelectionError(
            f"{where}: data.holdout: leaves no in-sample session; lower the fraction "
            "or move the holdout start later"
        )
    return Selection(
        in_sample=in_sample,
        holdout=holdout,
        manifests={p: manifests[p] for p in chosen},
        fingerprint=fingerprint([manifests[p] for p in chosen]),
    )

"""`recordings check`: is a session fit for replay?

A session has a problem when any of these holds (each reported with `file:line` where
there is one):

    unreadable     the manifest is missing, invalid or does not match its folder
    sha256         the frames file is not the one the manifest was written for
                   (found by the normalizer, see `integrity`)
    frame_count    the file holds another number of frames than the manifest counts
    bad_line ...   the normalizer's serious problems (bad lines, malformed messages,
                   unknown event types, live-data error bodies, frames whose receive
                   time goes backwards, repeated frames)
    gap            the market socket dropped: the manifest's gaps, or, when it lists
                   none, a `gap`/`disconnected` note (the recorder's own stop, a
                   `disconnected` note with reason `stopped`, is not a gap)
    crossed        our book of a token has best bid >= best ask after a whole frame
    disagreement   our best bid/ask differs from the one the venue sent with a level
                   update or a `best_bid_ask` message
    resolution     no resolution known (neither `market_resolved` nor the manifest),
                   or the two disagree (the recorded `market_resolved` is used)
    resolution_source  the manifest's winner came from a `market_resolved` the frames
                   do not hold

Harmless counts (PONG text frames, other markets' messages on a shared socket, unused
live-data topics) are listed as information only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import msgspec

from pk8opt.errors import RecordingError
from pk8opt.progress import steps
from pk8opt.recordings.book import MarketBook
from pk8opt.recordings.load import load_session_report
from pk8opt.recordings.normalize import HARMLESS, Problems
from pk8opt.recordings.raw import decode_frame, frames_path, iter_lines
from pk8opt.recordings.schema import NO_PRICE, PRICE_SCALE, Kind

MAX_EXAMPLES = 5
STOPPED = "stopped"  # the reason of the `disconnected` note the recorder writes on its own stop
_decode = msgspec.json.Decoder().decode


@dataclass
class Finding:
    kind: str
    count: int
    examples: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        first = f"; first: {self.examples[0]}" if self.examples else ""
        return f"{self.kind} x{self.count}{first}"


@dataclass
class SessionCheck:
    path: str
    slug: str
    findings: list[Finding] = field(default_factory=list)
    info: dict[str, int] = field(default_factory=dict)
    events: int = 0

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_dict(self) -> dict:
        d = asdict(self)
        d["ok"] = self.ok
        return d


class _Collector:
    def __init__(self) -> None:
        self.found: dict[str, Finding] = {}

    def add(self, kind: str, example: str, count: int = 1) -> None:
        f = self.found.get(kind)
        if f is None:
            f = self.found[kind] = Finding(kind, 0)
        f.count += count
        if len(f.examples) < MAX_EXAMPLES:
            f.examples.append(example)


def _same(ours: int, venue: int, empty: int) -> bool:
    """Compare a best price; the venue may send 0 (bid) or 1 (ask) for an empty side."""
    if ours == NO_PRICE:
        ours = empty
    return ours == venue


def replay_findings(events: dict, frames_name: str, col: _Collector) -> None:
    """Replay the events through a `MarketBook`: crossed books, disagreements."""
    book = MarketBook()
    kinds = events["kind"].tolist()
    tokens = events["token"].tolist()
    sides = events["side"].tolist()
    prices = events["price"].tolist()
    sizes = events["size"].tolist()
    vbids = events["venue_bid"].tolist()
    vasks = events["venue_ask"].tolist()
    frames = events["frame"].tolist()
    level, bba = int(Kind.LEVEL), int(Kind.BEST_BID_ASK)
    books = book.books
    n = len(kinds)
    was_crossed = [False, False]
    for i in range(n):
        kind, tok = kinds[i], tokens[i]
        book.apply(kind, tok, sides[i], prices[i], sizes[i], frames[i])
        vb, va = vbids[i], vasks[i]
        if kind in (level, bba) and (vb != NO_PRICE or va != NO_PRICE) and not book.stale[tok]:
            tb = books[tok]
            bid, ask = tb.best_bid, tb.best_ask
            if (vb != NO_PRICE and not _same(bid, vb, 0)) or (
                va != NO_PRICE and not _same(ask, va, PRICE_SCALE)
            ):
                col.add(
                    "disagreement",
                    f"{frames_name}:{frames[i]}: token {tok} ours {bid}/{ask} "
                    f"venue {vb}/{va} (milli)",
                )
        if i + 1 == n or frames[i + 1] != frames[i]:
            for t in (0, 1):
                now = not book.stale[t] and books[t].crossed
                if now and not was_crossed[t]:  # once per episode, where it starts
                    col.add(
                        "crossed",
                        f"{frames_name}:{frames[i]}: token {t} bid {books[t].best_bid} "
                        f">= ask {books[t].best_ask}",
                    )
                was_crossed[t] = now


def check_session(session_dir: str | Path, allow_gaps: bool = False) -> SessionCheck:
    session_dir = Path(session_dir)
    result = SessionCheck(path=str(session_dir), slug=session_dir.name)
    col = _Collector()
    try:
        loaded, problems = load_session_report(session_dir)
    except RecordingError as exc:
        result.findings.append(Finding("unreadable", 1, [str(exc)]))
        return result
    manifest = loaded.manifest
    result.slug = manifest.slug
    result.events = loaded.n_events
    frames = frames_path(session_dir)
    assert frames is not None  # load_session_report checked
    _problem_findings(problems, col)  # with sha256 and a contradicting resolution
    result.info = {k: v for k, v in sorted(problems.counts.items()) if k in HARMLESS}

    ev = loaded.events
    gap_rows = (ev["kind"] == int(Kind.GAP)).nonzero()[0]
    if not allow_gaps:
        for g in manifest.gaps:
            col.add("gap", f"{g.socket} socket: {g.duration_ns / 1e9:.1f} s from {g.start_ns}")
        if not manifest.gaps:
            lines = [int(ev["frame"][i]) for i in gap_rows.tolist()]
            for line in _dropped(frames, lines):
                col.add("gap", f"{frames}:{line}: market socket dropped")
    replay_findings(ev, str(frames), col)

    if manifest.resolution.outcome == "unknown":  # a recorded market_resolved would be used
        col.add("resolution", f"{session_dir / 'manifest.json'}: no resolution known")
    result.findings = list(col.found.values())
    return result


def _dropped(frames: Path, lines: list[int]) -> list[int]:
    """The lines among `lines` (notes that made gap rows) where the socket dropped: all
    but the recorder's own stop (`disconnected` with reason `stopped`)."""
    if not lines:
        return []
    wanted, last, out = set(lines), max(lines), []
    for lineno, line, _ in iter_lines(frames):
        if lineno in wanted:
            try:
                note = _decode(decode_frame(line).raw)
            except (msgspec.DecodeError, msgspec.ValidationError):
                note = None
            if not (isinstance(note, dict) and _is_stop(note)):
                out.append(lineno)
        if lineno >= last:
            break
    return out


def _is_stop(note: dict) -> bool:
    return note.get("kind") == "disconnected" and note.get("reason") == STOPPED


def _problem_findings(problems: Problems, col: _Collector) -> None:
    for kind, count in sorted(problems.serious.items()):
        examples = problems.examples.get(kind, [])
        col.found[kind] = Finding(kind, count, list(examples))


def check_sessions(
    session_dirs: list[Path], allow_gaps: bool = False, *, progress: bool = False
) -> list[SessionCheck]:
    out = []
    with steps("checking sessions", len(session_dirs) if progress else 0) as advance:
        for p in session_dirs:
            out.append(check_session(p, allow_gaps=allow_gaps))
            advance()
    return out

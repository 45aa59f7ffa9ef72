"""One market window while it is live (`MarketRun`) and what is done to it: numbering
its frames, normalizing them, recording them, settling its resolution."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pk8opt.live.settings import Series
from pk8opt.polymarket.slugs import slug_for, window_start
from pk8opt.recordings.manifest import Manifest, Resolution, write_manifest
from pk8opt.recordings.normalize import FrameNormalizer
from pk8opt.recordings.raw import Frame, FrameWriter
from pk8opt.recordings.schema import PRICE_SCALE
from pk8opt.recordings.session import finish_session


@dataclass
class MarketRun:
    """One market window while it is live: its numbering, recording and stepper."""

    spec: Series
    manifest: Manifest
    traded: bool
    stepper: Any
    writer: FrameWriter | None = None
    lines: int = 0  # frames numbered so far (= lines of its recording)
    normalizer: Any = None  # its FrameNormalizer, made at the first frame
    resolved: str | None = None
    next_poll_s: float = 0.0
    done: bool = False

    @property
    def tokens(self) -> tuple[str, str]:
        return (self.manifest.token_up, self.manifest.token_down)

    def number(self, t_ns: int, ch: str, raw: str, src: str | None = None) -> Frame:
        self.lines += 1
        if self.writer is not None:
            self.writer.write(t_ns, ch, raw, src)
        return Frame(t=t_ns, ch=ch, raw=raw, src=src)


def frame_rows(frame: Frame, lineno: int, run: MarketRun) -> dict[str, Any]:
    """The normalized event rows of one frame, exactly as the whole-file normalizer
    gives them for line `lineno` of the session (columns as numpy arrays)."""
    if run.normalizer is None:
        run.normalizer = FrameNormalizer(run.manifest, run.manifest.slug)
    rows = run.normalizer.feed(frame, lineno)
    run.normalizer.drop_underlying()  # the runner does not use the underlying prices
    return rows


def price_or_none(milli: int) -> float | None:
    return None if milli < 0 else milli / PRICE_SCALE


def open_recording(record_dir: Path, manifest: Manifest) -> FrameWriter:
    session = Path(record_dir) / manifest.slug
    writer = FrameWriter(session)  # creates the folder
    write_manifest(session, manifest)
    return writer


def close_recording(run: MarketRun, status: str = "complete") -> None:
    if run.writer is None:
        return
    run.writer.close()
    changes: dict[str, Any] = {}
    if run.manifest.resolution.outcome != "unknown":
        changes["resolution"] = run.manifest.resolution
    finish_session(run.writer.session_dir, run.manifest, status=status, **changes)  # type: ignore[arg-type]
    run.writer = None


def window_of(spec: Series, now_s: float) -> tuple[str, int]:
    start = window_start(now_s, spec.timeframe)
    return slug_for(spec.symbol, spec.timeframe, start), start


def settle_resolution(run: MarketRun, outcome: str, source: str, t_ns: int) -> None:
    run.manifest.resolution = Resolution(outcome=outcome, source=source, known_at_ns=t_ns)  # type: ignore[arg-type]
    run.resolved = outcome

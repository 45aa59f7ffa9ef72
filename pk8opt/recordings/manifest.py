"""The manifest of one recorded session (one market window, one slug).

`manifest.json` sits beside the frames file of the session folder. It is written when a
session starts (status `recording`) and rewritten, atomically, when it finishes
(`complete`) or when an interrupted one is found and closed (`incomplete`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import msgspec

from pk8opt.errors import RecordingError
from pk8opt.polymarket.fees import FeeSchedule as FeeSchedule  # re-exported: the venue's own
from pk8opt.polymarket.fees import Outcome as Outcome
from pk8opt.recordings.raw import frames_path

if TYPE_CHECKING:
    from pk8opt.polymarket.gamma import MarketInfo

FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"

Status = Literal["recording", "complete", "incomplete"]
Source = Literal["recorded", "simulated", "imported"]
# How a resolution became known: the market socket's `market_resolved`, Gamma's
# `closed` + `outcomePrices`, the simulator's own rule, or not at all.
ResolutionSource = Literal["market_resolved", "gamma", "simulated", "none"]


class Resolution(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    outcome: Outcome = "unknown"
    source: ResolutionSource = "none"
    known_at_ns: int | None = None


class Gap(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A stretch with no data on one socket: from the disconnect to the new snapshot."""

    socket: str  # "market" | "live"
    start_ns: int
    duration_ns: int


class Manifest(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=False):
    slug: str
    symbol: str  # "BTC"
    timeframe: str  # "15m"
    condition_id: str
    token_up: str  # clobTokenIds[0]
    token_down: str  # clobTokenIds[1]
    window_start_s: int
    window_end_s: int
    tick_size: float = 0.01
    min_order_size: float = 5.0
    fees_enabled: bool = False
    fee_schedule: FeeSchedule | None = None
    resolution: Resolution = Resolution()
    counts: dict[str, int] = {}
    gaps: list[Gap] = []
    first_ns: int | None = None
    last_ns: int | None = None
    frames: int = 0
    frames_file: str = "frames.jsonl"
    sha256: str | None = None
    source: Source = "recorded"
    status: Status = "recording"
    format_version: int = FORMAT_VERSION
    notes: list[str] = []


def manifest_of(info: MarketInfo, symbol: str, timeframe: str) -> Manifest:
    """The manifest a session of the Gamma market `info` starts with (status `recording`)."""
    return Manifest(
        slug=info.slug,
        symbol=symbol,
        timeframe=timeframe,
        condition_id=info.condition_id,
        token_up=info.token_up,
        token_down=info.token_down,
        window_start_s=info.window_start_s,
        window_end_s=info.window_end_s,
        tick_size=info.tick_size,
        min_order_size=info.min_order_size,
        fees_enabled=info.fees_enabled,
        fee_schedule=info.fee_schedule,
    )


_encoder = msgspec.json.Encoder()


def manifest_path(session_dir: Path) -> Path:
    return Path(session_dir) / MANIFEST_NAME


def write_manifest(session_dir: Path, manifest: Manifest) -> None:
    """Write atomically: a crash leaves the old manifest or the new one, never half."""
    path = manifest_path(session_dir)
    tmp = path.with_suffix(".json.tmp")
    data = msgspec.json.format(_encoder.encode(manifest), indent=2) + b"\n"
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_manifest(session_dir: Path) -> Manifest:
    path = manifest_path(session_dir)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        frames = frames_path(session_dir)
        if frames is not None:  # a session that lost its manifest: say so, never skip it unseen
            raise RecordingError(
                f"{session_dir}: missing {MANIFEST_NAME} beside {frames.name} (a session "
                "folder needs both; without it the frames cannot be replayed)"
            ) from None
        raise RecordingError(f"{path}: missing manifest (every session folder needs one)") from None
    try:
        manifest = msgspec.json.decode(raw, type=Manifest)
    except msgspec.ValidationError as exc:
        raise RecordingError(f"{path}: invalid manifest: {exc}") from None
    except msgspec.DecodeError as exc:
        raise RecordingError(f"{path}: manifest is not valid JSON: {exc}") from None
    if manifest.format_version > FORMAT_VERSION:
        raise RecordingError(
            f"{path}: format_version {manifest.format_version} is newer than this pk8opt "
            f"reads ({FORMAT_VERSION}); upgrade pk8opt"
        )
    if manifest.window_end_s <= manifest.window_start_s:
        raise RecordingError(
            f"{path}: window_end_s ({manifest.window_end_s}) is not after "
            f"window_start_s ({manifest.window_start_s})"
        )
    return manifest

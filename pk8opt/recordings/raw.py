"""The raw frame log of a session: every frame exactly as received, one per line.

A session is a folder named after its slug::

    <slug>/manifest.json        see manifest.py
    <slug>/frames.jsonl         while recording (append-only, flushed at least every second)
    <slug>/frames.jsonl.gz      once finished (compressed atomically; the .jsonl is removed)
    <slug>/.cache/              normalized tables, rebuilt on demand (never committed)

Each line of the frames file is one JSON object::

    {"t": <local receive time, Unix ns>, "ch": <channel>, "raw": <the frame text, verbatim>}

plus `"src"` (the request URL) on Gamma responses. Channels:

    market  a text frame of the CLOB market socket (JSON, a JSON array, or `PONG` ...)
    live    a text frame of the live-data socket (`crypto_prices*`, `activity`)
    gamma   the body of a Gamma HTTP response
    note    the recorder's own notes, `raw` being a JSON object with a `kind`:
            connected, disconnected, subscribed, unsubscribed, gap, error, resumed

A session recorded again within its window (the recorder restarted) is continued in the
same folder: `reopen_frames` turns a finished `.gz` back into `frames.jsonl`, the
recorder appends a `resumed` note and one `gap` per socket, and finishing compresses the
whole again. Frames of a finished session that arrive late are added with
`append_frames`. Either way a session stays one frames file.

A file cut off mid-line (a kill during a write) stays readable up to its last complete
line; the cut line is reported, never silently dropped.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import hashlib
import os
import shutil
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from pk8opt.errors import RecordingError

FRAMES_NAME = "frames.jsonl"
FRAMES_GZ_NAME = "frames.jsonl.gz"
CHANNELS = ("market", "live", "gamma", "note")
FLUSH_INTERVAL_S = 0.25


class Frame(msgspec.Struct, omit_defaults=True):
    t: int
    ch: str
    raw: str
    src: str | None = None


_encode = msgspec.json.Encoder().encode
_decode_frame = msgspec.json.Decoder(Frame).decode


def encode_frame(frame: Frame) -> bytes:
    return _encode(frame) + b"\n"


def decode_frame(line: bytes) -> Frame:
    """Decode one line; raises `msgspec.DecodeError`/`ValidationError` on a bad one."""
    frame = _decode_frame(line)
    if frame.ch not in CHANNELS:
        raise msgspec.ValidationError(f"unknown channel {frame.ch!r}")
    return frame


def note_text(kind: str, **fields: Any) -> str:
    """The `raw` text of a recorder note frame."""
    return msgspec.json.encode({"kind": kind, **fields}).decode()


@dataclass(frozen=True)
class BadLine:
    path: Path
    lineno: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.lineno}: {self.reason}"


def frames_path(session_dir: Path) -> Path | None:
    """The session's frames file: the finished `.gz` if there is one, else the `.jsonl`."""
    session_dir = Path(session_dir)
    gz = session_dir / FRAMES_GZ_NAME
    if gz.exists():
        return gz
    plain = session_dir / FRAMES_NAME
    return plain if plain.exists() else None


def iter_lines(path: Path) -> Iterator[tuple[int, bytes, bool]]:
    """Yield `(lineno, line, complete)`; `complete` is False for a last line cut short."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as fh:
        for lineno, line in enumerate(fh, start=1):
            if line.endswith(b"\n"):
                yield lineno, line[:-1], True
            elif line:
                yield lineno, line, False


def read_frames(path: Path) -> tuple[list[Frame], list[BadLine]]:
    """Every good frame of a frames file, and every bad line with its reason."""
    frames: list[Frame] = []
    bad: list[BadLine] = []
    for lineno, line, complete in iter_lines(path):
        if not complete:
            bad.append(BadLine(path, lineno, "line cut off (file truncated mid-write)"))
            continue
        if not line.strip():
            continue
        try:
            frames.append(decode_frame(line))
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            bad.append(BadLine(path, lineno, f"not a frame: {exc}"))
    return frames, bad


class FrameWriter:
    """Append-only writer of a `frames.jsonl`, safe against a kill.

    Lines go to the OS at least every `FLUSH_INTERVAL_S` seconds (call `flush_if_due`
    from the recorder's loop when idle), so a SIGKILL loses at most that much. Opening
    an existing file cut mid-line first ends that line, so the cut stays one bad line.
    The file is locked (`flock`) while open: a second writer, or recovery, sees it is in
    use (`frames_in_use`) and leaves it alone.
    """

    def __init__(self, session_dir: Path) -> None:
        self.session_dir = Path(session_dir)
        self.session_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.session_dir / FRAMES_NAME
        needs_newline = False
        if self.path.exists() and self.path.stat().st_size > 0:
            with open(self.path, "rb") as fh:
                fh.seek(-1, os.SEEK_END)
                needs_newline = fh.read(1) != b"\n"
        self._fh = open(self.path, "ab", buffering=1 << 16)  # noqa: SIM115
        try:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._fh.close()
            raise RecordingError(
                f"{self.path}: another recorder is writing this session; stop it first"
            ) from None
        if needs_newline:
            self._fh.write(b"\n")
        self._last_flush = time.monotonic()
        self.frames_written = 0
        self.bytes_written = 0

    def write(self, t_ns: int, ch: str, raw: str, src: str | None = None) -> None:
        data = encode_frame(Frame(t=t_ns, ch=ch, raw=raw, src=src))
        try:
            self._fh.write(data)
        except OSError as exc:
            raise self._named(exc) from None
        self.frames_written += 1
        self.bytes_written += len(data)
        self.flush_if_due()

    def _named(self, exc: OSError) -> OSError:
        if exc.filename is None:
            exc.filename = str(self.path)
        return exc

    def note(self, t_ns: int, kind: str, **fields: Any) -> None:
        self.write(t_ns, "note", note_text(kind, **fields))

    def flush_if_due(self) -> None:
        now = time.monotonic()
        if now - self._last_flush >= FLUSH_INTERVAL_S:
            self.flush()

    def flush(self) -> None:
        try:
            self._fh.flush()
        except OSError as exc:
            raise self._named(exc) from None
        self._last_flush = time.monotonic()

    def close(self) -> None:
        if not self._fh.closed:
            try:
                self._fh.flush()
                os.fsync(self._fh.fileno())
            finally:
                self._fh.close()  # closes (and unlocks) even when the flush failed

    def abandon(self) -> None:
        """Close without writing what is still buffered (the disk is full)."""
        if not self._fh.closed:
            with contextlib.suppress(OSError):
                self._fh.close()
            if not self._fh.closed:  # pragma: no cover - close raised before closing
                os.close(self._fh.fileno())


@contextlib.contextmanager
def frames_lock(session_dir: Path) -> Iterator[bool]:
    """Hold the lock of a session's `frames.jsonl` for the block; yield False (and hold
    nothing) when a writer holds it. A folder without a plain frames file is free."""
    path = Path(session_dir) / FRAMES_NAME
    try:
        fh = open(path, "rb")  # noqa: SIM115
    except FileNotFoundError:
        yield True
        return
    with fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        yield True


def frames_in_use(session_dir: Path) -> bool:
    """True while a `FrameWriter` (in this or another process) writes the session."""
    with frames_lock(session_dir) as free:
        return not free


def reopen_frames(session_dir: Path) -> Path:
    """Make `frames.jsonl` hold every frame of the session again, to append to it.

    A finished session has only `frames.jsonl.gz`: it is decompressed under a temporary
    name, synced and renamed into place before the `.gz` is removed, so a crash leaves
    one complete copy (both files present means both are complete and the same).
    Returns the path of `frames.jsonl`.
    """
    session_dir = Path(session_dir)
    plain = session_dir / FRAMES_NAME
    gz = session_dir / FRAMES_GZ_NAME
    if plain.exists():
        gz.unlink(missing_ok=True)
        return plain
    if gz.exists():
        tmp = plain.with_name(FRAMES_NAME + ".tmp")
        with gzip.open(gz, "rb") as fin, open(tmp, "wb") as fout:
            try:
                shutil.copyfileobj(fin, fout, 1 << 20)
            except (EOFError, gzip.BadGzipFile, zlib.error):
                # a damaged .gz: keep what decompresses, and the damaged file beside it
                shutil.copyfile(gz, gz.with_name(FRAMES_GZ_NAME + ".damaged"))
            fout.flush()
            os.fsync(fout.fileno())
        os.replace(tmp, plain)
        gz.unlink()
    return plain


def append_frames(session_dir: Path, frames: list[Frame]) -> Path:
    """Add frames to a finished session's `frames.jsonl.gz` (as one more gzip member,
    which every gzip reader reads as the continuation); atomic like `compress_frames`."""
    session_dir = Path(session_dir)
    gz = session_dir / FRAMES_GZ_NAME
    tmp = gz.with_name(FRAMES_GZ_NAME + ".tmp")
    shutil.copyfile(gz, tmp)
    with open(tmp, "ab") as raw_out:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw_out, compresslevel=6, mtime=0) as z:
            for frame in frames:
                z.write(encode_frame(frame))
        raw_out.flush()
        os.fsync(raw_out.fileno())
    os.replace(tmp, gz)
    return gz


def compress_frames(session_dir: Path) -> tuple[Path, str]:
    """Turn `frames.jsonl` into `frames.jsonl.gz` atomically; return its path and sha256.

    The `.gz` is written under a temporary name, synced, and renamed into place before
    the plain file is removed, so a crash at any point leaves one complete copy.
    Deterministic (no timestamp in the gzip header): the same frames give the same sha.
    """
    session_dir = Path(session_dir)
    src = session_dir / FRAMES_NAME
    dst = session_dir / FRAMES_GZ_NAME
    if not src.exists() and dst.exists():
        return dst, sha256_file(dst)
    tmp = dst.with_name(FRAMES_GZ_NAME + ".tmp")
    with open(src, "rb") as fin, open(tmp, "wb") as raw_out:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw_out, compresslevel=6, mtime=0) as gz:
            while chunk := fin.read(1 << 20):
                gz.write(chunk)
        raw_out.flush()
        os.fsync(raw_out.fileno())
    os.replace(tmp, dst)
    src.unlink()
    return dst, sha256_file(dst)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()

"""One recorder per recording folder: OS locks that die with their process.

`FolderLock` is held on `<out>/.pk8opt-record.lock` for the recorder's whole life; a
second `pk8opt record` on the same `--out` is refused with the holder's pid.
`FrameWriter` (recordings/raw.py) also locks each `frames.jsonl` while it writes it,
so recovery (which closes folders a kill left open) skips a folder another recorder is
writing, even one started with a different `--out` above or below this one.

The locks are `flock(2)` locks: the kernel releases them when the process ends, however
it ends, so a kill never leaves a stale lock behind (the file may stay; it is free).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from pathlib import Path
from typing import IO

from pk8opt.errors import RecordingError

LOCK_NAME = ".pk8opt-record.lock"


class FolderLock:
    """An exclusive lock on a recording folder, holding the owner's pid."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self._fh: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock or raise `RecordingError` naming the process that holds it."""
        for _ in range(10):
            fh = self._try()
            # the holder removes the file when it lets go: make sure ours is still it
            try:
                same = os.fstat(fh.fileno()).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                fh.seek(0)
                fh.truncate()
                fh.write(f"{os.getpid()}\n")
                fh.flush()
                self._fh = fh
                return
            fh.close()
        raise RecordingError(f"{self.path}: cannot lock (it keeps changing)")

    def _try(self) -> IO[str]:
        fh = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            fh.seek(0)
            pid = fh.read().strip() or "unknown"
            fh.close()
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise RecordingError(
                    f"{self.folder}: another pk8opt record (pid {pid}) is recording into "
                    "this folder; stop it first or give another --out"
                ) from None
            raise RecordingError(f"{self.path}: cannot lock ({exc.strerror})") from None
        return fh

    def release(self) -> None:
        if self._fh is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()  # while still holding it: a waiter then retries
            with contextlib.suppress(OSError):
                self._fh.close()  # closing the file releases the lock
            self._fh = None

    def __enter__(self) -> FolderLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

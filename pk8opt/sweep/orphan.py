"""Sweep workers end when the sweep's main process is gone, even after `kill -9`.

A worker runs trial after trial inside one task, so nothing brings it back to loky's
queue where it would notice a dead parent: left alone, it would go on running trials
that nobody logs. `watch_parent` (the executor's initializer) starts a daemon thread
that polls the parent's pid; once the process has been re-parented (the main process
died), the thread stops the worker the way Ctrl-C does (it creates the sweep's stop
file, registered by `stop_on_orphan`, so the running trial ends after its current
session and is recorded as interrupted, which a resumed sweep does not count), waits
for the worker's task to return (it looks at the main thread's stack), and ends the
process: at the latest `GRACE_S` after the parent died.

What was finished stays in the study; the next `pk8opt sweep` on it logs every finished
trial that was not logged yet (see `pipeline.trial_log`).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from pathlib import Path

POLL_S = 0.5
GRACE_S = 60.0  # at most this long for the running trial to reach a session boundary
TASKS = ("run_worker", "run_report")  # the worker functions the thread waits for
TASKS_MODULE = "pk8opt.sweep.worker"
EXIT_ORPHANED = 75

_stop_files: set[str] = set()


def watch_parent() -> None:
    """Loky initializer: from now on, this process ends soon after its parent does."""
    parent = os.getppid()
    threading.Thread(target=_watch, args=(parent,), name="pk8opt-orphan-watch", daemon=True).start()


def stop_on_orphan(stop_file: str) -> None:
    """Create `stop_file` if this worker loses its parent (the sweep's own stop signal)."""
    _stop_files.add(stop_file)


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(POLL_S)
    for stop_file in list(_stop_files):
        with contextlib.suppress(OSError):
            Path(stop_file).touch()
    deadline = time.monotonic() + GRACE_S
    while _working() and time.monotonic() < deadline:
        time.sleep(0.1)
    os._exit(EXIT_ORPHANED)


def _working() -> bool:
    """Is the main thread still inside a sweep task (`TASKS`), e.g. telling its trial?"""
    frame = sys._current_frames().get(threading.main_thread().ident or 0)
    while frame is not None:
        if frame.f_code.co_name in TASKS and frame.f_globals.get("__name__") == TASKS_MODULE:
            return True
        frame = frame.f_back
    return False

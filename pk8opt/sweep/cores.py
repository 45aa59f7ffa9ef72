"""How many worker processes a sweep starts: never more than the cores, unless forced.

Each worker keeps one core busy replaying sessions; a worker beyond the cores only
competes for them (and holds its own copy of the sessions in memory), so `workers: 1000`
on a 2-core machine would start a thousand processes for no gain. The sweep caps the
number at the cores this process may run on, says so in one line, and `--force-workers`
keeps the number asked for (e.g. a trial that mostly waits on I/O).
"""

from __future__ import annotations

import os


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def cap_workers(requested: int, force: bool = False) -> tuple[int, str | None]:
    """The number of workers to start, and the line saying it was capped (or None)."""
    cores = usable_cores()
    if requested <= cores or force:
        return requested, None
    return cores, (
        f"workers: {requested} capped at {cores}, the cores of this machine (more workers "
        f"would only compete for them); --force-workers starts {requested} anyway"
    )

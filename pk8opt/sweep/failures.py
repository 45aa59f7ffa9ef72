"""What a sweep says when trials failed: how many, the first error, and no deploy offer.

A failed trial (an exception in the backtest, recorded by the worker as Optuna's FAIL
with the error in the trial's `error` attribute and the traceback in `traceback`) means
the code or the data did something this configuration did not expect. The sweep still
ends with its summary, but it names the failure instead of suggesting `pk8opt deploy`,
and when no trial finished at all it exits non-zero: there is nothing to deploy.

A trial stopped by Ctrl-C (`interrupted`) is not a failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

FINISHED = ("COMPLETE", "PRUNED", "FAIL")
MAX_ERROR_CHARS = 300


@dataclass(frozen=True)
class Failures:
    count: int = 0  # failed trials (interruptions not counted)
    finished: int = 0  # complete + pruned + failed
    first_number: int | None = None
    first_error: str | None = None

    @property
    def all_failed(self) -> bool:
        return self.count > 0 and self.count == self.finished


def find_failures(trials: list[Any]) -> Failures:
    """The failed trials of a study (all of them, earlier runs' too), the first by number."""
    failed = []
    finished = 0
    for t in trials:
        state = t.state.name
        if state not in FINISHED or t.user_attrs.get("interrupted"):
            continue
        finished += 1
        if state == "FAIL":
            failed.append(t)
    if not failed:
        return Failures(0, finished)
    first = min(failed, key=lambda t: t.number)
    error = str(first.user_attrs.get("error") or "no error recorded").strip()
    error = " ".join(error.split())  # one line
    if len(error) > MAX_ERROR_CHARS:
        error = error[: MAX_ERROR_CHARS - 3] + "..."
    return Failures(len(failed), finished, first.number, error)


def failure_lines(f: Failures) -> list[str]:
    """The lines a sweep prints about its failed trials (none when nothing failed)."""
    if not f.count:
        return []
    which = "every trial" if f.all_failed else f"{f.count} of {f.finished} trials"
    return [
        f"{which} failed; first, trial {f.first_number}: {f.first_error}",
        f"not offering to deploy: fix the cause, then rerun the sweep (the error is on "
        f"trial {f.first_number}'s run in MLflow, tag pk8opt.error; its traceback is the "
        "trial's `traceback` attribute in the study)",
    ]

"""A sweep as data: `pk8opt sweep --json` prints it at the end of a run and
`pk8opt sweeps show --json` prints it later, one document of one shape.

`sweep_document` builds it from what `sweeps show` reads back from the stores (the trial
counts, the best trial, the top trials, the validation's verdict with each check and its
figures, the command that deploys it) and, at the end of a run, from what only the run
itself knows (the interrupted flag, the resume command, the failures, this run's counts).
Read later, those come from the stores: `interrupted` is the study's `stopped` state and
`resume_command` is null. A URL's password is masked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pk8opt.pipeline.listing import SweepDetail, show_sweep
from pk8opt.redact import mask_url

if TYPE_CHECKING:
    from pk8opt.pipeline.run import SweepOutcome


def sweep_summary(out: SweepOutcome, resume_command: str | None = None) -> dict[str, Any]:
    """`pk8opt sweep --json`: the document at the end of a run."""
    detail = show_sweep(out.storage, out.tracking_uri, out.study)
    return sweep_document(
        detail, out.storage, out.tracking_uri, outcome=out, resume_command=resume_command
    )


def _failures(detail: SweepDetail, out: SweepOutcome | None) -> dict[str, Any] | None:
    if out is not None:
        f = out.failures
        return (
            None
            if not f.count
            else {
                "count": f.count,
                "finished": f.finished,
                "first_number": f.first_number,
                "first_error": f.first_error,
            }
        )
    r = detail.row
    if not r.failed:
        return None
    return {
        "count": r.failed,
        "finished": r.complete + r.pruned + r.failed,
        "first_number": None,  # the run that met them named them
        "first_error": None,
    }


def _validation(detail: SweepDetail, out: SweepOutcome | None) -> dict[str, Any] | None:
    verdict = (out.verdict if out is not None else None) or detail.row.verdict
    if verdict is None and not detail.checks:
        return None
    chosen = out.chosen if out is not None and out.chosen is not None else detail.chosen_trial
    return {
        "verdict": verdict,
        "passed": verdict == "pass",
        "chosen_trial": chosen,
        "checks": detail.checks,
        "figures": detail.figures,
    }


def sweep_document(
    detail: SweepDetail,
    storage: str,
    tracking_uri: str | None,
    *,
    outcome: SweepOutcome | None = None,
    resume_command: str | None = None,
) -> dict[str, Any]:
    """The one JSON shape of a sweep: the run's summary keys and the listing's keys
    (`row`, `top`, `figures`, `chosen_trial`, `checks`) side by side."""
    row, out = detail.row, outcome
    t = out.tally if out is not None else row
    best = detail.top[0] if detail.top else None
    interrupted = out.interrupted if out is not None else row.state == "stopped"
    failures = _failures(detail, out)
    validation = _validation(detail, out)
    listing = detail.to_json()
    return {
        "study": row.study,
        "strategy": row.strategy,
        "storage": mask_url(storage),
        "tracking_uri": mask_url(tracking_uri) if tracking_uri else None,
        "parent_run_id": out.parent_run_id if out is not None else detail.parent_run_id,
        "state": row.state,
        "interrupted": interrupted,
        "resume_command": resume_command if interrupted else None,
        "trials": {
            "complete": t.complete,
            "pruned": t.pruned,
            "failed": t.failed,
            "interrupted": t.interrupted,
            "running": row.running,
        },
        "objective": {"direction": row.direction, "best": row.best},
        "best_trial": None
        if best is None
        else {"number": best.number, "value": best.value, "params": best.params},
        "failures": failures,
        "validation": validation,
        "deployable": validation is not None
        and validation["passed"]
        and not interrupted
        and failures is None,
        "deploy_command": detail.deploy_command,
        "row": listing["row"],
        "top": listing["top"],
        "figures": listing["figures"],
        "chosen_trial": validation["chosen_trial"] if validation else detail.chosen_trial,
        "checks": listing["checks"],
    }

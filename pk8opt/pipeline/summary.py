"""The end of a sweep as data: `pk8opt sweep --json` prints it.

The same facts the sweep's last lines say (the trial counts, the best trial, the
validation's verdict with each check, the command that deploys it), read back from the
stores the way `pk8opt sweeps show` reads them, plus what only the run itself knows
(interrupted, the resume command, the failures). A URL's password is masked.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from pk8opt.pipeline.listing import show_sweep
from pk8opt.redact import mask_url

if TYPE_CHECKING:
    from pk8opt.pipeline.run import SweepOutcome


def sweep_summary(out: SweepOutcome, resume_command: str | None = None) -> dict[str, Any]:
    detail = show_sweep(out.storage, out.tracking_uri, out.study, top=1)
    row, t = detail.row, out.tally
    best = detail.top[0] if detail.top else None
    validation = None
    if out.verdict is not None or detail.checks:
        validation = {
            "verdict": out.verdict or row.verdict,
            "passed": (out.verdict or row.verdict) == "pass",
            "chosen_trial": out.chosen if out.chosen is not None else detail.chosen_trial,
            "checks": detail.checks,
            "figures": detail.figures,
        }
    deployable = (
        validation is not None
        and validation["passed"]
        and not out.interrupted
        and not out.failures.count
    )
    return {
        "study": out.study,
        "strategy": row.strategy,
        "storage": mask_url(out.storage),
        "tracking_uri": mask_url(out.tracking_uri),
        "parent_run_id": out.parent_run_id,
        "interrupted": out.interrupted,
        "resume_command": resume_command if out.interrupted else None,
        "trials": {
            "complete": t.complete,
            "pruned": t.pruned,
            "failed": t.failed,
            "interrupted": t.interrupted,
        },
        "objective": {"direction": row.direction, "best": row.best},
        "best_trial": None
        if best is None
        else {"number": best.number, "value": best.value, "params": best.params},
        "failures": asdict(out.failures) if out.failures.count else None,
        "validation": validation,
        "deployable": deployable,
        "deploy_command": detail.deploy_command,
    }

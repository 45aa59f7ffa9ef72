"""The deploy gate: a trial is deployed only with a passing verdict of the study's
validation, and only the trial that validation chose; `--force "reason"` deploys anyway
and says so in the `.env` header and on the MLflow runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pk8opt.errors import Pk8Error

OVERRIDE_TAG = "pk8opt.deploy_override"
EXIT_REFUSED = 3


@dataclass(frozen=True)
class GateCheck:
    name: str
    value: Any
    threshold: str
    passed: bool
    reason: str = ""  # why the figure is n/a, when it is


class DeployRefused(Pk8Error):
    """Validation did not pass for this trial; `checks` are the failing ones."""

    def __init__(self, study: str, trial: int, checks: list[GateCheck]) -> None:
        names = ", ".join(c.name for c in checks)
        super().__init__(
            f"study {study}, trial {trial}: not deployed, validation fails: {names} "
            '(see docs/validation.md; --force "reason" deploys anyway and records why)'
        )
        self.study, self.trial, self.checks = study, trial, checks


def chosen_trial(record: dict[str, Any] | None) -> int | None:
    """The trial the study's last validation chose (what `deploy --best` ships);
    `record` is the study's verdict record (`pk8opt.validation.record.load`)."""
    n = (record or {}).get("chosen_trial")
    return None if n is None else int(n)


def failing(record: dict[str, Any] | None, trial: int) -> list[GateCheck]:
    """Every reason not to deploy `trial`: the failing checks of the study's verdict
    `record`, a trial other than the chosen one, or no validation at all."""
    if not record:
        return [
            GateCheck(
                "validation",
                None,
                "a verdict (run the sweep with this version of pk8opt)",
                False,
            )
        ]
    out = [
        GateCheck(
            c["name"],
            c.get("value"),
            str(c.get("threshold")),
            bool(c.get("passed")),
            str(c.get("reason") or ""),
        )
        for c in record.get("checks") or []
        if not c.get("passed")
    ]
    chosen = record.get("chosen_trial")
    if chosen is not None and int(chosen) != trial:
        out.insert(0, GateCheck("chosen_trial", trial, f"= {chosen} (the validated trial)", False))
    return out


def header_lines(checks: list[GateCheck], reason: str) -> list[str]:
    """The `.env` header of a forced deploy: the reason and each failing figure."""
    lines = [f"FORCED past failing validation: {reason}"]
    for c in checks:
        lines.append(f"  failing: {c.name} = {_fmt(c.value)} (required {c.threshold})")
    return lines


def override_text(checks: list[GateCheck], reason: str) -> str:
    figures = "; ".join(f"{c.name}={_fmt(c.value)} (required {c.threshold})" for c in checks)
    return f"{reason} | failing: {figures}"[:5000]


def _fmt(v: Any) -> str:
    if v is None:
        return "n/a"
    return f"{v:.4g}" if isinstance(v, float) else str(v)

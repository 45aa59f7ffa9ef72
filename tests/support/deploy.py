"""A study as `pk8opt sweep` leaves it (make_study), its validation record (verdict), CREDS."""

from __future__ import annotations

from pathlib import Path

import optuna

from pk8opt.sweep.study import make_storage
from pk8opt.sweep.study_meta import read_meta, write_meta
from pk8opt.validation import record

CREDS = "# credentials\nPOLY_PRIVATE_KEY=0xabc\nexport POLY_API_SECRET='s e c'\n\nPM_TOY_EDGE=0.4\n"


def make_study(tmp: Path, name: str = "toy", legacy: bool = True, validated: bool = True) -> str:
    """A study as `pk8opt sweep` leaves it: its record in the small attrs and its verdict
    in `pk8opt.validation.record`, or (`legacy`) as older versions wrote them: the record
    in the one `pk8opt` attr, the verdict in the `validation` user attr."""
    url = str(tmp / "optuna.journal")
    study = optuna.create_study(study_name=name, storage=make_storage(url), direction="maximize")
    meta = {
        "strategy": "toy",
        "overrides": {"min_requote_s": 2.5},
        "config": {"objective": {"metric": "pnl_usdc", "direction": "maximize"}},
        "in_sample": ["s1", "s2", "s3", "s4"],
        "holdout": ["s5"],
        "in_sample_window": "w1",
        "holdout_window": "w2",
        "fingerprint": "f",
        "code_version": "v",
        "tracking_uri": f"sqlite:///{tmp / 'none.db'}",
    }
    if legacy:
        study.set_user_attr("pk8opt", meta)
    else:
        write_meta(study, read_meta({"pk8opt": meta}))
    for value in (1.0, 5.0, 2.0):
        t = study.ask({"edge": optuna.distributions.FloatDistribution(0.0, 0.1)})
        study.tell(t, value)
    if validated and legacy:
        study.set_user_attr("validation", verdict(chosen=1))
    elif validated:
        record.save(make_storage(url), name, verdict(chosen=1))
    return url


def verdict(chosen: int, failing: tuple[str, ...] = ()) -> dict:
    """A validation record as the sweep's validation stage stores it in the study."""
    checks = [
        {"name": "oos_pnl_per_window", "value": 0.8, "threshold": "> 0", "passed": True},
        {"name": "oos_t", "value": 2.4, "threshold": ">= 2", "passed": True},
        {"name": "dsr", "value": 0.97, "threshold": ">= 0.95", "passed": True},
        {"name": "pbo", "value": 0.1, "threshold": "<= 0.2", "passed": True},
    ]
    for c in checks:
        if c["name"] in failing:  # 0.5 fails each of these thresholds
            c["passed"], c["value"] = False, 0.5
    return {
        "verdict": "pass" if not failing else "fail: " + ", ".join(failing),
        "passed": not failing,
        "chosen_trial": chosen,
        "figures": {c["name"]: c["value"] for c in checks},
        "checks": checks,
        "parent_run_id": None,
    }

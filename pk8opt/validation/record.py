"""Where a study keeps the verdict of its validation: the record `deploy` trusts.

The record (verdict, chosen trial, figures, every check with its threshold and the
reason a figure could not be computed) is about 1,300 characters. As a study *user*
attr it made each `optuna studies` row and Optuna dashboard's attribute panel
thousands of characters wide, so it lives in the study's *system* attrs, written
and read through Optuna's public storage API (`BaseStorage.set_study_system_attr`,
`get_study_system_attrs`), in the same storage as the trials it judges: `deploy`
needs nothing but the study storage, on any machine that reaches it.

What a reader wants at a glance stays in two small user attrs: `pk8opt.verdict`
(`pass`, or `fail: oos_t n/a, dsr 0.122 < 0.95`: the record's `brief`) and
`pk8opt.chosen_trial`. The MLflow
parent run carries the same figures as metrics and `validation.md`.

A validation withdraws the study's record as it starts (`withdraw`) and saves its own
only once everything it records is recorded: a validation that was stopped leaves no
verdict, and `deploy` refuses the study until one completes.

Studies made by earlier pk8opt versions hold the record as the user attr
`validation`; `load` reads that when the system attr is absent.
"""

from __future__ import annotations

from typing import Any

SYSTEM_KEY = "pk8opt:validation"  # study system attr: the whole record
LEGACY_KEY = "validation"  # study user attr of earlier versions: the whole record
VERDICT_ATTR = "pk8opt.verdict"  # study user attr: the verdict line
CHOSEN_ATTR = "pk8opt.chosen_trial"  # study user attr: the trial deploy ships


def _study_id(storage: Any, study_name: str) -> int:
    return int(storage.get_study_id_from_name(study_name))


def save(storage: Any, study_name: str, record: dict[str, Any]) -> None:
    """Store `record` as the study's verdict (replacing an earlier one)."""
    sid = _study_id(storage, study_name)
    storage.set_study_system_attr(sid, SYSTEM_KEY, record)
    storage.set_study_user_attr(sid, VERDICT_ATTR, record.get("brief") or record.get("verdict"))
    storage.set_study_user_attr(sid, CHOSEN_ATTR, record.get("chosen_trial"))


def withdraw(storage: Any, study_name: str) -> None:
    """Take the study's verdict away (a new validation has started): until one is saved
    again, `load` finds none and `deploy` refuses the study."""
    sid = _study_id(storage, study_name)
    storage.set_study_system_attr(sid, SYSTEM_KEY, {})  # read as none; hides a legacy record
    storage.set_study_user_attr(sid, VERDICT_ATTR, None)
    storage.set_study_user_attr(sid, CHOSEN_ATTR, None)


def load(storage: Any, study_name: str) -> dict[str, Any] | None:
    """The study's verdict record; None when it was never validated."""
    sid = _study_id(storage, study_name)
    record = storage.get_study_system_attrs(sid).get(SYSTEM_KEY)
    if record is None:  # a study of an earlier version
        record = storage.get_study_user_attrs(sid).get(LEGACY_KEY)
    return dict(record) if record else None

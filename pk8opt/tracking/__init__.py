"""MLflow tracking: the only package that imports mlflow.

One parent run per sweep (tag `pk8opt.role=sweep`), one child run per trial (tag
`mlflow.parentRunId`, `pk8opt.trial`). Only the sweep's main process writes here; the
worker processes never touch the store. The default store is a sqlite file under
`experiments/`, with artifacts beside it.
"""

from pk8opt.tracking._rows import RUN_ID_ATTR, ChildRun
from pk8opt.tracking._tracker import (
    DESCRIPTION,
    PARENT,
    ROLE,
    STORAGE,
    STUDY,
    TRIAL,
    Tracker,
    TrialRecord,
    artifact_root_for,
    find_trial_run,
    is_server,
    open_run_tags,
    param_text,
    runs_view_url,
    store_uri,
    tag_runs,
    ui_command,
)

__all__ = [
    "DESCRIPTION",
    "PARENT",
    "ROLE",
    "RUN_ID_ATTR",
    "STORAGE",
    "STUDY",
    "TRIAL",
    "ChildRun",
    "Tracker",
    "TrialRecord",
    "artifact_root_for",
    "find_trial_run",
    "is_server",
    "open_run_tags",
    "param_text",
    "runs_view_url",
    "store_uri",
    "tag_runs",
    "ui_command",
]

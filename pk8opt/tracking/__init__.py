"""MLflow tracking: the only package that imports mlflow.

One parent run per sweep (tag `pk8opt.role=sweep`), one child run per trial (tag
`mlflow.parentRunId`, `pk8opt.trial`). Only the sweep's main process writes runs; on an
MLflow server a worker process opens each trial's run as the trial starts (the server
picks run ids; see `open_trial_run`), which the main process fills when it finishes. The default store is a sqlite file under
`experiments/`, with artifacts beside it. `pk8opt calibrate` logs one run per calibration
in the experiment `pk8opt-calibrate` (`log_calibration`).
"""

from pk8opt.sweep.shared_study import RUN_ID_ATTR
from pk8opt.tracking._rows import ChildRun, MintedRunIds
from pk8opt.tracking._tracker import (
    DESCRIPTION,
    PARENT,
    PNL_CURVE,
    ROLE,
    STORAGE,
    STUDY,
    TRIAL,
    OpenTrialRuns,
    Tracker,
    TrialRecord,
    artifact_root_for,
    find_trial_run,
    is_server,
    open_run_tags,
    open_trial_run,
    param_text,
    runs_view_url,
    store_uri,
    sweep_parent_runs,
    tag_runs,
    ui_command,
    ui_environment,
)
from pk8opt.tracking.calibration import CALIBRATE_EXPERIMENT, log_calibration
from pk8opt.tracking.uri import check_store, store_problem

__all__ = [
    "CALIBRATE_EXPERIMENT",
    "DESCRIPTION",
    "PARENT",
    "PNL_CURVE",
    "ROLE",
    "RUN_ID_ATTR",
    "STORAGE",
    "STUDY",
    "TRIAL",
    "ChildRun",
    "MintedRunIds",
    "OpenTrialRuns",
    "Tracker",
    "TrialRecord",
    "artifact_root_for",
    "check_store",
    "find_trial_run",
    "is_server",
    "log_calibration",
    "open_run_tags",
    "open_trial_run",
    "param_text",
    "runs_view_url",
    "store_problem",
    "store_uri",
    "sweep_parent_runs",
    "tag_runs",
    "ui_command",
    "ui_environment",
]

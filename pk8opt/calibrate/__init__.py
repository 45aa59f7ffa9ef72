"""`pk8opt calibrate`: fit the paper engine's fill parameters to a real run's fills.

A run's orders (`reallog`: its `real_*` events, or the minimal format of another
program) are replayed open loop (`pk8opt.backtest.openloop`) on the frames it traded on,
under engine parameters that Optuna searches (`space`, `fit`) to predict, order by
order, whether and when each filled (`score`); the fit is measured on held-out windows
against the defaults, with bootstrap intervals and a check of which parameters the data
identify (`uncertainty`), and written as a report, a `.env` block, a sweep config's
`engine:` block and an MLflow run (`report`, `plots`, `outputs`). docs/calibrate.md.
"""

from pk8opt.calibrate.reallog import RealLog, RealOrder, RealWindow, read_real_log
from pk8opt.calibrate.report import CalibrationReport, summary_lines
from pk8opt.calibrate.run import Options, calibrate
from pk8opt.calibrate.score import ScoreRule, order_loss, score

__all__ = [
    "CalibrationReport",
    "Options",
    "RealLog",
    "RealOrder",
    "RealWindow",
    "ScoreRule",
    "calibrate",
    "order_loss",
    "read_real_log",
    "score",
    "summary_lines",
]

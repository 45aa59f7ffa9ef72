"""What `pk8opt calibrate` writes: the report's files in `--out`, and an MLflow run in
the experiment `pk8opt-calibrate` with the fitted values as params, the scores as
metrics and the files as artifacts.

    calibration.json   the report (`CalibrationReport.to_dict`, also `--json`)
    calibration.env    the PM_PAPER_* block for a .env
    engine.yaml        the `calibration:` and `engine:` block for a sweep config
    orders.csv         every order of every window: the venue's outcome, each engine's
    reliability.png, time_to_fill.png, pnl_per_window.png   (`plots`)
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

from pk8opt.calibrate.evaluate import OrderRow
from pk8opt.calibrate.plots import write_plots
from pk8opt.calibrate.report import CalibrationReport, engine_block, env_block
from pk8opt.tracking import CALIBRATE_EXPERIMENT, log_calibration

FILES = ("calibration.json", "calibration.env", "engine.yaml", "orders.csv")


def write_outputs(
    report: CalibrationReport, out: Path, tracking_uri: str | None, say: Callable[[str], None]
) -> None:
    """Every file into `out` (created), then the MLflow run (none without a URI)."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / name for name in FILES]
    paths[1].write_text(env_block(report), encoding="utf-8")
    paths[2].write_text(engine_block(report), encoding="utf-8")
    _write_rows(report, paths[3])
    paths += write_plots(report, out)
    report.outputs = {p.name: str(p) for p in paths}
    paths[0].write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    if tracking_uri is None:
        return
    report.run_id = log_calibration(
        tracking_uri,
        run_name=f"calibrate {Path(report.log).parent.name or report.log}",
        params=_params(report),
        metrics=_metrics(report),
        tags={"pk8opt.log": report.log, "pk8opt.recording": ", ".join(report.recordings)},
        artifacts=paths,
        description=report.provenance(),
    )
    paths[0].write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    say(f"MLflow run {report.run_id} in experiment {CALIBRATE_EXPERIMENT} ({tracking_uri})")


def _write_rows(report: CalibrationReport, path: Path) -> None:
    names = [f.name for f in fields(OrderRow)]
    cal, dflt = report.rows
    held = {w.start_s: w.fitted for w in report.windows}
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["set", *names, "defaults_fraction", "defaults_ttf_s", "defaults_ahead"])
        for c, d in zip(cal, dflt, strict=True):
            kind = "fit" if held[c.window_start_s] else "holdout"
            w.writerow(
                [kind, *(getattr(c, n) for n in names), d.paper_fraction, d.paper_ttf_s, d.ahead]
            )


def _params(report: CalibrationReport) -> dict[str, Any]:
    out: dict[str, Any] = {e["name"]: e["value"] for e in report.env_entries()}
    out.update({f"base.{k}": v for k, v in report.base.items()})
    out.update(
        {
            "time_cap_s": report.rule.time_cap_s,
            "time_weight": report.rule.time_weight,
            "trials": report.trials,
            "holdout_windows": report.n_holdout,
            "fit_windows": len(report.windows) - report.n_holdout,
        }
    )
    return out


def _metrics(report: CalibrationReport) -> dict[str, float]:
    c, d = report.calibrated, report.defaults
    out = {
        "holdout_score": c.score,
        "holdout_score_defaults": d.score,
        "fit_score": report.fit_score[0],
        "fit_score_defaults": report.fit_score[1],
        "holdout_orders": float(c.orders),
        "holdout_real_filled": float(c.real_filled),
        "holdout_filled": float(c.paper_filled),
        "holdout_filled_defaults": float(d.paper_filled),
        "holdout_real_pnl": c.real_pnl,
        "holdout_pnl": c.paper_pnl,
        "holdout_pnl_defaults": d.paper_pnl,
    }
    for e in report.env_entries():
        if e["low"] is not None:
            out[f"interval_low.{e['name']}"] = e["low"]
            out[f"interval_high.{e['name']}"] = e["high"]
    return {k: float(v) for k, v in out.items() if v is not None and math.isfinite(float(v))}

"""The end of a sweep: holdout runs of the top trials and the parent run's summary.

The top-k completed trials are re-run on the holdout sessions (out of sample) in the
worker processes; their `holdout_*` metrics go to their child runs and into the study
(`holdout` user attribute, read by `deploy`). The best trial is re-run on the in-sample
sessions once more to draw its equity curve and list its per-session results.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console

from pk8opt.sweep.charts import holdout_plot, study_plots
from pk8opt.sweep.config import SweepConfig
from pk8opt.sweep.data import Selection
from pk8opt.sweep.worker import run_report


def top_trials(study: Any, k: int) -> list[Any]:
    """Best first: by the objective, or the Pareto front then the rest by the first one."""
    done = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if not done:
        return []
    sign = -1 if study.directions[0].name == "MAXIMIZE" else 1
    if len(study.directions) > 1:
        front = {t.number for t in study.best_trials}
        done.sort(key=lambda t: (t.number not in front, sign * t.values[0]))
    else:
        done.sort(key=lambda t: sign * t.values[0])
    return done[:k]


def best_on_holdout(study: Any) -> Any | None:
    """The trial with the best out-of-sample first objective among those a sweep of the
    study re-ran on the holdout (its top in-sample trials); None when there are none.
    What `deploy --by holdout` deploys, and what the sweep's closing lines suggest."""
    meta = study.user_attrs.get("pk8opt") or {}
    objective = (meta.get("config") or {}).get("objective") or {}
    metric = (objective[0] if isinstance(objective, list) else objective).get("metric", "")
    holdout = study.user_attrs.get("holdout") or {}
    scored = [
        (t, holdout[str(t.number)][metric])
        for t in study.get_trials(deepcopy=False)
        if t.state.name == "COMPLETE" and metric in holdout.get(str(t.number), {})
    ]
    if not scored:
        return None
    sign = -1.0 if study.directions[0].name == "MINIMIZE" else 1.0
    return max(scored, key=lambda tv: (sign * tv[1], -tv[0].number))[0]


def _short(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else format(v, ".6g")


def _columns(metric: str, per_session: bool) -> list[str]:
    if per_session:
        return [
            "trial",
            f"in-sample {metric}",
            "per session",
            f"holdout {metric}",
            "per session",
            "params",
        ]
    return ["trial", f"in-sample {metric}", f"holdout {metric}", "params"]


def _cells(r: dict[str, Any], per_session: bool) -> list[str]:
    params = ", ".join(f"{k}={_short(v)}" for k, v in r["params"].items())
    if per_session:
        return [
            str(r["trial"]),
            _fmt(r["in_sample"]),
            _fmt(r["in_sample_cmp"]),
            _fmt(r["holdout"]),
            _fmt(r["holdout_cmp"]),
            params,
        ]
    return [str(r["trial"]), _fmt(r["in_sample"]), _fmt(r["holdout"]), params]


def _table(rows: list[dict[str, Any]], metric: str, per_session: bool) -> str:
    cols = _columns(metric, per_session)
    head = f"| {' | '.join(cols)} |\n|{'---|' * len(cols)}\n"
    return head + "".join(f"| {' | '.join(_cells(r, per_session))} |\n" for r in rows)


def _rich_table(rows: list[dict[str, Any]], metric: str, per_session: bool) -> Any:
    """The same comparison for a terminal: the figures in a table, each trial's
    parameters on a line of their own below it (they do not fit in a column)."""
    from rich.console import Group
    from rich.padding import Padding
    from rich.table import Table
    from rich.text import Text

    table = Table(
        title="top trials, in-sample vs holdout",
        title_justify="left",
        box=None,
        header_style="bold underline",
    )
    for c in _columns(metric, per_session)[:-1]:
        table.add_column(c, justify="right")
    lines = []
    for r in rows:
        cells = _cells(r, per_session)
        table.add_row(*cells[:-1])
        lines.append(Padding(Text(f"#{r['trial']}: {cells[-1]}"), (0, 0, 0, 2)))
    return Group(table, *lines)


def _rows(
    top: list[Any], holdout: dict[int, dict[str, float]], metric: str, n_in: int, n_out: int
) -> tuple[list[dict[str, Any]], bool]:
    """One row per top trial; a metric summed over sessions (P&L, fills) is also given
    per session, since in-sample and holdout hold different numbers of sessions."""
    from pk8opt.metrics import is_summed

    per_session = is_summed(metric)

    def cmp(v: float | None, n: int) -> float | None:
        if v is None or not per_session:
            return v
        return v / n if n else None

    rows = []
    for t in top:
        out = holdout.get(t.number, {}).get(metric)
        rows.append(
            {
                "trial": t.number,
                "in_sample": t.values[0],
                "in_sample_cmp": cmp(t.values[0], n_in),
                "holdout": out,
                "holdout_cmp": cmp(out, n_out),
                "params": t.params,
            }
        )
    return rows, per_session


def finish(
    study: Any,
    cfg: SweepConfig,
    sel: Selection,
    tracker: Any,
    parent: str,
    logged: dict[int, str],
    executor: Any,
    evaluator: str | None,
    experiments_dir: Path,
    console: Console,
) -> int | None:
    """Re-run the top trials on the holdout, log the summary; the number of the top
    trial that did best on the holdout (None without holdout results)."""
    metric = cfg.objectives[0].metric
    top = top_trials(study, max(1, cfg.data.holdout.top_k))
    if not top:
        console.print("no trial completed; nothing to summarize")
        return None
    best = top[0]
    holdout_paths = [str(p) for p in sel.holdout]
    in_paths = [str(p) for p in sel.in_sample]
    with tempfile.TemporaryDirectory(dir=experiments_dir, prefix=".report-") as tmp:
        out = Path(tmp)
        report = executor.submit(
            run_report,
            evaluator,
            cfg.strategy,
            in_paths,
            {**cfg.overrides, **best.params},
            str(out),
        )
        runs = {}
        if holdout_paths and cfg.data.holdout.top_k > 0:
            console.print(
                f"re-running the top {len(top)} trial(s) on {len(holdout_paths)} holdout sessions"
            )
            for t in top[: cfg.data.holdout.top_k]:
                runs[t.number] = executor.submit(
                    run_report,
                    evaluator,
                    cfg.strategy,
                    holdout_paths,
                    {**cfg.overrides, **t.params},
                    None,
                )
        # A trial that fails out of sample is reported and tagged; the sweep still ends
        # with its summary.
        holdout: dict[int, dict[str, float]] = {}
        for n, future in runs.items():
            run_id = logged.get(n) or tracker.trial_run_id(cfg.study, n)  # another process's
            try:
                holdout[n] = future.result()
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                console.print(f"[yellow]warning[/yellow] trial {n} failed on the holdout: {error}")
                if run_id:
                    tracker.log_summary(run_id, {}, tags={"pk8opt.holdout_error": error[:5000]})
                continue
            if run_id:
                metrics = {f"holdout_{k}": v for k, v in holdout[n].items()}
                tracker.log_metrics(run_id, metrics)
        try:
            report.result()
        except Exception as exc:
            console.print(
                f"[yellow]warning[/yellow] the best trial's report (equity curve, sessions) "
                f"failed: {type(exc).__name__}: {exc}"
            )
        stored = dict(study.user_attrs.get("holdout") or {})
        stored.update({str(n): m for n, m in holdout.items()})
        study.set_user_attr("holdout", stored)
        rows, per_session = _rows(top, holdout, metric, len(sel.in_sample), len(sel.holdout))
        label = f"{metric} per session" if per_session else metric
        best_run = logged.get(best.number) or tracker.trial_run_id(cfg.study, best.number)
        files = [p for p in out.iterdir() if p.is_file()]
        files += study_plots(study, out) + holdout_plot(rows, label, out)
        summary = {
            "best_trial": best.number,
            "best_run_id": best_run,
            "values": best.values,
            "params": best.params,
            "metrics": best.user_attrs.get("metrics"),
            "holdout": holdout.get(best.number),
        }
        best_metrics = {f"best_{k}": v for k, v in (best.user_attrs.get("metrics") or {}).items()}
        if best.number in holdout:
            best_metrics.update({f"best_holdout_{k}": v for k, v in holdout[best.number].items()})
        tracker.log_summary(
            parent,
            metrics=best_metrics,
            tags={
                "pk8opt.best_trial": str(best.number),
                "pk8opt.best_run_id": str(best_run),
            },
            files=files,
            texts={
                "best_trial.json": json.dumps(summary, indent=2, default=str),
                "holdout_comparison.md": _table(rows, metric, per_session),
            },
        )
    console.print(_rich_table(rows, metric, per_session))
    chosen = best_on_holdout(study)
    return None if chosen is None else int(chosen.number)

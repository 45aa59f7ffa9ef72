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


def _plots(study: Any, out: Path) -> list[Path]:
    """Optimization history and parameter importances (best effort: few trials may not
    allow importances)."""
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    warnings.filterwarnings("ignore", category=optuna_warning())
    import matplotlib.pyplot as plt
    import optuna

    files: list[Path] = []
    target = (lambda t: t.values[0]) if len(study.directions) > 1 else None
    try:
        ax = optuna.visualization.matplotlib.plot_optimization_history(study, target=target)
        path = out / "optimization_history.png"
        fig = ax.get_figure(root=True)
        assert fig is not None
        fig.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(fig)
        files.append(path)
    except Exception:  # noqa: S110 - a plot is optional
        pass
    try:
        imp = optuna.importance.get_param_importances(study, target=target)
        path = out / "param_importances.json"
        path.write_text(json.dumps(imp, indent=2))
        files.append(path)
        fig, ax = plt.subplots(figsize=(6, 0.4 * len(imp) + 1))
        names = list(imp)[::-1]
        ax.barh(names, [imp[n] for n in names])
        ax.set_xlabel("importance (fANOVA)")
        path = out / "param_importances.png"
        fig.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(fig)
        files.append(path)
    except Exception:  # noqa: S110
        pass
    return files


def optuna_warning() -> type[Warning]:
    from optuna.exceptions import ExperimentalWarning

    return ExperimentalWarning


def _short(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _table(rows: list[dict[str, Any]], metric: str) -> str:
    head = f"| trial | in-sample {metric} | holdout {metric} | params |\n|---|---|---|---|\n"
    body = "".join(
        f"| {r['trial']} | {r['in_sample']:.6g} | "
        f"{r['holdout'] if r['holdout'] is None else format(r['holdout'], '.6g')} | "
        f"{', '.join(f'{k}={_short(v)}' for k, v in r['params'].items())} |\n"
        for r in rows
    )
    return head + body


def _rich_table(rows: list[dict[str, Any]], metric: str) -> Any:
    """The same comparison for a terminal: one row per trial, parameters below."""
    from rich.table import Table

    table = Table(
        title="top trials, in-sample vs holdout",
        title_justify="left",
        box=None,
        header_style="bold underline",
    )
    table.add_column("trial", justify="right")
    table.add_column(f"in-sample {metric}", justify="right")
    table.add_column(f"holdout {metric}", justify="right")
    table.add_column("params", overflow="fold")
    for r in rows:
        holdout = "n/a" if r["holdout"] is None else format(r["holdout"], ".6g")
        params = ", ".join(f"{k}={_short(v)}" for k, v in r["params"].items())
        table.add_row(str(r["trial"]), format(r["in_sample"], ".6g"), holdout, params)
    return table


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
) -> None:
    metric = cfg.objectives[0].metric
    top = top_trials(study, max(1, cfg.data.holdout.top_k))
    if not top:
        console.print("no trial completed; nothing to summarize")
        return
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
        holdout = {n: f.result() for n, f in runs.items()}
        report.result()
        for n, metrics in holdout.items():
            if n in logged:
                tracker.log_metrics(logged[n], {f"holdout_{k}": v for k, v in metrics.items()})
        stored = dict(study.user_attrs.get("holdout") or {})
        stored.update({str(n): m for n, m in holdout.items()})
        study.set_user_attr("holdout", stored)
        rows = [
            {
                "trial": t.number,
                "in_sample": t.values[0],
                "holdout": holdout.get(t.number, {}).get(metric),
                "params": t.params,
            }
            for t in top
        ]
        files = [p for p in out.iterdir() if p.is_file()] + _plots(study, out)
        summary = {
            "best_trial": best.number,
            "best_run_id": logged.get(best.number),
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
                "pk8opt.best_run_id": str(logged.get(best.number)),
            },
            files=files,
            texts={
                "best_trial.json": json.dumps(summary, indent=2, default=str),
                "holdout_comparison.md": _table(rows, metric),
            },
        )
    console.print(_rich_table(rows, metric))

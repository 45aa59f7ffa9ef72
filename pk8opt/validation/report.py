"""What the validation stage shows: the verdict table (terminal and markdown), the
trials x windows matrix as CSV, the plots, and the parent run's metrics and tags."""

from __future__ import annotations

import csv
import io
import json
import math
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from pk8opt.sweep.charts import _pyplot, _save, study_plots
from pk8opt.sweep.worker import run_report

VERDICT_TAG = "pk8opt.verdict"
# a time on a plot's axis: date, hour and zone
TIME_FORMAT = "%Y-%m-%d %H:%M UTC"
# The figures as they appear on the parent run (metrics) and in the tables.
FIGURES = (
    ("oos_pnl_per_window", "walk-forward P&L per window (USDC)"),
    ("oos_t", "walk-forward t-statistic"),
    ("dsr", "deflated Sharpe ratio"),
    ("psr", "probabilistic Sharpe ratio (vs 0)"),
    ("prob_oos_loss", "probability of out-of-sample loss (PBO's splits)"),
    ("pbo", "probability of backtest overfitting (trial rows)"),
    ("lockbox_pnl_per_window", "lockbox P&L per window (USDC)"),
    ("active_windows", "windows with fills (chosen trial)"),
    ("n_trials", "trials tried"),
)


def fmt(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return "n/a" if not math.isfinite(v) else f"{v:.4g}"
    return str(v)


def check_rows(checks: list[Any]) -> list[tuple[str, str, str, str]]:
    """(check, value, required, result) for each check of a verdict."""
    return [
        (c.name, fmt(c.value), str(c.threshold), "pass" if c.passed else "FAIL") for c in checks
    ]


def reason_lines(checks: list[Any]) -> list[str]:
    """'oos_pnl_per_window, oos_t n/a: <why>': one line per reason a check's figure is n/a."""
    out: list[tuple[list[str], str]] = []
    for c in checks:
        reason = getattr(c, "reason", "")
        if not reason:
            continue
        if out and out[-1][1] == reason:
            out[-1][0].append(c.name)
        else:
            out.append(([c.name], reason))
    return [f"{', '.join(names)} n/a: {reason}" for names, reason in out]


def check_table(checks: list[Any], title: str) -> Any:
    """A rich table of checks (the sweep's end, deploy's refusal), why a figure is n/a
    under it."""
    table = Table(title=title, title_justify="left", box=None, header_style="bold underline")
    for col in ("check", "value", "required", "result"):
        table.add_column(col, justify="left" if col == "check" else "right")
    for name, value, required, result in check_rows(checks):
        style = "green" if result == "pass" else "red"
        table.add_row(name, value, required, f"[{style}]{result}[/{style}]")
    return Group(table, *(Text(f"  {line}", style="yellow") for line in reason_lines(checks)))


def matrix_csv(rows: list[Any], window_starts: list[int]) -> str:
    """First column the trial (or `defaults` / `not_trading`), one column per window
    start (UTC, time order), values the P&L in USDC."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["trial", *(_iso(s) for s in window_starts)])
    for r in rows:
        w.writerow([r.label, *(f"{x:.6f}" for x in r.pnl)])
    return buf.getvalue()


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _count(n: int, noun: str) -> str:
    """`1 window`, `4 windows`."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def markdown(v: Any, metric: str) -> str:
    f = vars(v.figures)
    why = reason_lines(v.verdict.checks)  # under the table: why a figure is n/a
    lines = [
        f"# Validation: {'pass' if v.verdict.passed else 'fail'}",
        "",
        *([] if v.verdict.passed else [f"Verdict: {v.verdict.tag()}", ""]),
        f"Chosen: trial {v.chosen.label} "
        f"({', '.join(f'{k}={fmt(x)}' for k, x in v.chosen.params.items())})",
        "",
        "| check | value | required | result |",
        "|---|---|---|---|",
        *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in check_rows(v.verdict.checks)),
        "",
        *(f"- {line}" for line in why),
        *([""] if why else []),
        "| figure | value |",
        "|---|---|",
        *(f"| {label} (`{key}`) | {fmt(f.get(key))} |" for key, label in FIGURES),
        "",
        *sets_lines(v),
        "",
        f"## Candidates ({_count(len(v.window_starts), 'in-sample window')}, ranked by {metric})",
        "",
        "| trial | mean P&L per window | windows with fills | robustness (lower quartile) |",
        "|---|---|---|---|",
    ]
    for r in v.rows:
        lines.append(f"| {r.label} | {fmt(r.mean)} | {r.active()} | {fmt(v.robust.get(r.label))} |")
    if v.walk is not None:
        chosen = [v.rows[i].label for i in v.walk.chosen]
        lines += [
            "",
            f"Walk-forward: {len(v.walk.folds)} folds, chosen per fold: {', '.join(chosen)}.",
        ]
        for i, series in (v.walk.baseline_oos or {}).items():
            mean = sum(series) / len(series) if len(series) else math.nan
            lines.append(f"- {v.rows[i].label} on the same test windows: {fmt(mean)} per window")
    if v.lockbox is not None:
        lines += [
            "",
            f"Lockbox: {_count(len(v.lockbox), 'window')}, P&L per window {', '.join(fmt(x) for x in v.lockbox)}.",
        ]
    if v.lockbox_seen_before:
        seen = ", ".join(str(n) for n in v.lockbox_seen_before)
        lines += [
            "",
            f"Note: an earlier validation of this study already played the lockbox (trial {seen}); "
            "it is no longer untouched. Start a new study on new data for a clean lockbox.",
        ]
    lines += ["", f"{v.replays} replays, {v.seconds:.1f} s.", ""]
    return "\n".join(lines)


def sets_lines(v: Any) -> list[str]:
    """What each figure is computed on: N, V, the matrix, the baselines beside it."""
    t = len(v.window_starts)
    tried = v.tried or {}
    trials = [r for r in v.rows if r.trial is not None]
    rerun = ", ".join(str(n) for n in v.rerun) or "none"
    lines = [
        "## What the figures are computed on",
        "",
        f"- **N = {v.figures.n_trials}** (deflated Sharpe ratio): every trial the search tried "
        f"({tried.get('COMPLETE', 0)} complete, {tried.get('PRUNED', 0)} pruned, "
        f"{tried.get('FAIL', 0)} failed); each was a chance to find a lucky maximum.",
        f"- **V = 1/(T-1) = 1/{max(t - 1, 0)}**: the variance of a Sharpe ratio estimated on "
        f"T = {t} windows when its true value is 0 (Lo 2002), the null the DSR tests against; "
        "not the spread of the candidates, which on a market with an edge is the edge.",
        f"- **The matrix** (PBO, probability of loss, walk-forward, the choice): {len(trials)} "
        "trial rows, the top candidates by in-sample score and every other completed trial; "
        f"pruned trials re-run on every window: {rerun}. Deploy chooses among these rows.",
        "- **Walk-forward** applies the deploy rule on each fold's train windows: the most "
        "robust (neighbourhood lower quartile) of the best rows by mean.",
    ]
    if v.pbo is not None:
        beside = [r.label for r in v.rows if r.trial is None]
        cmp = ", ".join(
            f"{label} in {v.pbo.beats(i):.0%}"
            for i, label in enumerate(beside)
            if math.isfinite(v.pbo.beats(i))
        )
        lines.append(
            f"- **Beside the matrix, not ranked in it**: out of sample, PBO's train-best trial "
            f"earned more than {cmp} of the {v.pbo.n_splits} splits."
        )
    return lines


def plots(v: Any, out: Path) -> list[Path]:
    """is_vs_oos.png, pbo_logits.png, walk_forward_equity.png (best effort)."""
    files: list[Path] = []
    for name, draw in (
        ("is_vs_oos.png", is_vs_oos_figure),
        ("walk_forward_equity.png", walk_forward_figure),
        ("pbo_logits.png", pbo_figure),
    ):
        try:
            fig = draw(v)
        except Exception:  # noqa: S112 - a plot is optional
            continue
        if fig is not None:
            _save(fig, out / name, files)
    return files


def is_vs_oos_figure(v: Any) -> Any | None:
    """Each candidate's train-fold vs test-fold P&L per window, the fold's choice in red."""
    if v.walk is None or not v.walk.folds:
        return None
    m = np.array([r.pnl for r in v.rows])
    fig, ax = _pyplot().subplots(figsize=(5, 4))
    for fold, c in zip(v.walk.folds, v.walk.chosen, strict=False):
        tr, te = list(fold.train), list(fold.test)
        ax.scatter(m[:-2, tr].mean(axis=1), m[:-2, te].mean(axis=1), s=12, alpha=0.5, color="grey")
        ax.scatter([m[c, tr].mean()], [m[c, te].mean()], s=40, color="red")
    ax.axhline(0, color="black", lw=0.6)
    ax.axvline(0, color="black", lw=0.6)
    ax.set_xlabel("in-sample (train fold) P&L per window")
    ax.set_ylabel("out-of-sample (test fold) P&L per window")
    ax.set_title("candidates per walk-forward fold (red: chosen)")
    return fig


def walk_forward_figure(v: Any) -> Any | None:
    """The walk-forward choice's cumulative P&L against the baselines, over the test
    windows' start times (date, hour and zone on the axis)."""
    if v.walk is None or not v.walk.folds:
        return None
    from matplotlib.dates import AutoDateLocator, DateFormatter

    starts: list[Any] = [
        datetime.fromtimestamp(v.window_starts[int(i)], UTC) for i in v.walk.windows
    ]
    fig, ax = _pyplot().subplots(figsize=(6, 3.5))
    if len(starts) != len(v.walk.oos):  # no start times to draw against: the window order
        starts = list(range(len(v.walk.oos)))
    ax.plot(starts, np.cumsum(v.walk.oos), label="walk-forward choice", color="C0", marker=".")
    for i, series in (v.walk.baseline_oos or {}).items():
        ax.plot(starts, np.cumsum(series), label=v.rows[i].label, lw=1)
    if starts and isinstance(starts[0], datetime):
        ax.xaxis.set_major_locator(AutoDateLocator(tz=UTC, maxticks=6))
        ax.xaxis.set_major_formatter(DateFormatter(TIME_FORMAT, tz=UTC))
        fig.autofmt_xdate()
        ax.set_xlabel("test window start")
    else:
        ax.set_xlabel("test window (time order)")
    ax.set_ylabel("cumulative P&L (USDC)")
    ax.legend()
    ax.grid(alpha=0.3)
    return fig


def pbo_figure(v: Any) -> Any | None:
    """The histogram of PBO's logits: splits (whole counts) per logit bin."""
    if v.pbo is None or not len(v.pbo.logits):
        return None
    from matplotlib.ticker import MaxNLocator

    fig, ax = _pyplot().subplots(figsize=(5, 3.5))
    ax.hist(v.pbo.logits, bins=min(20, max(5, len(v.pbo.logits) // 3)))
    ax.axvline(0, color="red", lw=1)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("logit of the train-best trial's test rank")
    ax.set_ylabel("splits")
    ax.set_title(f"PBO = {v.pbo.pbo:.2f} (share of splits left of 0)")
    return fig


def publish(
    v: Any,
    study: Any,
    cfg: Any,
    sel: Any,
    tracker: Any,
    parent: str,
    replays: Any,
    experiments_dir: Path,
    console: Console,
    before_log: Callable[[], None] = lambda: None,
) -> None:
    """Artifacts and metrics on the parent run, the chosen trial's report, the table;
    `before_log` is called once the report is made, before anything is logged."""
    f = vars(v.figures)
    chosen_run = (
        tracker.trial_run_id(cfg.study, v.chosen.trial) if v.chosen.trial is not None else None
    )
    with tempfile.TemporaryDirectory(dir=experiments_dir, prefix=".report-") as tmp:
        out = Path(tmp)
        files = plots(v, out)
        files += study_plots(study, out)
        try:
            replays.executor.submit(
                run_report,
                replays.evaluator,
                cfg.strategy,
                [str(p) for p in sel.in_sample],
                {**cfg.overrides, **v.chosen.params},
                str(out),
            ).result()
            files += [
                p for p in (out / "best_equity.png", out / "best_sessions.json") if p.exists()
            ]
        except Exception as exc:
            console.print(
                f"[yellow]warning[/yellow] the chosen trial's report (equity curve, sessions) "
                f"failed: {type(exc).__name__}: {exc}"
            )
        summary = {
            "chosen_trial": v.chosen.trial,
            "chosen_run_id": chosen_run,
            "params": v.chosen.params,
            "verdict": v.verdict.tag(),
            "figures": {
                k: (x if not isinstance(x, float) or math.isfinite(x) else None)
                for k, x in f.items()
            },
        }
        before_log()
        metrics = {k: x for k, x in f.items() if isinstance(x, int | float) and x is not None}
        metrics["validation_s"] = v.seconds
        metrics["validation_replays"] = float(v.replays)
        tracker.log_summary(
            parent,
            metrics=metrics,
            tags={
                VERDICT_TAG: v.verdict.tag()[:5000],
                "pk8opt.chosen_trial": str(v.chosen.trial),
                "pk8opt.best_trial": str(v.chosen.trial),
                "pk8opt.best_run_id": str(chosen_run),
            },
            files=files,
            texts={
                "trials_x_windows.csv": matrix_csv(v.rows, v.window_starts),
                "validation.md": markdown(v, cfg.objectives[0].metric),
                "best_trial.json": json.dumps(summary, indent=2, default=str),
            },
        )
    print_verdict(v, console)


def print_verdict(v: Any, console: Console) -> None:
    params = ", ".join(f"{k}={fmt(x)}" for k, x in v.chosen.params.items())
    console.print(check_table(v.verdict.checks, f"validation of trial {v.chosen.label}"))
    console.print(Text(f"  trial {v.chosen.label}: {params}"))
    style = "bold green" if v.verdict.passed else "bold red"
    console.print(Text(f"verdict: {v.verdict.tag()}", style=style))

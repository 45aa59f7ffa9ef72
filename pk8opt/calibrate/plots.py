"""The report's plots (matplotlib, Agg backend: no display needed), on the held-out
windows unless said otherwise:

- `reliability.png`: for each bucket of queue position (shares ahead of the order when
  it rested, under the calibrated engine; marketable orders and orders that never
  rested apart), the share the engine filled against the share the venue filled, for
  the calibrated engine and the defaults; on the diagonal the prediction is right.
- `time_to_fill.png`: each order both sides filled, the venue's time to first fill
  against the engine's (post to fill, heard), log scales.
- `pnl_per_window.png`: every window's P&L, the run's against each engine's (the
  held-out windows shaded).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pk8opt.calibrate.evaluate import OrderRow
from pk8opt.calibrate.report import CalibrationReport

# shares ahead: upper bounds of the buckets (the last is open)
QUEUE_EDGES = (0.0, 10.0, 100.0, 1000.0)
NAMES = ("reliability.png", "time_to_fill.png", "pnl_per_window.png")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def queue_bucket(row: OrderRow) -> str:
    """The row's queue-position bucket (under the engine that replayed it)."""
    if row.rejected:
        return "rejected"
    if row.marketable:
        return "marketable"
    if row.ahead is None:
        return "never rested"
    low = None
    for edge in QUEUE_EDGES:
        if row.ahead <= edge:
            return f"{low:g}-{edge:g}" if low is not None else f"{edge:g}"
        low = edge
    return f">{QUEUE_EDGES[-1]:g}"


def reliability(rows: Sequence[OrderRow]) -> list[tuple[str, int, float, float]]:
    """(bucket, orders, engine's mean filled share, venue's mean filled share)."""
    groups: dict[str, list[OrderRow]] = {}
    for r in rows:
        groups.setdefault(queue_bucket(r), []).append(r)
    out = []
    for name, rs in groups.items():
        n = len(rs)
        out.append(
            (name, n, sum(r.paper_fraction for r in rs) / n, sum(r.real_fraction for r in rs) / n)
        )
    return sorted(out, key=lambda b: _bucket_order(b[0]))


def _bucket_order(name: str) -> tuple[int, float]:
    fixed = {"marketable": -3, "never rested": 90, "rejected": 91}
    if name in fixed:
        return fixed[name], 0.0
    head = name.lstrip(">").split("-")[0]
    return (1 if name.startswith(">") else 0), float(head)


def plot_reliability(report: CalibrationReport, path: Path) -> Path:
    plt = _pyplot()
    held = _held(report)
    fig, ax = plt.subplots(figsize=(6.5, 6))
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="perfect")
    for rows, label, color in (
        (held[0], "calibrated", "tab:blue"),
        (held[1], "defaults", "tab:orange"),
    ):
        pts = reliability(rows)
        if not pts:
            continue
        ax.scatter(
            [p[2] for p in pts],
            [p[3] for p in pts],
            s=[20 + 4 * p[1] ** 0.5 for p in pts],
            color=color,
            alpha=0.7,
            label=label,
        )
        for name, n, x, y in pts:
            ax.annotate(
                f"{name} ({n})",
                (x, y),
                fontsize=7,
                color=color,
                xytext=(4, 4),
                textcoords="offset points",
            )
    ax.set_xlim(-0.03, 1.03)
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("engine's filled share (mean)")
    ax.set_ylabel("venue's filled share (mean)")
    ax.set_title("Fill reliability by queue position (shares ahead), held-out windows")
    ax.legend(loc="upper left", fontsize=8)
    return _save(fig, plt, path)


def plot_time_to_fill(report: CalibrationReport, path: Path) -> Path:
    plt = _pyplot()
    held = _held(report)
    fig, ax = plt.subplots(figsize=(6.5, 6))
    lo, hi = math.inf, -math.inf
    for rows, label, color in (
        (held[0], "calibrated", "tab:blue"),
        (held[1], "defaults", "tab:orange"),
    ):
        both = [
            (r.real_ttf_s, r.paper_ttf_s)
            for r in rows
            if r.real_ttf_s is not None and r.paper_ttf_s is not None
        ]
        xs = [max(a, 1e-3) for a, _ in both]
        ys = [max(b, 1e-3) for _, b in both]
        if xs:
            lo, hi = min(lo, *xs, *ys), max(hi, *xs, *ys)
            ax.scatter(xs, ys, s=10, alpha=0.5, color=color, label=f"{label} ({len(xs)} orders)")
    if lo < hi:
        ax.plot([lo, hi], [lo, hi], color="grey", lw=1, ls="--")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("venue: time to first fill (s)")
    ax.set_ylabel("engine: time to first fill, heard (s)")
    ax.set_title("Time to fill, orders both filled, held-out windows")
    ax.legend(loc="upper left", fontsize=8)
    return _save(fig, plt, path)


def plot_pnl(report: CalibrationReport, path: Path) -> Path:
    plt = _pyplot()
    ws = report.windows
    fig, ax = plt.subplots(figsize=(max(6.0, 0.5 * len(ws) + 3), 4.5))
    x = list(range(len(ws)))
    series = (
        ("venue (real)", [w.calibrated.real_pnl for w in ws], "black", -0.27),
        ("calibrated", [w.calibrated.paper_pnl for w in ws], "tab:blue", 0.0),
        ("defaults", [w.defaults.paper_pnl for w in ws], "tab:orange", 0.27),
    )
    for label, vals, color, dx in series:
        ax.bar(
            [i + dx for i in x],
            [v if v is not None else 0.0 for v in vals],
            width=0.27,
            color=color,
            label=label,
        )
    for i, w in enumerate(ws):
        if not w.fitted:
            ax.axvspan(i - 0.5, i + 0.5, color="grey", alpha=0.12, lw=0)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xticks(x)
    ax.set_xticklabels([w.start[5:] for w in ws], rotation=45, ha="right", fontsize=7)
    ax.set_ylabel("P&L per window (USDC)")
    ax.set_title("P&L per window (held-out windows shaded)")
    ax.legend(fontsize=8)
    return _save(fig, plt, path)


def write_plots(report: CalibrationReport, out: Path) -> list[Path]:
    """The three plots into `out`."""
    return [
        plot_reliability(report, out / NAMES[0]),
        plot_time_to_fill(report, out / NAMES[1]),
        plot_pnl(report, out / NAMES[2]),
    ]


def _held(report: CalibrationReport) -> tuple[list[OrderRow], list[OrderRow]]:
    held = {w.start_s for w in report.windows if not w.fitted}
    cal, dflt = report.rows
    return [r for r in cal if r.window_start_s in held], [
        r for r in dflt if r.window_start_s in held
    ]


def _save(fig: Any, plt: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

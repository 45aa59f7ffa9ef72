"""The validation report's plots: time axes carry date and zone, counts are whole."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from pk8opt.sweep.charts import _pyplot
from pk8opt.validation import report
from pk8opt.validation.walkforward import Fold, WalkForwardResult

START = 1791986700  # 2026-10-14 14:05 UTC
HOUR = 3600


def _validated() -> SimpleNamespace:
    rows = [
        SimpleNamespace(label=label, pnl=[float(k + w % 3) for w in range(8)])
        for k, label in enumerate(["1", "2", "defaults", "not_trading"])
    ]
    folds = [
        Fold(train=np.arange(0, 4), test=np.arange(4, 6)),
        Fold(train=np.arange(0, 6), test=np.arange(6, 8)),
    ]
    walk = WalkForwardResult(
        oos=np.array([1.0, -0.5, 2.0, 0.25]),
        chosen=[0, 1],
        folds=folds,
        mean=0.6875,
        t=1.1,
        baseline_oos={2: np.array([0.5, 0.5, 0.0, 0.5]), 3: np.zeros(4)},
        windows=np.arange(4, 8),
    )
    pbo = SimpleNamespace(logits=np.array([-1.2, -0.3, 0.4, 0.9, 1.5, 0.2, -0.1]), pbo=0.43)
    return SimpleNamespace(
        rows=rows,
        walk=walk,
        pbo=pbo,
        window_starts=[START + 6 * HOUR * w for w in range(8)],
    )


@pytest.fixture(autouse=True)
def _close_figures() -> object:
    yield
    _pyplot().close("all")


def _labels(axis: object) -> list[str]:
    fig = axis.axes.get_figure(root=True)  # type: ignore[attr-defined]
    fig.canvas.draw()
    return [t.get_text() for t in axis.get_ticklabels() if t.get_text()]  # type: ignore[attr-defined]


def test_walk_forward_time_axis_names_date_and_zone() -> None:
    fig = report.walk_forward_figure(_validated())
    labels = _labels(fig.axes[0].xaxis)
    assert labels
    for text in labels:
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC", text), text
    # the first test window starts 24 h after the first window: 2026-10-15 14:05 UTC
    lo, hi = fig.axes[0].get_xlim()
    from matplotlib.dates import num2date

    assert num2date(lo).strftime("%Y-%m-%d") <= "2026-10-15" <= num2date(hi).strftime("%Y-%m-%d")


def test_pbo_histogram_counts_are_whole() -> None:
    fig = report.pbo_figure(_validated())
    ax = fig.axes[0]
    labels = _labels(ax.yaxis)
    assert labels
    for text in labels:
        assert re.fullmatch(r"[0-9]+", text.replace("\u2212", "-")), text
    assert all(float(t).is_integer() for t in ax.get_yticks())


def test_plots_writes_every_figure(tmp_path: Path) -> None:
    files = report.plots(_validated(), tmp_path)
    assert sorted(p.name for p in files) == [
        "is_vs_oos.png",
        "pbo_logits.png",
        "walk_forward_equity.png",
    ]
    assert all(p.stat().st_size > 0 for p in files)


def test_no_walk_forward_no_time_plot(tmp_path: Path) -> None:
    v = _validated()
    v.walk = None
    assert report.walk_forward_figure(v) is None
    assert [p.name for p in report.plots(v, tmp_path)] == ["pbo_logits.png"]

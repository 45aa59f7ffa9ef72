"""The sweep's pictures on the parent run: how the search went, which parameters
matter and how the objective moves with each.

Each is best effort (a study with few trials may allow no importances); a picture that
cannot be drawn is left out, never an error at the end of a long sweep.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path, files: list[Path]) -> None:
    fig.savefig(path, dpi=100, bbox_inches="tight")
    _pyplot().close(fig)
    files.append(path)


def study_plots(study: Any, out: Path) -> list[Path]:
    """optimization_history.png, param_importances.{png,json}, param_slices.png."""
    import optuna
    from optuna.exceptions import ExperimentalWarning

    warnings.filterwarnings("ignore", category=ExperimentalWarning)
    plt = _pyplot()
    files: list[Path] = []
    target = (lambda t: t.values[0]) if len(study.directions) > 1 else None
    name = "first objective" if target else "objective"
    try:
        ax = optuna.visualization.matplotlib.plot_optimization_history(
            study, target=target, target_name=name
        )
        _save(ax.get_figure(root=True), out / "optimization_history.png", files)
    except Exception:  # noqa: S110 - a plot is optional
        pass
    try:
        # PED-ANOVA ranks parameters by how they lead to low target values: a maximized
        # first objective of several is negated (a single one follows the study's direction).
        evaluator = optuna.importance.PedAnovaImportanceEvaluator()
        sign = -1.0 if study.directions[0].name == "MAXIMIZE" else 1.0
        ranked = (lambda t: sign * t.values[0]) if target else None
        with warnings.catch_warnings():  # its reminder of the above
            warnings.filterwarnings("ignore", message="PedAnovaImportanceEvaluator computes")
            imp = optuna.importance.get_param_importances(study, evaluator=evaluator, target=ranked)
        (out / "param_importances.json").write_text(json.dumps(imp, indent=2))
        files.append(out / "param_importances.json")
        fig, ax = plt.subplots(figsize=(6, 0.4 * len(imp) + 1))
        names = list(imp)[::-1]
        ax.barh(names, [imp[n] for n in names])
        ax.set_xlabel("importance (PED-ANOVA)")
        _save(fig, out / "param_importances.png", files)
    except Exception:  # noqa: S110
        pass
    try:
        axes = optuna.visualization.matplotlib.plot_slice(study, target=target, target_name=name)
        every = list(axes.ravel()) if isinstance(axes, np.ndarray) else [axes]
        from matplotlib.ticker import NullFormatter

        for ax in every:  # log-scale axes: minor tick labels overlap
            if ax.get_xscale() == "log":
                ax.xaxis.set_minor_formatter(NullFormatter())
        first = every[0]
        _save(first.get_figure(root=True), out / "param_slices.png", files)
    except Exception:  # noqa: S110
        pass
    return files

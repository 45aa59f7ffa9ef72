"""Plots of backtest results (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pk8opt.errors import ConfigError

DEFAULT_NAME = "equity.png"
FORMATS = (".png", ".svg", ".pdf", ".jpg", ".jpeg")


def plot_path(path: Path | str, option: str = "--plot") -> Path:
    """Where `--plot PATH` writes, checked before any work is done: an existing folder
    gets `equity.png` inside it, a name without an image suffix gets `.png`; a folder
    that does not exist is one clear error, not a traceback after the replay."""

    path = Path(path)
    if path.is_dir():
        return path / DEFAULT_NAME
    if path.suffix.lower() not in FORMATS:
        path = path.with_name(path.name + ".png")
    parent = path.parent
    if not parent.is_dir():
        what = "is a file" if parent.exists() else "does not exist"
        raise ConfigError(
            f"{option} {path}: the folder {parent} {what}; create it first or pick "
            f"another path, e.g. {option} {DEFAULT_NAME}"
        )
    return path


def plot_equity(result: Any, path: Path | str) -> Path:
    """Cumulative P&L across sessions over time, written as an image to `path`."""
    import matplotlib

    matplotlib.use("Agg")
    from datetime import UTC, datetime

    import matplotlib.pyplot as plt

    ts, vs = result.equity_curve()
    fig, ax = plt.subplots(figsize=(10, 4), dpi=100)
    if ts:
        when = [datetime.fromtimestamp(t / 1e9, tz=UTC) for t in ts]
        ax.step(when, vs, where="post", lw=1.2)  # type: ignore[arg-type]
        ax.axhline(0.0, color="grey", lw=0.6)
    else:
        ax.text(0.5, 0.5, "no scored sessions", ha="center", va="center", transform=ax.transAxes)
    agg = getattr(result, "aggregate", {})
    ax.set_title(
        f"{getattr(result, 'strategy', '')}: P&L {agg.get('pnl_usdc', 0.0):.2f} USDC over "
        f"{agg.get('sessions', 0)} session(s)"
    )
    ax.set_ylabel("cumulative P&L (USDC)")
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    path = Path(path)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path

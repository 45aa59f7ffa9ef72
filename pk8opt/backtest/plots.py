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
    """Cumulative P&L over time, the portfolio's and each symbol's, above the
    portfolio's drawdown (how far below its running high), written as an image to `path`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, dd) = plt.subplots(
        2, 1, figsize=(10, 5.5), dpi=100, sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    ts, vs = result.equity_curve()
    if ts:
        _equity_lines(ax, dd, result, ts, vs)
    else:
        ax.text(0.5, 0.5, "no scored sessions", ha="center", va="center", transform=ax.transAxes)
    agg = getattr(result, "aggregate", {})
    ax.set_title(
        f"{getattr(result, 'strategy', '')}: P&L {agg.get('pnl_usdc', 0.0):.2f} USDC over "
        f"{agg.get('sessions', 0)} session(s)"
    )
    ax.set_ylabel("cumulative P&L (USDC)")
    dd.set_ylabel("drawdown (USDC)")
    dd.set_xlabel("time (UTC)")
    for a in (ax, dd):
        a.grid(alpha=0.3)
    fig.autofmt_xdate()
    path = Path(path)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path


def _equity_lines(ax: Any, dd: Any, result: Any, ts: list[int], vs: list[float]) -> None:
    """The portfolio's curve, one thinner curve per symbol, and the drawdown below."""
    from datetime import UTC, datetime

    import matplotlib.dates as mdates
    import numpy as np

    def when(t: list[int]) -> list[datetime]:
        return [datetime.fromtimestamp(x / 1e9, tz=UTC) for x in t]

    ax.step(when(ts), vs, where="post", lw=1.6, color="black", label="all symbols")
    by_symbol: dict[str, tuple[list[int], list[float]]] = result.equity_by_symbol()
    if len(by_symbol) > 1:
        for sym, (t, v) in by_symbol.items():
            if t:
                ax.step(when(t), v, where="post", lw=0.9, alpha=0.8, label=sym)
    ax.axhline(0.0, color="grey", lw=0.6)
    ax.legend(loc="upper left", fontsize=8)
    total = np.asarray(vs, dtype=float)
    below = total - np.maximum.accumulate(np.maximum(total, 0.0))
    dd.fill_between(when(ts), below, 0.0, step="post", color="tab:red", alpha=0.4)
    dd.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d %H:%M", tz=UTC))

"""`pk8opt compare` of a real run as tables that read whole at 80 columns: per window its
fills side by side and the figures of each side, then one line a window and the total.
"""

from __future__ import annotations

from typing import Any

from pk8opt.backtest.compare_real import (
    SETTINGS,
    Figures,
    Fill,
    RealReport,
    RealWindow,
    utc_time,
)
from pk8opt.cli import tables

# the columns of the total table a narrow terminal leaves out, first to last
_DROPPED_FIRST = ("matched", "fills r/p")


def print_report(report: RealReport) -> None:
    from rich.text import Text

    console = tables.console()
    s = f"{report.match_window_s:g}"
    console.print(Text("Real against paper, fill by fill: a real fill matches a paper fill"))
    console.print(Text(f"of the same token and price within {s} s of it (each fill used once,"))
    console.print(Text("in time order; see docs/live.md)."))
    for line in _paper_side(report):
        console.print(Text(line))
    for win in report.windows:
        console.print()
        for part in _window(win):
            console.print(part)
    console.print()
    for part in _totals(report, console.width):
        console.print(part)


def _paper_side(report: RealReport) -> list[str]:
    """Which replay the paper side is, in lines that fit 80 columns."""
    if report.paper_side == "open":
        lines = [
            "Paper side: open loop, the run's own orders through the paper engine",
            "(a paper fill's time: the engine's, + the response latency).",
        ]
    else:
        lines = [
            "Paper side: closed loop, the strategy deciding again on the paper engine's",
            "answers (--open-loop: the run's own orders instead).",
        ]
    if report.settings:
        lines.append("Replayed with " + "; ".join(SETTINGS[k] for k in report.settings) + ".")
    return lines


def _window(win: RealWindow) -> list[Any]:
    from rich.text import Text

    state = f"resolved {win.winner}" if win.winner else "no resolution"
    real, paper = win.orders["real"], win.orders["paper"]
    out: list[Any] = [
        Text(f"{win.slug}  {win.mode}, {state}"),
        _indent(
            Text(
                f"orders: real {real['submitted']} ({real['rejected']} rejected), "
                f"paper {paper['submitted']} ({paper['rejected']} rejected)"
            )
        ),
    ]
    rows = _fill_rows(win)
    out.append(_indent(_fill_table(rows) if rows else Text("no fills on either side")))
    out.append(_indent(_figures_table(win)))
    if win.winner is None:
        out.append(_indent(Text("no resolution: cost and positions only")))
    return out


def _indent(part: Any) -> Any:
    from rich.padding import Padding

    return Padding(part, (0, 0, 0, 2), expand=False)


def _fill_rows(win: RealWindow) -> list[tuple[int, tuple[str, ...]]]:
    """(time, cells) of each fill, matched pairs as one row."""
    m = win.matching
    rows: list[tuple[int, tuple[str, ...]]] = []
    for r, p in m.matched:
        dt = f"{(p.ts_ns - r.ts_ns) / 1e9:+.3f}"
        rows.append((r.ts_ns, _cells(r, _qty(r.qty), _qty(p.qty), dt, "matched")))
    for f in m.real_only:
        rows.append((f.ts_ns, _cells(f, _qty(f.qty), "-", "-", "real only")))
    for f in m.paper_only:
        rows.append((f.ts_ns, _cells(f, "-", _qty(f.qty), "-", "paper only")))
    for f in win.failed:
        rows.append((f.ts_ns, _cells(f, _qty(f.qty), "-", "-", "failed, not counted")))
    rows.sort(key=lambda row: row[0])  # stable: matched, real, paper, failed at one time
    return rows


def _cells(f: Fill, real_qty: str, paper_qty: str, dt: str, what: str) -> tuple[str, ...]:
    return (utc_time(f.ts_ns), f.outcome, f"{f.price:.3f}", real_qty, paper_qty, dt, what)


def _fill_table(rows: list[tuple[int, tuple[str, ...]]]) -> Any:
    head = ("time (UTC)", "token", "price", "real qty", "paper qty", "dt s", "")
    table = _table()
    for i, col in enumerate(head):
        table.add_column(col, no_wrap=True, justify="right" if 2 <= i <= 5 else "left")
    for _, cells in rows:
        table.add_row(*cells)
    return table


def _figures_table(win: RealWindow) -> Any:
    table = _table()
    table.add_column("", no_wrap=True)
    for col in ("fills", "Up", "Down", "cost", "payout", "P&L"):
        table.add_column(col, no_wrap=True, justify="right")
    table.add_row("real", *_figure_cells(win.real))
    table.add_row("paper", *_figure_cells(win.paper))
    table.add_row("real-paper", *_figure_cells(win.diff, signed=True))
    return table


def _figure_cells(f: Figures, signed: bool = False) -> tuple[str, ...]:
    sign = "+" if signed else ""
    return (
        f"{f.fills:{sign}d}",
        _qty(f.up_qty, sign),
        _qty(f.down_qty, sign),
        _usdc(f.cost, sign),
        _usdc(f.payout, sign),
        _usdc(f.pnl, sign),
    )


def _totals(report: RealReport, width: int) -> list[Any]:
    from rich.text import Text

    n = len(report.windows)
    resolved = sum(1 for w in report.windows if w.winner is not None)
    totals = report.totals()
    head = ["window", "fills r/p", "matched", "real P&L", "paper P&L", "diff"]
    rows = [
        [
            w.slug,
            f"{w.real.fills}/{w.paper.fills}",
            str(len(w.matching.matched)),
            _usdc(w.real.pnl),
            _usdc(w.paper.pnl),
            _usdc(w.diff.pnl, "+"),
        ]
        for w in report.windows
    ]
    real, paper, diff = totals["real"], totals["paper"], totals["diff"]
    matched = sum(len(w.matching.matched) for w in report.windows)
    rows.append(
        [
            "total",
            f"{real.fills}/{paper.fills}",
            str(matched),
            _usdc(real.pnl),
            _usdc(paper.pnl),
            _usdc(diff.pnl, "+"),
        ]
    )
    kept = tables.kept_columns(head, rows, width, _DROPPED_FIRST)
    table = _table()
    for i in kept:
        table.add_column(head[i], no_wrap=True, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*(row[i] for i in kept))
    windows = f"{n} window" + ("" if n == 1 else "s")
    return [
        Text(f"Total over {windows} (P&L over the {resolved} resolved)"),
        table,
        Text(
            f"cost: real {_usdc(real.cost)}, paper {_usdc(paper.cost)}, "
            f"real-paper {_usdc(diff.cost, '+')} USDC (fees included)"
        ),
    ]


def _table() -> Any:
    from rich.table import Table

    return Table(box=None, pad_edge=False, show_edge=False, header_style="")


def _qty(x: float, sign: str = "") -> str:
    return f"{round(x, 2) + 0.0:{sign},.2f}"


def _usdc(x: float | None, sign: str = "") -> str:
    return "-" if x is None else f"{round(x, 2) + 0.0:{sign},.2f}"

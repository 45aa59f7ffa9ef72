"""What `pk8opt live` prints when it stops (`q`, Ctrl-C, `--duration`): P&L, fills and
fees per window and in total, in plain text so it stays in the terminal's scrollback."""

from __future__ import annotations

from pk8opt.live.dashboard import DashboardState, WindowView


def _usd(x: float, signed: bool = False) -> str:
    sign = "-" if x < 0 else ("+" if signed else "")
    return f"{sign}${abs(x):,.2f}"


def summary_text(state: DashboardState) -> str:
    """A table of every traded window (settled ones at their settlement, the rest marked
    at the best bid) and the total; a line saying so when nothing was traded."""
    windows: list[WindowView] = state.windows
    head = f"pk8opt live ({state.mode}, strategy {state.strategy or '?'}) stopped"
    if not windows:
        return f"{head}: no window was traded; {state.fills} fill(s)."
    rows = [("Window", "State", "Fills", "Fees", "P&L")]
    for w in windows:
        rows.append(
            (f"{w.market} {w.slug}", w.state, str(w.fills), _usd(w.fees), _usd(w.pnl, True))
        )
    rows.append(
        (
            "Total",
            f"{len(windows)} window(s)",
            str(sum(w.fills for w in windows)),
            _usd(sum(w.fees for w in windows)),
            _usd(sum(w.pnl for w in windows), True),
        )
    )
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = [head + ":"]
    for i, r in enumerate(rows):
        cells = [r[0].ljust(widths[0]), r[1].ljust(widths[1])]
        cells += [c.rjust(w) for c, w in zip(r[2:], widths[2:], strict=True)]
        lines.append("  " + "  ".join(cells))
        if i == 0 or i == len(rows) - 2:
            lines.append("  " + "  ".join("-" * w for w in widths))
    open_ = [w for w in windows if w.state != "settled"]
    if open_:
        lines.append(
            f"  {len(open_)} window(s) not settled: their P&L marks the shares held at the best bid."
        )
    if state.paused:
        lines.append("  Quoting was paused when the runner stopped.")
    return "\n".join(lines)

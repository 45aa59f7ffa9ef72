"""The live runner's terminal dashboard: Markets, Portfolio, Logs, Controls.

The runner keeps a `DashboardState` up to date (plain data, no I/O); `render` turns it
into a rich renderable that `rich.live.Live` repaints. `--headless` skips all of that
and prints `event_line` for each event instead. `KeyReader` reads single key presses
without blocking (`p` pause/resume quoting, `q` quit) and is inert when stdin is not a
terminal, so the same runner works under systemd, in CI and in a terminal.
"""

from __future__ import annotations

import os
import sys
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rich.console import Group
from rich.layout import Layout
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

LOG_LINES = 200


@dataclass
class MarketView:
    """One watched market as the Markets panel shows it."""

    name: str  # "BTC:15m"
    slug: str = ""
    up_bid: float | None = None
    up_ask: float | None = None
    down_bid: float | None = None
    down_ask: float | None = None
    end_s: float | None = None  # window end, Unix s
    traded: bool = False
    status: str = "discovering"

    @property
    def spread(self) -> float | None:
        """Up bid + Down bid, as ORIGIN's dashboard shows it: a pair bought at the bids
        pays 1.00 at settlement, so below 1.00 is the room a balanced buyer has."""
        if self.up_bid is None or self.down_bid is None:
            return None
        return self.up_bid + self.down_bid


@dataclass
class PositionView:
    label: str  # "BTC UP"
    shares: float
    avg_cost: float
    mark: float | None = None  # current value of one share (best bid), if known

    @property
    def pnl(self) -> float | None:
        if self.mark is None:
            return None
        return (self.mark - self.avg_cost) * self.shares


@dataclass
class PortfolioView:
    """Paper money: each window trades its own account, so the panel adds them up:
    cash and reservations of the open windows, P&L of the settled ones, fees and
    estimated maker rebates of all of them, the positions held."""

    cash: float = 0.0
    reserved: float = 0.0
    realized_pnl: float = 0.0
    fees: float = 0.0
    rebates_est: float = 0.0
    positions: list[PositionView] = field(default_factory=list)


def combine_portfolios(views: list[PortfolioView]) -> PortfolioView:
    """One panel for every window and symbol the runner trades (and has settled)."""
    return PortfolioView(
        cash=sum(v.cash for v in views),
        reserved=sum(v.reserved for v in views),
        realized_pnl=sum(v.realized_pnl for v in views),
        fees=sum(v.fees for v in views),
        rebates_est=sum(v.rebates_est for v in views),
        positions=[p for v in views for p in v.positions],
    )


@dataclass
class DashboardState:
    strategy: str = ""
    markets: dict[str, MarketView] = field(default_factory=dict)
    portfolio: PortfolioView = field(default_factory=PortfolioView)
    logs: deque[str] = field(default_factory=lambda: deque(maxlen=LOG_LINES))
    paused: bool = False
    trade_enabled: bool = True
    now_s: float = 0.0  # the runner's clock (receive time of the last frame)
    fills: int = 0
    connection: str = "connecting"

    def log(self, kind: str, text: str) -> None:
        """Append a `[kind] text` line (kinds: trade, paper, gate, feed, settle, info)."""
        self.logs.append(f"{_clock(self.now_s)} [{kind}] {text}")


def _clock(t_s: float) -> str:
    if not t_s:
        return "--:--:--"
    return datetime.fromtimestamp(t_s, UTC).strftime("%H:%M:%S")


def _px(value: float | None) -> str:
    if value is None:
        return "  -  "
    text = f"{value:.3f}"
    return text[:-1] if text.endswith("0") else text


def _usd(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{'+' if signed and value >= 0 else ''}{'-' if value < 0 else ''}${abs(value):,.2f}"


def _time_left(end_s: float | None, now_s: float) -> str:
    if end_s is None:
        return "-"
    left = int(end_s - now_s)
    if left < 0:
        return f"ended {-left}s"
    return f"{left // 60}:{left % 60:02d}"


def markets_table(state: DashboardState) -> Table:
    table = Table(expand=True, box=None, pad_edge=False)
    for col in ("Market", "UP bid/ask", "DOWN bid/ask", "Spread", "Left", "Status"):
        table.add_column(col, no_wrap=True)
    for view in state.markets.values():
        spread = view.spread
        spread_txt = "-" if spread is None else f"{spread:.3f}"
        style = "" if view.traded else "dim"
        table.add_row(
            view.name,
            f"{_px(view.up_bid)}/{_px(view.up_ask)}",
            f"{_px(view.down_bid)}/{_px(view.down_ask)}",
            spread_txt,
            _time_left(view.end_s, state.now_s),
            view.status,
            style=style,
        )
    return table


def portfolio_table(state: DashboardState) -> Group:
    pf = state.portfolio
    head = Text(
        f"Cash: {_usd(pf.cash)}    Reserved: {_usd(pf.reserved)}    "
        f"Realized: {_usd(pf.realized_pnl, signed=True)}    Fees: {_usd(pf.fees)}    "
        f"Rebates (est.): {_usd(pf.rebates_est)}    Fills: {state.fills}"
    )
    table = Table(expand=True, box=None, pad_edge=False)
    for col in ("Position", "Shares", "Avg Cost", "Current", "P&L"):
        table.add_column(col, no_wrap=True)
    for pos in pf.positions:
        table.add_row(
            pos.label,
            f"{pos.shares:g}",
            _usd(pos.avg_cost),
            _usd(pos.mark),
            _usd(pos.pnl, signed=True),
        )
    return Group(head, table)


def render(state: DashboardState, height: int | None = None) -> Layout:
    """The whole screen: header, Markets, Portfolio, Logs, and the key help."""
    layout = Layout()
    n_markets = max(1, len(state.markets))
    n_positions = max(1, len(state.portfolio.positions))
    mode = "PAUSED" if state.paused else ("quoting" if state.trade_enabled else "watch only")
    header = Text.assemble(
        ("pk8opt live ", "bold"),
        f"(paper)  strategy={state.strategy}  {mode}  feed: {state.connection}  "
        f"{_clock(state.now_s)} UTC",
    )
    log_rows = max(3, (height or 40) - n_markets - n_positions - 14)
    logs = Text("\n".join(list(state.logs)[-log_rows:]) or "(no events yet)")
    layout.split_column(
        Layout(header, name="header", size=1),
        Layout(Panel(markets_table(state), title="Markets"), size=n_markets + 3),
        Layout(Panel(portfolio_table(state), title="Portfolio"), size=n_positions + 5),
        Layout(Panel(logs, title="Logs"), name="logs"),
        Layout(Text("p pause/resume quoting   q quit", style="dim"), size=1),
    )
    return layout


_EVENT_FIELDS = (
    "symbol",
    "timeframe",
    "slug",
    "outcome",
    "token",
    "side",
    "qty",
    "size",
    "price",
    "order_id",
    "why",
    "gate",
    "reason",
    "winner",
    "pnl",
    "cash",
)


def event_line(event: dict[str, Any]) -> str:
    """One compact `--headless` line: time, event name, then the telling fields."""
    ts = event.get("ts", "")
    if isinstance(ts, int | float):
        ts = datetime.fromtimestamp(ts / 1e9 if ts > 1e12 else ts, UTC).strftime("%H:%M:%S.%f")[:-3]
    parts = [str(ts), str(event.get("event", "?"))]
    shown = {"ts", "event"}
    for key in _EVENT_FIELDS:
        if key in event and event[key] is not None:
            parts.append(f"{key}={_short(event[key])}")
            shown.add(key)
    rest = [k for k in event if k not in shown and k not in _EVENT_FIELDS]
    for key in rest[:4]:
        parts.append(f"{key}={_short(event[key])}")
    return " ".join(parts)


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    text = " ".join(str(value).split())
    return text if len(text) <= 24 else text[:10] + "…" + text[-8:]


class KeyReader:
    """Non-blocking single-key reader on a terminal; does nothing when stdin is not one.

    Use as a context manager: it puts the terminal in cbreak mode (keys arrive without
    Enter, echo off) and restores it on exit, even after an exception.
    """

    def __init__(self, stream: Any = None) -> None:
        self.stream = sys.stdin if stream is None else stream
        try:
            self.enabled = bool(self.stream.isatty())
        except (AttributeError, ValueError):
            self.enabled = False
        self._saved: Any = None

    def __enter__(self) -> KeyReader:
        if self.enabled:
            import termios
            import tty

            fd = self.stream.fileno()
            self._saved = termios.tcgetattr(fd)
            tty.setcbreak(fd)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.enabled and self._saved is not None:
            import termios

            termios.tcsetattr(self.stream.fileno(), termios.TCSADRAIN, self._saved)
            self._saved = None

    def read_key(self) -> str | None:
        """The next key pressed, or None at once if there is none."""
        if not self.enabled:
            return None
        import select

        fd = self.stream.fileno()
        ready, _, _ = select.select([fd], [], [], 0)
        if not ready:
            return None
        data = os.read(fd, 1)
        return data.decode(errors="replace") if data else None

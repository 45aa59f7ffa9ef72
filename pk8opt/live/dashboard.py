"""The live runner's terminal dashboard: Markets, Portfolio, Open orders, Logs, Controls.

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
    def bid_sum(self) -> float | None:
        """Up bid + Down bid (the *Bid sum* column; not a spread: the strategies'
        `max_spread` is one token's ask - bid): a pair bought at the bids pays 1.00 at
        settlement, so below 1.00 is the room a balanced buyer has."""
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
class OrderView:
    """One of our resting (or travelling) orders, as the Open orders panel shows it."""

    market: str  # "BTC"
    outcome: str  # "Up" / "Down"
    price: float
    size: float
    filled: float
    state: str  # "posting", "open", "cancelling"
    age_s: float


@dataclass
class WindowView:
    """One traded window's paper account: each window starts with its own capital."""

    market: str  # "BTC"
    slug: str
    state: str  # "open", "awaiting" (ended, resolution to come), "settled", "incomplete"
    capital: float  # the paper cash the window started with
    cash: float
    reserved: float
    value: float  # open positions marked at the best bid (0 once settled)
    fees: float
    fills: int = 0

    @property
    def pnl(self) -> float:
        """Settled: cash minus capital. Open: marked to the best bids."""
        return self.cash + self.reserved + self.value - self.capital


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
    orders: list[OrderView] = field(default_factory=list)
    windows: list[WindowView] = field(default_factory=list)
    gates: dict[str, int] = field(default_factory=dict)  # times each gate held a quote back
    mode: str = "paper"  # paper, dry run or real (live.settings)
    venue: str = ""  # a dry or real run: balance, allowance and limits, one line
    halted: str = ""  # why quoting stopped for good (the daily loss limit), if it did

    def stamp(self, kind: str, text: str, t_s: float | None = None) -> str:
        return f"{_clock(self.now_s if t_s is None else t_s)} [{kind}] {text}"

    def log(self, kind: str, text: str, t_s: float | None = None) -> None:
        """Append a `[kind] text` line (kinds: fill, orders, window, settle, feed, control,
        info), stamped with the event's time (the runner's clock when not given)."""
        self.logs.append(self.stamp(kind, text, t_s))


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
    for col in ("Market", "UP bid/ask", "DOWN bid/ask", "Bid sum", "Left", "Status"):
        table.add_column(col, no_wrap=True)
    for view in state.markets.values():
        bid_sum = view.bid_sum
        spread_txt = "-" if bid_sum is None else f"{bid_sum:.3f}"
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
    parts: list[Any] = [Text(_portfolio_head(state))]
    if state.windows:
        parts.append(windows_table(state.windows))
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
    if pf.positions:
        parts.append(table)
    if pf.reserved or any(w.reserved for w in state.windows):
        parts.append(Text(RESERVED_NOTE, style="dim"))
    return Group(*parts)


# what *Reserved* holds, said under the panel: more than price x size of the open orders
RESERVED_NOTE = (
    "Reserved: cash held by live orders (posting, open or cancelling): price x size "
    "plus the largest taker fee each could pay"
)


def _portfolio_head(state: DashboardState) -> str:
    pf = state.portfolio
    if not state.windows:
        return (
            f"Cash: {_usd(pf.cash)}    Reserved: {_usd(pf.reserved)}    "
            f"Realized: {_usd(pf.realized_pnl, signed=True)}    Fees: {_usd(pf.fees)}    "
            f"Rebates (est.): {_usd(pf.rebates_est)}    Fills: {state.fills}"
        )
    # each window trades its own paper account: say the capital once, not summed cash
    capitals = sorted({w.capital for w in state.windows})
    capital = _usd(capitals[0]) if len(capitals) == 1 else "/".join(map(_usd, capitals))
    live = [w for w in state.windows if w.state in ("open", "awaiting")]
    n_open = len(live)
    in_play = sum(w.capital for w in live)
    total = sum(w.pnl for w in state.windows)
    realized = sum(w.pnl for w in state.windows if w.state == "settled")
    label = "Paper capital" if state.mode == "paper" else "USDC at each window's start"
    return (
        f"{label} {capital} per window; {n_open} open ({_usd(in_play)} in play), "
        f"{len(state.windows) - n_open} closed\nP&L {_usd(total, signed=True)} "
        f"(realized {_usd(realized, signed=True)}, open {_usd(total - realized, signed=True)})"
        f"    Fees: {_usd(pf.fees)}    Rebates (est.): {_usd(pf.rebates_est)}"
        f"    Fills: {state.fills}"
    )


def windows_table(windows: list[WindowView]) -> Table:
    """One row per traded window, and a total: what each account holds and has made."""
    table = Table(expand=True, box=None, pad_edge=False)
    for col in ("Window", "State", "Cash", "Reserved", "Positions", "Fees", "Fills", "P&L"):
        table.add_column(col, no_wrap=True)
    for w in windows:
        table.add_row(
            _window_label(w),
            w.state,
            _usd(w.cash),
            _usd(w.reserved),
            _usd(w.value),
            _usd(w.fees),
            str(w.fills),
            _usd(w.pnl, signed=True),
        )
    if len(windows) > 1:
        table.add_row(
            "Total",
            "",
            "",
            "",
            _usd(sum(w.value for w in windows)),
            _usd(sum(w.fees for w in windows)),
            str(sum(w.fills for w in windows)),
            _usd(sum(w.pnl for w in windows), signed=True),
            style="bold",
        )
    return table


def _window_label(w: WindowView) -> str:
    start = w.slug.rsplit("-", 1)[-1]
    if start.isdigit():
        return f"{w.market} {_clock(float(start))}"
    return f"{w.market} {w.slug}"


def orders_table(state: DashboardState) -> Table | Text:
    if not state.orders:
        return Text("(no open orders)", style="dim")
    table = Table(expand=True, box=None, pad_edge=False)
    for col in ("Market", "Token", "Side", "Price", "Size", "Filled", "State", "Age"):
        table.add_column(col, no_wrap=True)
    for o in state.orders:
        table.add_row(
            o.market,
            o.outcome,
            "BUY",
            _px(o.price),
            f"{o.size:g}",
            f"{o.filled:g}",
            o.state,
            f"{o.age_s:.0f}s",
        )
    return table


def gates_text(state: DashboardState) -> Text:
    """How often each gate held a quote back (the strategy's declared gates)."""
    if not state.gates:
        return Text("Gates: none held a quote back yet", style="dim")
    items = sorted(state.gates.items(), key=lambda kv: (-kv[1], kv[0]))
    return Text("Gates: " + "  ".join(f"{name} {n}" for name, n in items))


def render(state: DashboardState, height: int | None = None) -> Layout:
    """The whole screen: header, Markets, Portfolio, Open orders, Logs, and the key help."""
    layout = Layout()
    n_markets = max(1, len(state.markets))
    n_positions = len(state.portfolio.positions)
    n_windows = len(state.windows) + (1 if len(state.windows) > 1 else 0)
    portfolio_rows = (
        (2 if state.windows else 1)
        + (n_windows + 1 if n_windows else 0)
        + (n_positions + 1 if n_positions else 0)
    )
    # the head line may wrap on a narrow terminal: one row of slack
    n_orders = min(len(state.orders), 8)
    mode = "PAUSED" if state.paused else ("quoting" if state.trade_enabled else "watch only")
    if state.halted:
        mode = "HALTED"
    header = Text.assemble(
        ("pk8opt live ", "bold"),
        (f"({state.mode})", "bold white on red" if state.mode == "real" else ""),
        f"  strategy={state.strategy}  ",
        (mode, "bold reverse" if state.paused or state.halted else ""),
        f"  feed: {state.connection}  {_clock(state.now_s)} UTC",
    )
    log_rows = max(3, (height or 40) - n_markets - portfolio_rows - n_orders - 15)
    log_rows -= 1 if state.venue else 0
    logs = Text("\n".join(list(state.logs)[-log_rows:]) or "(no events yet)")
    orders = Group(orders_table(state), gates_text(state))
    venue = [Layout(Text(state.venue, style="bold"), name="venue", size=1)] if state.venue else []
    layout.split_column(
        Layout(header, name="header", size=1),
        *venue,
        Layout(Panel(markets_table(state), title="Markets"), size=n_markets + 3),
        Layout(Panel(portfolio_table(state), title="Portfolio"), size=portfolio_rows + 3),
        Layout(
            Panel(orders, title=f"Open orders ({len(state.orders)})"),
            size=(n_orders + 1 if n_orders else 1) + 3,
        ),
        Layout(Panel(logs, title="Logs"), name="logs"),
        Layout(Text(controls_text(state), style="dim"), size=1),
    )
    return layout


def controls_text(state: DashboardState) -> str:
    """The key help under the screen; a dry or real run has the kill key."""
    keys = "p pause/resume quoting   q quit (prints a summary)"
    if state.mode != "paper":
        keys += "   k kill: cancel every order and stop"
    return keys


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
            parts.append(f"{key}={_short(key, event[key])}")
            shown.add(key)
    rest = [k for k in event if k not in shown and k not in _EVENT_FIELDS]
    for key in rest[:4]:
        parts.append(f"{key}={_short(key, event[key])}")
    return " ".join(parts)


def _short(key: str, value: Any) -> str:
    """A field's value on one line; a long one cut in the middle, but never a slug: a
    slug names the market and its window, and is grepped for whole."""
    if isinstance(value, float):
        return f"{value:.6g}"
    text = " ".join(str(value).split())
    if key.endswith("slug") or len(text) <= 24:
        return text
    return text[:10] + "…" + text[-8:]


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

"""The live dashboard's log panel in words: fills and decisions as a trader says them,
order churn (posts, opens, cancels of requoting) folded into one running line.

`LogFolder.add(event)` takes the same event dicts the runner writes to
`live_console_events.jsonl` and appends to `DashboardState.logs`. The JSON log and the
`--headless` lines keep every event; only the screen folds.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from pk8opt.live.dashboard import DashboardState, event_line

# engine events that are the mechanics of requoting, not news
CHURN = frozenset(
    {
        "paper_order_submit",
        "paper_order_open",
        "paper_order_cancel_req",
        "paper_order_cancelled",
        "paper_order_expired",
    }
)
_CHURN_WORDS = (
    ("paper_order_submit", "placed"),
    ("paper_order_cancelled", "cancelled"),
    ("paper_order_expired", "expired at the end"),
)


# what filled the order (the engine's `why`, docs/engine.md "Fill reasons")
FILL_REASONS = {
    "queue": "its turn in the queue",
    "trade_through": "a trade printed through its price",
    "book_through": "the ask came down to it",
    "maker_flow": "a simulated seller",
    "taker": "it took the ask",
}


def symbol_of(event: dict[str, Any]) -> str:
    """`BTC` from the event's symbol, or from its slug (`btc-updown-15m-...`)."""
    sym = event.get("symbol")
    if isinstance(sym, str) and sym:
        return sym.upper()
    slug = event.get("slug")
    if isinstance(slug, str) and slug:
        return slug.split("-", 1)[0].upper()
    return ""


def _usd(x: Any) -> str:
    try:
        return f"${float(x):,.2f}"
    except (TypeError, ValueError):
        return "$?"


def _num(x: Any) -> str:
    try:
        return f"{float(x):g}"
    except (TypeError, ValueError):
        return "?"


def _px(x: Any) -> str:
    try:
        return f"{float(x):.3f}"
    except (TypeError, ValueError):
        return "?"


def describe(event: dict[str, Any]) -> tuple[str, str] | None:
    """(kind, words) for an event worth a line of its own; None for churn."""
    name = str(event.get("event", ""))
    if name in CHURN:
        return None
    sym = symbol_of(event)
    if name == "paper_fill":
        how = str(event.get("liquidity", ""))
        why = event.get("why")
        if why:
            said = str(FILL_REASONS.get(str(why), why))
            how = f"{how}: {said}" if how else said
        verb = "sold" if str(event.get("side", "BUY")).upper() == "SELL" else "bought"
        return (
            "fill",
            f"{sym} {verb} {_num(event.get('qty'))} {event.get('outcome', '?')} @ "
            f"{_px(event.get('price'))} ({how}), fee {_usd(event.get('fee'))}",
        )
    if name == "paper_order_rejected":
        return "order", f"{sym} order refused by the venue rules: {event.get('reason', '?')}"
    if name == "paper_settlement":
        return (
            "settle",
            f"{sym} settled: {event.get('winner', '?')} won; held "
            f"{_num(event.get('up_shares'))} Up / {_num(event.get('down_shares'))} Down, "
            f"paid out {_usd(event.get('payout'))}",
        )
    if name == "market_discovered":
        what = (
            "watching"
            if not event.get("traded")
            else "paused"
            if event.get("paused")
            else "quoting"
        )
        return "window", f"{sym} new window {event.get('slug', '?')} ({what})"
    if name == "market_resolved":
        return (
            "window",
            f"{sym} window resolved {event.get('winner', '?')} (from {event.get('source', '?')})",
        )
    if name == "resolution_missing":
        return "window", f"{sym} no resolution arrived; the window is kept as incomplete"
    if name == "discovery_failed":
        return "feed", f"cannot look up {event.get('slug', '?')}: {event.get('reason', '?')}"
    if name == "quoting_paused":
        return "control", "quoting PAUSED: resting orders cancelled, no quotes in any window"
    if name == "quoting_resumed":
        return "control", "quoting resumed"
    if name == "feed_connected":
        return "feed", f"{event.get('socket', '?')} socket connected"
    if name == "feed_disconnected":
        return (
            "feed",
            f"{event.get('socket', '?')} socket lost ({event.get('reason', '?')}), reconnecting",
        )
    if name == "live_started":
        return "info", f"started: strategy {event.get('strategy', '?')}"
    if name == "live_stopped":
        return "info", "stopped"
    text = event_line(event)
    return "info", text.split(" ", 1)[1] if " " in text else text


class LogFolder:
    """Appends events to the dashboard's log panel in words. Churn is folded: after
    the last line of news, each symbol has one running `requoting` line."""

    def __init__(self, state: DashboardState) -> None:
        self.state = state
        self._appended = 0  # lines appended so far (the deque drops the oldest)
        self._churn: dict[str, tuple[int, Counter[str]]] = {}  # symbol -> (line no, counts)

    def add(self, event: dict[str, Any]) -> None:
        t_ns = event.get("ts_ns")
        t_s = t_ns / 1e9 if isinstance(t_ns, int | float) else None
        name = str(event.get("event", ""))
        if name in CHURN:
            sym = symbol_of(event)
            if sym not in self._churn:
                self._churn[sym] = (self._appended, Counter())
                self._append("orders", "", t_s)
            line_no, counts = self._churn[sym]
            counts[name] += 1
            index = line_no - self._appended  # negative: from the end
            if -index <= len(self.state.logs):
                self.state.logs[index] = self.state.stamp("orders", _churn_text(sym, counts), t_s)
            return
        said = describe(event)
        if said is None:
            return
        self._churn.clear()  # news: churn after it starts new lines
        self._append(said[0], said[1], t_s)

    def _append(self, kind: str, text: str, t_s: float | None) -> None:
        self.state.log(kind, text, t_s)
        self._appended += 1


def _churn_text(sym: str, counts: Counter[str]) -> str:
    parts = [f"{counts[e]} {w}" for e, w in _CHURN_WORDS if counts[e]]
    return f"{sym} requoting: {', '.join(parts) or 'orders in flight'}"

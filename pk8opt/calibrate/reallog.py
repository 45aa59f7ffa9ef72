"""A run's orders and fills, read from its JSON Lines log (`real_*` events).

`pk8opt live --real` writes them to `<log-dir>/live_console_events.jsonl`; another trading
program can write the minimal form (docs/calibrate.md, "Other runners' logs"): one JSON
object per line,

    {"event": "real_order_submit", "slug": S, "ts_ns": T, "order_id": ID,
     "outcome": "Up"|"Down", "price": P, "size": Q}
    {"event": "real_order_cancel_req", "slug": S, "ts_ns": T, "order_id": ID}
    {"event": "real_fill", "slug": S, "ts_ns": T, "order_id": ID, "price": P, "qty": Q,
     "fee": F, "liquidity": "maker"|"taker"}          (fee and liquidity optional)

Times are nanoseconds on the run's clock (the clock of the recording's frames). Also read
when present: `real_order_rejected` and `real_order_dry_run` (the order never reached the
venue: left out), `real_order_sent` (`sent_ns`: when the order left, signed; it is posted
then in the replay, and the time from the decision to it is the run's own delay, added
back to the fitted post latency), `real_order_cancel_sent` (when a cancel left: a cancel
asked while its post was on its way leaves after the post's answer; the replay cancels
from then), `real_order_open` (the venue took the order; it binds a
`venue_order_id` to it, for fills that name only that; in a log that has them, an order
with neither an acknowledgement nor a fill never rested and is left out: e.g. cancelled
before it was sent), `real_trade_failed` (takes a fill back), `market_resolved` and
`real_settlement` (a window's winner), `live_started` (the run's settings: its
`PM_PAPER_*` values are the base of the engine's parameters). Everything else is skipped.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pk8opt.backtest.openloop import PlannedOrder
from pk8opt.errors import ConfigError
from pk8opt.trading.runlog import EVENTS_LOG_NAME

EPS = 1e-9
TOKENS = {"up": 0, "down": 1}
SUBMIT_FIELDS = ("slug", "ts_ns", "order_id", "outcome", "price", "size")
FILL_FIELDS = ("slug", "ts_ns", "price", "qty")
DOCS = 'docs/calibrate.md, "Other runners\' logs"'


@dataclass(frozen=True)
class RealOrder:
    """One order a run sent, and what the venue did with it."""

    plan: PlannedOrder
    filled: float  # shares, failed trades taken back
    first_fill_ns: int | None
    liquidity: str  # "maker", "taker", "maker+taker", or "" (no fill or not said)
    cost_usdc: float  # price x qty + fees
    fees_usdc: float
    decided_ns: int = 0  # when the run decided to send it (`plan.submit_ns`: when it left)

    @property
    def client_delay_ns(self) -> int:
        """From the run's decision to the order leaving signed (0 when not logged)."""
        return self.plan.submit_ns - self.decided_ns if self.decided_ns else 0

    @property
    def fraction(self) -> float:
        """Share of the order filled, 0..1."""
        return min(1.0, self.filled / self.plan.size) if self.plan.size > 0 else 0.0


@dataclass
class RealWindow:
    """One market window of the log: its orders in the order they were sent."""

    slug: str
    orders: list[RealOrder]
    winner: str | None  # what the log says (the recording's resolution wins)
    excluded: Counter[str] = field(default_factory=Counter)  # orders left out, by why


@dataclass
class RealLog:
    path: Path
    windows: dict[str, RealWindow]  # by slug, in the order first seen
    run_env: dict[str, str]  # the `PM_*` settings of the run's last `live_started`

    @property
    def n_orders(self) -> int:
        return sum(len(w.orders) for w in self.windows.values())


@dataclass
class _Order:
    slug: str
    oid: str
    ev: Mapping[str, Any]
    line: int
    cancel: tuple[int, int] | None = None  # (ts_ns, line)
    sent_ns: int | None = None  # signed and sent (`real_order_sent`), on the run's clock
    cancel_sent: bool = False  # `cancel` is when the cancel left (`real_order_cancel_sent`)
    fills: list[dict[str, Any]] = field(default_factory=list)
    excluded: str = ""


class _Reader:
    """The log, line by line, into orders by (slug, order id)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.orders: dict[tuple[str, str], _Order] = {}
        self.by_venue_id: dict[str, tuple[str, str]] = {}
        self.winners: dict[str, str] = {}
        self.slugs: dict[str, None] = {}
        self.orphans: Counter[str] = Counter()  # fills of orders never submitted, by slug
        self.run_env: dict[str, str] = {}
        self.acked: set[tuple[str, str]] = set()  # orders the venue acknowledged

    def line(self, ev: Mapping[str, Any], n: int) -> None:
        name = str(ev.get("event", ""))
        handler = _HANDLERS.get(name)
        if handler is not None:
            handler(self, ev, n)

    def where(self, n: int) -> str:
        return f"{self.path}:{n}"

    def need(self, ev: Mapping[str, Any], names: tuple[str, ...], n: int) -> None:
        for name in names:
            if ev.get(name) is None:
                raise ConfigError(
                    f"{self.where(n)}: {ev.get('event')}: no `{name}` (the fields of each "
                    f"event: {DOCS})"
                )

    def key(self, ev: Mapping[str, Any]) -> tuple[str, str] | None:
        slug = str(ev.get("slug") or "")
        oid = ev.get("order_id")
        if oid is not None and (slug, str(oid)) in self.orders:
            return slug, str(oid)
        vid = ev.get("venue_order_id")
        return self.by_venue_id.get(str(vid)) if vid is not None else None

    def submit(self, ev: Mapping[str, Any], n: int) -> None:
        self.need(ev, SUBMIT_FIELDS, n)
        slug, oid = str(ev["slug"]), str(ev["order_id"])
        if str(ev["outcome"]).lower() not in TOKENS:
            raise ConfigError(
                f"{self.where(n)}: real_order_submit: outcome {ev['outcome']!r} is neither "
                "Up nor Down"
            )
        if str(ev.get("side") or "BUY").upper() != "BUY":
            raise ConfigError(
                f"{self.where(n)}: real_order_submit: side {ev['side']!r}: only buy orders "
                "are modelled (selling Up is buying Down)"
            )
        self.slugs.setdefault(slug)
        self.orders[(slug, oid)] = _Order(slug, oid, ev, n)

    def rejected(self, ev: Mapping[str, Any], n: int) -> None:
        self.exclude(ev, "rejected")

    def dry_run(self, ev: Mapping[str, Any], n: int) -> None:
        self.exclude(ev, "dry run")

    def exclude(self, ev: Mapping[str, Any], why: str) -> None:
        key = self.key(ev)
        if key is not None:
            self.orders[key].excluded = why

    def opened(self, ev: Mapping[str, Any], n: int) -> None:
        key, vid = self.key(ev), ev.get("venue_order_id")
        if key is not None:
            self.acked.add(key)
            if vid is not None:
                self.by_venue_id[str(vid)] = key

    def sent(self, ev: Mapping[str, Any], n: int) -> None:
        key = self.key(ev)
        if key is not None and ev.get("sent_ns") is not None:
            self.orders[key].sent_ns = int(ev["sent_ns"])

    def cancel(self, ev: Mapping[str, Any], n: int) -> None:
        self.need(ev, ("ts_ns",), n)
        key = self.key(ev)
        if key is not None and self.orders[key].cancel is None:
            self.orders[key].cancel = (int(ev["ts_ns"]), n)

    def cancel_sent(self, ev: Mapping[str, Any], n: int) -> None:
        """The cancel left (later than asked when the post was still on its way): the
        time it counts from."""
        self.need(ev, ("ts_ns",), n)
        key = self.key(ev)
        if key is None:
            return
        o = self.orders[key]
        if o.cancel is None or not o.cancel_sent:
            o.cancel = (max(int(ev["ts_ns"]), o.cancel[0] if o.cancel else 0), n)
            o.cancel_sent = True

    def fill(self, ev: Mapping[str, Any], n: int) -> None:
        self.need(ev, FILL_FIELDS, n)
        key = self.key(ev)
        if key is None:
            self.orphans[str(ev["slug"])] += 1
            return
        self.orders[key].fills.append(dict(ev))

    def failed(self, ev: Mapping[str, Any], n: int) -> None:
        key, trade = self.key(ev), ev.get("trade_id")
        if key is None or trade is None:
            return
        fills = self.orders[key].fills
        for i, f in enumerate(fills):
            if str(f.get("trade_id")) == str(trade):
                del fills[i]
                return

    def resolved(self, ev: Mapping[str, Any], n: int) -> None:
        winner = ev.get("winner")
        if ev.get("slug") and winner in ("Up", "Down"):
            self.winners[str(ev["slug"])] = str(winner)

    def started(self, ev: Mapping[str, Any], n: int) -> None:
        config = ev.get("config")
        if isinstance(config, dict):
            self.run_env = {str(k): str(v) for k, v in config.items()}


_HANDLERS = {
    "real_order_submit": _Reader.submit,
    "real_order_sent": _Reader.sent,
    "real_order_rejected": _Reader.rejected,
    "real_order_dry_run": _Reader.dry_run,
    "real_order_open": _Reader.opened,
    "real_order_cancel_req": _Reader.cancel,
    "real_order_cancel_sent": _Reader.cancel_sent,
    "real_fill": _Reader.fill,
    "real_trade_failed": _Reader.failed,
    "market_resolved": _Reader.resolved,
    "real_settlement": _Reader.resolved,
    "live_started": _Reader.started,
}


def log_file(path: Path) -> Path:
    """The log itself: a file, or the live runner's log in a `--log-dir`."""
    path = Path(path)
    if path.is_dir():
        path = path / EVENTS_LOG_NAME
    if not path.is_file():
        raise ConfigError(
            f"{path}: no such log (give the live run's --log-dir, or a JSON Lines file of "
            f"real_* events: {DOCS})"
        )
    return path


def read_real_log(path: Path) -> RealLog:
    """Every window's orders and fills in the log at `path` (a file or a log folder)."""
    path = log_file(path)
    reader = _Reader(path)
    with path.open(encoding="utf-8") as fh:
        for n, text in enumerate(fh, 1):
            if not text.strip():
                continue
            try:
                ev = json.loads(text)
            except json.JSONDecodeError:
                raise ConfigError(f"{path}:{n}: not a JSON line (a damaged log?)") from None
            if isinstance(ev, dict):
                reader.line(ev, n)
    windows = {slug: RealWindow(slug, [], reader.winners.get(slug)) for slug in reader.slugs}
    if reader.acked:  # a log that says which orders the venue took: the others never rested
        for key, o in reader.orders.items():
            if not o.excluded and not o.fills and key not in reader.acked:
                o.excluded = "never acknowledged by the venue"
    for o in reader.orders.values():
        win = windows[o.slug]
        if o.excluded:
            win.excluded[o.excluded] += 1
        else:
            win.orders.append(_real_order(o))
    for slug, n in reader.orphans.items():
        if slug in windows:
            windows[slug].excluded["fill of an order not in the log"] += n
    return RealLog(path, windows, reader.run_env)


def _real_order(o: _Order) -> RealOrder:
    ev = o.ev
    decided = int(ev["ts_ns"])
    plan = PlannedOrder(
        order_id=o.oid,
        token=TOKENS[str(ev["outcome"]).lower()],
        price_milli=round(float(ev["price"]) * 1000),
        size=float(ev["size"]),
        submit_ns=max(decided, o.sent_ns) if o.sent_ns is not None else decided,
        cancel_ns=o.cancel[0] if o.cancel is not None else None,
        submit_seq=o.line,
        cancel_seq=o.cancel[1] if o.cancel is not None else 0,
    )
    fills = sorted(o.fills, key=lambda f: int(f["ts_ns"]))
    qty = [float(f["qty"]) for f in fills]
    fees = [float(f.get("fee") or 0.0) for f in fills]
    kinds = {str(f.get("liquidity") or "") for f in fills} - {""}
    return RealOrder(
        plan=plan,
        filled=sum(qty),
        first_fill_ns=int(fills[0]["ts_ns"]) if fills else None,
        liquidity="+".join(k for k in ("maker", "taker") if k in kinds),
        cost_usdc=sum(
            q * float(f["price"]) + fee for q, f, fee in zip(qty, fills, fees, strict=True)
        ),
        fees_usdc=sum(fees),
        decided_ns=decided,
    )

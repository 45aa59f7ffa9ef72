"""Per-fill metrics: `paper/metrics/<run>.jsonl`, one JSON object per paper fill.

Written the same way by `pk8opt live` and `pk8opt backtest --log-dir`, so a live day
and its replay compare line by line. Each line is the state right after the fill:

    ts, ts_ns        the fill's time (event time, never the wall clock)
    symbol, slug     the market
    token            Up / Down;  side  BUY
    price, qty, fee  the fill (fee in USDC; 0 for a maker fill)
    liquidity        maker / taker;  why  what filled it (queue, trade_through,
                     book_through, taker, maker_flow)
    order_id
    pos_up, pos_down           shares held after the fill
    avg_up, avg_down           average cost per share after the fill (0 when flat)
    cash, reserved             free cash and cash held for live orders right after the
                               fill (an order's unused reservation is released just
                               after its last fill, so it shows on the next line)
    paired_shares              min(pos_up, pos_down): shares of each leg that form
                               complete Up+Down pairs
    pair_cost                  avg_up + avg_down when this fill completed pairs, else null
    seconds_left               to the window's end
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

from pk8opt.engine.eventlog import iso_ns

METRICS_SUBDIR = Path("paper") / "metrics"
# a dry or real run's fills (the venue's): `real/metrics/`, as the original system kept
REAL_METRICS_SUBDIR = Path("real") / "metrics"
VENUE_FIELDS = ("venue_order_id", "trade_id", "venue_ts", "status")
EPS = 1e-9


class FillMetrics:
    """The writer of one run's metrics file (opened on creation, appended to)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._fh: IO[str] = open(path, "a", encoding="utf-8")  # noqa: SIM115
        self.lines = 0

    @classmethod
    def in_log_dir(cls, log_dir: Path, run: str, *, real: bool = False) -> FillMetrics:
        """`<log_dir>/paper/metrics/<run>.jsonl` (`real/metrics/` for the venue's fills)."""
        sub = REAL_METRICS_SUBDIR if real else METRICS_SUBDIR
        return cls(Path(log_dir) / sub / f"{run}.jsonl")

    def tap(self, log: Any, engine: Any, *, event: str = "paper_fill") -> MetricsTap:
        """An event log that also writes this file's line for each fill (`event`:
        `paper_fill` of the paper engine, `real_fill` of the real venue). `engine` is
        what holds the account and the market; it may be set on the tap later."""
        return MetricsTap(log, self, engine, event)

    def write_fill(
        self, engine: Any, t_ns: int, fill: dict[str, Any], paired_before: float
    ) -> None:
        acct = engine.account
        market = engine.market
        pos_up, pos_dn = acct.pos
        avg_up, avg_dn = acct.avg_cost(0), acct.avg_cost(1)
        paired = min(pos_up, pos_dn)
        record = {
            "ts": iso_ns(t_ns),
            "ts_ns": t_ns,
            "symbol": market.symbol,
            "slug": market.slug,
            "token": fill["outcome"],
            "side": fill["side"],
            "price": fill["price"],
            "qty": fill["qty"],
            "fee": fill["fee"],
            "liquidity": fill["liquidity"],
            "why": fill["why"],
            "order_id": fill["order_id"],
            # the venue's own ids and time, on a real fill
            **{k: fill[k] for k in VENUE_FIELDS if k in fill},
            "pos_up": pos_up,
            "pos_down": pos_dn,
            "avg_up": avg_up,
            "avg_down": avg_dn,
            "cash": acct.cash,
            "reserved": acct.reserved,
            "paired_shares": paired,
            "pair_cost": avg_up + avg_dn if paired > paired_before + EPS else None,
            "seconds_left": (market.window_end_ns - t_ns) / 1e9,
        }
        self._fh.write(json.dumps(record, separators=(",", ":")) + "\n")
        self._fh.flush()
        self.lines += 1

    def close(self) -> None:
        self._fh.close()


class MetricsTap:
    """Stands in for the engine's `EventLog`: passes every event on to `inner` (if
    any) and, after each `paper_fill`, writes the fill's metrics line."""

    def __init__(
        self, inner: Any, metrics: FillMetrics, engine: Any, event: str = "paper_fill"
    ) -> None:
        self.inner = inner
        self.metrics = metrics
        self.engine = engine
        self.event = event
        self.paired_shares = 0.0

    def write(self, event: str, t_ns: int, slug: str, **fields: Any) -> None:
        if self.inner is not None:
            self.inner.write(event, t_ns, slug, **fields)
        if event == self.event and self.engine is not None:
            before = self.paired_shares
            pos = self.engine.account.pos
            self.paired_shares = min(pos[0], pos[1])
            self.metrics.write_fill(self.engine, t_ns, fields, before)

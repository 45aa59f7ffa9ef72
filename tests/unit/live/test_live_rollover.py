"""The live runner across a window rollover, driven step by step as the trader uses it
(`p` pressed in the first window, then the next window discovered while the ended one
awaits its resolution): the pause holds for the new window, the symbol's row follows the
window it shows, and the portfolio keeps both windows with their own state. The real
`LiveRunner` and paper engine; Gamma, the socket and the clock are stand-ins."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from pk8opt.live import EngineStepper, LiveOptions, LiveRunner
from pk8opt.live.settings import settings_from_env
from pk8opt.polymarket.gamma import GammaReply
from pk8opt.recordings.manifest import Manifest
from pk8opt.recordings.schema import ASK, BID, DOWN, NO_SIDE, UP, Kind
from pk8opt.recordings.synthetic import T0_S, make_manifest, make_session
from pk8opt.trading.run_config import RunConfig

S = 1_000_000_000


class Clock:
    def __init__(self, t_s: float) -> None:
        self.t_s = t_s

    def now_s(self) -> float:
        return self.t_s

    def now_ns(self) -> int:
        return int(self.t_s * S)

    def wall_seconds(self, venue_s: float) -> float:
        return venue_s


class Market:
    """What the runner reads of a Gamma market: its manifest and its outcome."""

    def __init__(self, manifest: Manifest) -> None:
        self._manifest, self.winner = manifest, None

    def __getattr__(self, name: str) -> Any:  # slug, tokens, window ...: the manifest's
        return getattr(self._manifest, name)

    def outcome(self) -> str | None:
        return self.winner


class Gamma:
    def __init__(self, markets: dict[str, Market]) -> None:
        self.markets = markets

    async def market_by_slug(self, slug: str, window_s: int | None = None) -> GammaReply:
        return GammaReply(self.markets.get(slug), f"http://gamma/markets?slug={slug}", "[]")  # type: ignore[arg-type]


class MarketSocket:
    connected = False

    async def add_assets(self, assets: list[str]) -> None:
        pass

    async def remove_assets(self, assets: list[str]) -> None:
        pass


def book(stepper: EngineStepper, manifest: Manifest, t_s: float, frame: int) -> None:
    """A book frame for the window: 0.40 bid / 0.60 ask on both tokens."""
    t_ns = int(t_s * S)
    rows = []
    for tok in (UP, DOWN):
        rows.append((t_ns, frame, int(Kind.BOOK_RESET), tok, NO_SIDE, -1, 0.0))
        rows.append((t_ns, frame, int(Kind.LEVEL), tok, BID, 400, 100.0))
        rows.append((t_ns, frame, int(Kind.LEVEL), tok, ASK, 600, 100.0))
    stepper.on_frame(make_session(rows, manifest).events)


def live_orders(stepper: EngineStepper) -> list:
    return [o for o in stepper.engine.orders.values() if o.live and not o.cancel_requested]


def test_a_pause_holds_across_the_rollover_and_each_row_follows_its_window(
    tmp_path: Path,
) -> None:
    first = make_manifest(start_s=T0_S)
    second = make_manifest(start_s=T0_S + 900)
    markets = {first.slug: Market(first), second.slug: Market(second)}
    settings = settings_from_env(
        {"PM_STRATEGY": "fixed", "PM_WATCHLIST": "BTC:15m"}, with_run_config=False
    )
    config = RunConfig.resolve(
        "fixed",
        {
            "warmup_seconds": 0,
            "PM_PAPER_POST_LATENCY_MS": 0,
            "PM_PAPER_CANCEL_REQ_LATENCY_MS": 0,
            "PM_PAPER_CANCEL_CLEAR_LATENCY_MS": 0,
        },
    )
    clock = Clock(T0_S + 10)
    runner = LiveRunner(
        settings,
        LiveOptions(headless=True, log_dir=tmp_path / "logs", out=lambda line: None),
        make_stepper=lambda run, traded: EngineStepper(run.manifest, config, runner.log, traded),
        clock=clock,
    )
    runner.gamma, runner.msock = Gamma(markets), MarketSocket()
    row = runner.state.markets["BTC:15m"]

    asyncio.run(runner.step(None))  # discovers the first window
    one = runner.runs[first.slug].stepper
    book(one, first, T0_S + 11, 1)
    book(one, first, T0_S + 12, 2)
    assert live_orders(one) and row.status == "quoting"

    asyncio.run(runner.step("p"))  # the trader pauses
    assert not live_orders(one) and row.status == "paused" and runner.state.paused

    clock.t_s = T0_S + 905  # the first window ended; no resolution yet
    asyncio.run(runner.step(None))
    two = runner.runs[second.slug].stepper
    assert row.slug == second.slug and row.status == "paused"  # the new window's state
    book(two, second, T0_S + 906, 1)
    book(two, second, T0_S + 907, 2)
    assert not two.engine.orders  # paused from its first frame: nothing posted
    windows = [(w.slug, w.state) for w in runner.state.windows]
    assert windows == [(first.slug, "awaiting"), (second.slug, "open")]

    asyncio.run(runner.step("p"))  # resumed: the new window quotes
    book(two, second, T0_S + 908, 3)
    book(two, second, T0_S + 909, 4)
    assert live_orders(two) and row.status == "quoting"

    markets[first.slug].winner = "Up"  # Gamma shows the first window resolved
    clock.t_s = T0_S + 920
    asyncio.run(runner.step(None))
    assert runner.runs[first.slug].done and runner.runs[first.slug].resolved == "Up"
    assert row.slug == second.slug and row.status == "quoting"  # not "resolved Up"
    windows = [(w.slug, w.state) for w in runner.state.windows]
    assert windows == [(first.slug, "settled"), (second.slug, "open")]
    runner.log.close()

"""The live screen a trader reads: fills and decisions in words with requote churn
folded, capital said once per window and in total, open orders, gate counts, and the
summary printed on quitting."""

from __future__ import annotations

import io

from rich.console import Console

from pk8opt.live.dashboard import DashboardState, OrderView, WindowView, render
from pk8opt.live.summary import summary_text
from pk8opt.live.words import LogFolder

T0 = 1767200400 * 10**9
SLUG = "btc-updown-15m-1767200400"


def screen(state: DashboardState, width: int = 120, height: int = 40) -> str:
    console = Console(width=width, height=height, record=True, file=io.StringIO())
    console.print(render(state, height))
    return console.export_text()


def ev(name: str, s: float, **fields) -> dict:
    return {"event": name, "ts_ns": T0 + int(s * 1e9), "slug": SLUG, **fields}


def test_churn_is_folded_into_one_running_line_per_symbol() -> None:
    state = DashboardState()
    words = LogFolder(state)
    for i in range(5):
        words.add(ev("paper_order_submit", i, symbol="BTC", order_id=i))
        words.add(ev("paper_order_open", i + 0.05, order_id=i))
        words.add(ev("paper_order_cancel_req", i + 0.5, order_id=i))
        words.add(ev("paper_order_cancelled", i + 0.6, order_id=i))
    assert len(state.logs) == 1
    assert state.logs[0].endswith("[orders] BTC requoting: 5 placed, 5 cancelled")
    assert state.logs[0].startswith("17:00:04")  # stamped with the last event's time
    words.add(
        ev(
            "paper_fill",
            6,
            symbol="BTC",
            outcome="Up",
            side="BUY",
            qty=10.0,
            price=0.45,
            fee=0.0,
            liquidity="maker",
            why="queue",
        )
    )
    words.add(ev("paper_order_submit", 7, symbol="BTC", order_id=9))
    assert len(state.logs) == 3  # the fill breaks the fold: a new churn line starts after it
    assert state.logs[1] == (
        "17:00:06 [fill] BTC bought 10 Up @ 0.450 (maker: its turn in the queue), fee $0.00"
    )
    assert state.logs[2].endswith("BTC requoting: 1 placed")


def test_each_symbol_keeps_one_running_churn_line_until_news() -> None:
    state = DashboardState()
    words = LogFolder(state)
    words.add(ev("paper_order_submit", 1, symbol="BTC"))
    words.add({"event": "paper_order_submit", "ts_ns": T0, "slug": "eth-updown-15m-1767200400"})
    words.add(ev("paper_order_cancelled", 2))
    assert [line.split("] ", 1)[1] for line in state.logs] == [
        "BTC requoting: 1 placed, 1 cancelled",  # one running line per symbol
        "ETH requoting: 1 placed",
    ]


def test_windows_pause_and_feed_events_read_as_sentences() -> None:
    state = DashboardState()
    words = LogFolder(state)
    words.add(ev("market_discovered", 0, symbol="BTC", traded=True))
    words.add(ev("quoting_paused", 1))
    words.add(ev("feed_disconnected", 2, socket="market", reason="closed 1006"))
    words.add(ev("market_resolved", 3, winner="Down", source="market_resolved"))
    words.add(
        ev(
            "paper_settlement",
            3,
            symbol="BTC",
            winner="Down",
            up_shares=0.0,
            down_shares=5.0,
            payout=5.0,
        )
    )
    text = "\n".join(state.logs)
    assert f"BTC new window {SLUG} (quoting)" in text
    assert "quoting PAUSED" in text and "no quotes in any window" in text
    assert "market socket lost (closed 1006), reconnecting" in text
    assert "BTC window resolved Down (from market_resolved)" in text
    assert "BTC settled: Down won; held 0 Up / 5 Down, paid out $5.00" in text
    assert "ts_ns" not in text and "=" not in text


def two_windows() -> list[WindowView]:
    settled = WindowView("BTC", SLUG, "settled", 10_000.0, 10_004.5, 0.0, 0.0, 0.1, fills=4)
    live = WindowView(
        "BTC", "btc-updown-15m-1767201300", "open", 10_000.0, 9_990.0, 4.5, 6.0, 0.05, fills=2
    )
    return [settled, live]


def test_portfolio_says_the_capital_once_with_per_window_rows_and_a_total() -> None:
    state = DashboardState(strategy="balanced_arb", now_s=1767201400)
    state.windows = two_windows()
    state.fills = 6
    text = screen(state)
    assert "Paper capital $10,000.00 per window; 1 open ($10,000.00 in play), 1 closed" in text
    assert "P&L +$5.00 (realized +$4.50, open +$0.50)" in text
    assert "$19,994" not in text  # the two accounts' cash is never summed as if one
    assert "BTC 17:00:00" in text and "BTC 17:15:00" in text  # windows by their start
    total = next(line for line in text.splitlines() if "Total" in line)
    assert "+$5.00" in total and "6" in total


def test_open_orders_panel_and_gate_counts() -> None:
    state = DashboardState(now_s=1767201400)
    state.orders = [
        OrderView("BTC", "Up", 0.45, 10.0, 0.0, "open", 3.2),
        OrderView("BTC", "Down", 0.52, 10.0, 4.0, "cancelling", 0.4),
    ]
    state.gates = {"edge": 7, "inventory": 2}
    text = screen(state)
    assert "Open orders (2)" in text
    up = next(line for line in text.splitlines() if "0.45" in line and "Up" in line)
    assert "BUY" in up and "open" in up and "3s" in up
    assert any("0.52" in line and "cancelling" in line for line in text.splitlines())
    assert "Gates: edge 7  inventory 2" in text
    state.orders, state.gates = [], {}
    text = screen(state)
    assert "(no open orders)" in text and "Open orders (0)" in text


def test_summary_on_quitting_gives_each_window_and_the_total() -> None:
    state = DashboardState(strategy="balanced_arb", paused=True)
    state.windows = two_windows()
    text = summary_text(state)
    lines = text.splitlines()
    assert lines[0] == "pk8opt live (paper, strategy balanced_arb) stopped:"
    settled = next(line for line in lines if SLUG in line)
    assert "settled" in settled and "+$4.50" in settled and "$0.10" in settled
    total = next(line for line in lines if line.strip().startswith("Total"))
    assert "2 window(s)" in total and "+$5.00" in total and "$0.15" in total and " 6 " in total
    assert "1 window(s) not settled" in text and "paused" in text
    assert "no window was traded" in summary_text(DashboardState())


def test_a_fill_of_the_paper_engine_reads_with_what_filled_it(tmp_path) -> None:
    """The fill line from the event the engine really writes (its fields, not a
    hand-made dict): side, size, token, price, liquidity, why, fee."""
    import json

    from pk8opt.live import EngineStepper, RunLog
    from pk8opt.recordings.schema import ASK, BID, DOWN, NO_SIDE, UP, Kind
    from pk8opt.recordings.synthetic import make_manifest, make_session
    from pk8opt.trading.run_config import RunConfig

    manifest = make_manifest()
    t0 = manifest.window_start_s * 10**9 + 10 * 10**9
    config = RunConfig.resolve("fixed", {"warmup_seconds": 0, "PM_PAPER_POST_LATENCY_MS": 0})
    log = RunLog(tmp_path / "events.jsonl")
    stepper = EngineStepper(manifest, config, log, traded=True)
    for k in (1, 2):  # a book: the fixed strategy bids 0.45 for 5 of each token
        rows = [
            (t0 + k * 10**9, k, int(Kind.BOOK_RESET), tok, NO_SIDE, -1, 0.0) for tok in (UP, DOWN)
        ]
        rows += [(t0 + k * 10**9, k, int(Kind.LEVEL), tok, BID, 400, 100.0) for tok in (UP, DOWN)]
        rows += [(t0 + k * 10**9, k, int(Kind.LEVEL), tok, ASK, 600, 100.0) for tok in (UP, DOWN)]
        stepper.on_frame(make_session(rows, manifest).events)
    trade = [(t0 + 3 * 10**9, 3, int(Kind.TRADE), UP, ASK, 450, 10.0)]  # a seller hits 0.45
    stepper.on_frame(make_session(trade, manifest).events)
    log.close()
    events = [json.loads(x) for x in (tmp_path / "events.jsonl").read_text().splitlines()]
    fill = next(e for e in events if e["event"] == "paper_fill")
    state = DashboardState()
    LogFolder(state).add(fill)
    assert state.logs[-1].endswith(
        "[fill] BTC bought 5 Up @ 0.450 (maker: its turn in the queue), fee $0.00"
    )

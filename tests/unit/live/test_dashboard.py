"""The dashboard renders the state it is given; headless lines; the key reader."""

from __future__ import annotations

import io
import os
import pty
import select

from rich.console import Console

from pk8opt.live.dashboard import (
    DashboardState,
    KeyReader,
    MarketView,
    PortfolioView,
    PositionView,
    event_line,
    render,
)

NOW = 1767200400 + 100  # 100 s into the btc-updown-15m-1767200400 window


def screen(state: DashboardState, width: int = 100, height: int = 32) -> str:
    console = Console(width=width, height=height, record=True, file=io.StringIO())
    console.print(render(state, height))
    return console.export_text()


def sample_state() -> DashboardState:
    state = DashboardState(strategy="balanced_arb", now_s=NOW, connection="live")
    state.markets["BTC:15m"] = MarketView(
        "BTC:15m",
        up_bid=0.51,
        up_ask=0.52,
        down_bid=0.48,
        down_ask=0.49,
        end_s=1767200400 + 900,
        traded=True,
        status="quoting",
    )
    state.markets["ETH:15m"] = MarketView("ETH:15m", status="discovering")
    state.portfolio = PortfolioView(
        cash=9995.2,
        reserved=2.4,
        positions=[PositionView("BTC UP", 5, 0.48, 0.51), PositionView("BTC DOWN", 5, 0.49, 0.48)],
    )
    state.log("trade", "balanced_arb up={px:0.52,q:5} dn={px:0.48,q:5}")
    state.log("paper", "fill BTC UP 5 @ 0.52")
    state.log("gate", "EDGE blocks BTC UP")
    return state


def test_markets_panel_shows_both_tokens_spread_and_time_left() -> None:
    text = screen(sample_state())
    assert "Markets" in text
    assert "0.51/0.52" in text and "0.48/0.49" in text
    assert "0.990" in text  # up bid + down bid
    assert "13:20" in text  # 800 s left
    assert "ETH:15m" in text and "discovering" in text


def test_markets_panel_names_the_bid_sum_for_what_it_is() -> None:
    text = screen(sample_state())
    assert "Bid sum" in text and "Spread" not in text  # `max_spread` is one token's spread
    assert sample_state().markets["BTC:15m"].bid_sum == 0.51 + 0.48


def test_reserved_says_what_it_holds() -> None:
    text = " ".join(screen(sample_state(), width=160).split())
    assert "Reserved: cash held by live orders (posting, open or cancelling)" in text
    assert "price x size plus the largest taker fee each could pay" in text
    state = sample_state()
    state.portfolio.reserved = 0.0
    assert "cash held by live orders" not in screen(state, width=160)


def test_portfolio_panel_shows_cash_reserved_positions_and_pnl() -> None:
    text = screen(sample_state())
    assert "Cash: $9,995.20" in text and "Reserved: $2.40" in text
    assert "BTC UP" in text and "$0.48" in text and "+$0.15" in text
    assert "BTC DOWN" in text and "-$0.05" in text


def test_logs_panel_and_header_modes() -> None:
    state = sample_state()
    text = screen(state)
    assert "[paper] fill BTC UP 5 @ 0.52" in text and "[gate] EDGE blocks" in text
    assert "quoting" in text and "p pause/resume quoting" in text
    state.paused = True
    assert "PAUSED" in screen(state)
    state.paused, state.trade_enabled = False, False
    assert "watch only" in screen(state)


def test_logs_keep_the_newest_lines_that_fit() -> None:
    state = sample_state()
    for i in range(300):
        state.log("paper", f"line {i}")
    text = screen(state, height=30)
    assert "line 299" in text and "line 0 " not in text


def test_ended_window_and_unknown_prices() -> None:
    state = DashboardState(now_s=NOW)
    state.markets["SOL:15m"] = MarketView("SOL:15m", end_s=NOW - 30, status="awaiting resolution")
    text = screen(state)
    assert "ended 30s" in text and "awaiting resolution" in text


def test_event_line_is_one_compact_line() -> None:
    line = event_line(
        {
            "event": "paper_fill",
            "ts": 1767200500123456789,
            "symbol": "BTC",
            "qty": 5.0,
            "price": 0.48,
            "order_id": "o-1",
        }
    )
    assert line == "17:01:40.123 paper_fill symbol=BTC qty=5 price=0.48 order_id=o-1"
    assert "\n" not in event_line({"event": "x", "ts": "2026-01-01T00:00:00Z", "note": "a\nb"})


def test_event_line_prints_whole_slugs() -> None:
    slug, next_slug = "btc-updown-15m-1767200400", "ethereum-updown-15m-1767201300"
    line = event_line(
        {"event": "window_start", "ts": 1767200500.0, "slug": slug, "next_slug": next_slug}
    )
    assert f" slug={slug}" in line and f" next_slug={next_slug}" in line and "…" not in line
    long_token = "7" * 70  # other long values are still cut in the middle
    assert "…" in event_line({"event": "x", "ts": 1767200500.0, "token": long_token})


def test_key_reader_is_inert_without_a_terminal() -> None:
    with KeyReader(io.StringIO("q")) as keys:
        assert not keys.enabled and keys.read_key() is None


def test_key_reader_reads_keys_from_a_terminal_without_blocking() -> None:
    master, slave = pty.openpty()
    try:
        with os.fdopen(slave, "r", closefd=False) as stream, KeyReader(stream) as keys:
            assert keys.enabled
            assert keys.read_key() is None  # nothing pressed: returns at once
            for key in ("p", "q"):
                os.write(master, key.encode())
                select.select([slave], [], [], 5)  # the pty delivers the byte
                assert keys.read_key() == key
    finally:
        os.close(master)
        os.close(slave)

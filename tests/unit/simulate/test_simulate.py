"""The simulator writes sessions that look, frame by frame, like recorded ones."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from pk8opt.errors import ConfigError
from pk8opt.recordings.manifest import read_manifest
from pk8opt.recordings.raw import frames_path, read_frames, sha256_file
from pk8opt.simulate import (
    EDGE_PRESET_REGION,
    PRESETS,
    in_edge_region,
    preset,
    simulate_session,
)
from pk8opt.simulate.model import SYMBOLS, model_for
from pk8opt.simulate.path import EPOCH_S, window_anchors, window_path
from pk8opt.simulate.session import resolve_outcome

START = 1_791_194_400  # 2026-10-05T10:00:00Z
PRICE = re.compile(r"^(0|1|0\.\d{1,3})$")
SIZE = re.compile(r"^\d+(\.\d{1,2})?$")


def milli(s: str) -> int:
    return int(round(float(s) * 1000))


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("sim")
    return {sym: simulate_session(out, sym, START, seed=11) for sym in ("BTC", "XRP")}


def load(session: Path) -> list[tuple[int, str, object, str | None]]:
    """(recv ns, channel, decoded raw or the text itself, src) for every frame."""
    path = frames_path(session)
    assert path is not None and path.name == "frames.jsonl.gz"
    frames, bad = read_frames(path)
    assert bad == []
    out = []
    for f in frames:
        try:
            obj: object = json.loads(f.raw)
        except json.JSONDecodeError:
            obj = f.raw
        out.append((f.t, f.ch, obj, f.src))
    return out


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    a = simulate_session(tmp_path / "a", "ETH", START, seed=5)
    b = simulate_session(tmp_path / "b", "ETH", START, seed=5)
    c = simulate_session(tmp_path / "c", "ETH", START, seed=6)
    sha = [sha256_file(frames_path(p)) for p in (a, b, c)]  # type: ignore[arg-type]
    assert sha[0] == sha[1] != sha[2]
    assert (a / "manifest.json").read_bytes() == (b / "manifest.json").read_bytes()
    assert read_manifest(a).sha256 == sha[0]


def test_manifest_describes_the_session(sessions: dict[str, Path]) -> None:
    for sym, folder in sessions.items():
        m = read_manifest(folder)
        assert m.source == "simulated" and m.status == "complete"
        assert m.slug == f"{sym.lower()}-updown-15m-{START}" == folder.name
        assert (m.window_start_s, m.window_end_s) == (START, START + 900)
        assert m.fees_enabled and m.fee_schedule is not None and m.fee_schedule.rate == 0.07
        assert m.resolution.outcome in ("Up", "Down")
        assert m.frames == len(load(folder))
        assert sorted(p.name for p in folder.iterdir()) == ["frames.jsonl.gz", "manifest.json"]
        assert m.first_ns is not None and m.first_ns < START * 10**9
        assert m.last_ns is not None and m.last_ns > (START + 900 + 60) * 10**9


def test_books_are_complements_and_match_the_venue_fields(
    sessions: dict[str, Path], fixtures_dir: Path
) -> None:
    capture = [
        json.loads(line)
        for line in (fixtures_dir / "market_ws/ws_market_price_change_crossing_burst.frames.jsonl")
        .read_text()
        .splitlines()
    ]
    keys_initial_book = list(capture[0])
    keys_change = list(capture[1])
    keys_entry = list(capture[1]["price_changes"][0])
    keys_post_book = list(capture[-1])
    for folder in sessions.values():
        m = read_manifest(folder)
        up, down = m.token_up, m.token_down
        books: dict[str, dict[str, dict[int, float]]] = {}
        tick = {up: 10, down: 10}
        seen = {"tick_size_change": 0, "last_trade_price": 0, "best_bid_ask": 0, "book": 0}
        last_ms = 0
        last_recv = 0
        taker: dict[int, float] = {}  # the fills of one taker order share its timestamp
        market = [(t, o) for t, ch, o, _ in load(folder) if ch == "market"]
        assert isinstance(market[0][1], list), "the initial dump is an array frame"

        def best(asset: str, books: dict = books) -> tuple[int, int]:
            return max(books[asset]["bids"]), min(books[asset]["asks"])

        for recv, obj in market:
            assert recv >= last_recv
            last_recv = recv
            if obj == "PONG":
                continue
            items = obj if isinstance(obj, list) else [obj]
            for msg in items:
                assert isinstance(msg, dict)
                assert msg["market"] == m.condition_id
                assert isinstance(msg["timestamp"], str)
                ts = int(msg["timestamp"])
                assert ts >= last_ms
                last_ms = ts
                kind = msg["event_type"]
                if kind == "book":
                    seen["book"] += isinstance(obj, dict)
                    keys = keys_initial_book if isinstance(obj, list) else keys_post_book
                    assert list(msg) == keys
                    for side in ("bids", "asks"):
                        prices = [milli(lv["price"]) for lv in msg[side]]
                        for lv in msg[side]:
                            assert PRICE.match(lv["price"]) and SIZE.match(lv["size"])
                        # worst first: the best is the last element
                        assert prices == sorted(prices, reverse=(side == "asks"))
                        assert len(set(prices)) == len(prices)
                    books[msg["asset_id"]] = {
                        s: {milli(lv["price"]): float(lv["size"]) for lv in msg[s]}
                        for s in ("bids", "asks")
                    }
                elif kind == "price_change":
                    assert list(msg) == keys_change
                    assert {e["asset_id"] for e in msg["price_changes"]} == {up, down}
                    for e in msg["price_changes"]:
                        assert list(e) == keys_entry
                        for k in ("price", "best_bid", "best_ask"):
                            assert PRICE.match(e[k]), e
                        assert SIZE.match(e["size"]) and re.match(r"^[0-9a-f]{40}$", e["hash"])
                        p = milli(e["price"])
                        assert p % tick[e["asset_id"]] == 0
                        side = books[e["asset_id"]]["bids" if e["side"] == "BUY" else "asks"]
                        if float(e["size"]) == 0:
                            side.pop(p, None)
                        else:
                            side[p] = float(e["size"])
                        assert best(e["asset_id"]) == (milli(e["best_bid"]), milli(e["best_ask"]))
                elif kind == "best_bid_ask":
                    seen[kind] += 1
                    bb, ba = best(msg["asset_id"])
                    assert (milli(msg["best_bid"]), milli(msg["best_ask"])) == (bb, ba)
                    assert milli(msg["spread"]) == ba - bb
                elif kind == "tick_size_change":
                    seen[kind] += 1
                    assert (msg["old_tick_size"], msg["new_tick_size"]) == ("0.01", "0.001")
                    tick[msg["asset_id"]] = 1
                elif kind == "last_trade_price":
                    seen[kind] += 1
                    assert msg["side"] in ("BUY", "SELL") and PRICE.match(msg["price"])
                    assert float(msg["size"]) > 0
                    taker[ts] = taker.get(ts, 0.0) + float(msg["size"])
                    assert msg["fee_rate_bps"] == "1000"
                elif kind == "market_resolved":
                    assert msg["winning_asset_id"] == (
                        up if msg["winning_outcome"] == "Up" else down
                    )
                else:
                    raise AssertionError(f"unexpected event_type {kind}")
            if up in books and down in books:
                ubb, uba = best(up)
                dbb, dba = best(down)
                assert ubb < uba, "crossed book"
                assert ubb == 1000 - dba and uba == 1000 - dbb
        assert all(v > 0 for v in seen.values()), seen
        assert all(4.99 <= v <= 5000 * 2 for v in taker.values()), sorted(taker.values())[:3]


def live_prices(folder: Path, topic: str) -> dict[int, float]:
    out: dict[int, float] = {}
    for _, ch, obj, _ in load(folder):
        if ch == "live" and isinstance(obj, dict) and obj["topic"] == topic:
            if obj["type"] == "subscribe":
                for pt in obj["payload"]["data"]:
                    out[pt["timestamp"]] = pt["value"]
            else:
                out[obj["payload"]["timestamp"]] = obj["payload"]["value"]
    return out


def test_resolution_follows_chainlink(sessions: dict[str, Path]) -> None:
    for folder in sessions.values():
        m = read_manifest(folder)
        cl = live_prices(folder, "crypto_prices_chainlink")
        start, end = cl[START * 1000], cl[(START + 900) * 1000]
        assert m.resolution.outcome == ("Up" if end >= start else "Down")
        assert m.resolution.source == "market_resolved"
        gammas = [o for _, ch, o, _ in load(folder) if ch == "gamma"]
        assert len(gammas) == 2
        closed = gammas[-1][0]  # type: ignore[index]
        assert closed["closed"] is True
        assert json.loads(closed["outcomePrices"]) == (
            ["1", "0"] if m.resolution.outcome == "Up" else ["0", "1"]
        )
        assert m.resolution.known_at_ns is not None
        assert (START + 900 + 60) * 10**9 <= m.resolution.known_at_ns <= (START + 1021) * 10**9


def test_ties_resolve_up() -> None:
    assert resolve_outcome(100.0, 100.0) == 0
    assert resolve_outcome(100.0, 100.00000001) == 0
    assert resolve_outcome(100.0, 99.99999999) == 1


def test_live_and_gamma_frames_have_the_real_shape(
    sessions: dict[str, Path], fixtures_dir: Path
) -> None:
    real = [
        json.loads(line)
        for line in (fixtures_dir / "rtds/rtds_frames_2026-09-05_polyoxide_spec.jsonl")
        .read_text()
        .splitlines()
    ]
    real_update = {f["topic"]: f for f in real if f.get("type") == "update"}
    real_gamma = json.loads(
        (fixtures_dir / "gamma/gamma_market_btc-updown-15m-1767200400_2025-12-31.json").read_text()
    )
    for sym, folder in sessions.items():
        frames = load(folder)
        assert frames[0][1] == "gamma" and frames[0][3] is not None
        notes = [o["kind"] for _, ch, o, _ in frames if ch == "note"]  # type: ignore[index]
        assert notes.count("connected") == 2 and notes.count("subscribed") == 2
        live = [o for _, ch, o, _ in frames if ch == "live"]
        assert [o["type"] for o in live[:2]] == ["subscribe", "subscribe"]  # type: ignore[index]
        for o in live[2:]:
            assert isinstance(o, dict)
            ref = real_update[o["topic"]]
            assert list(o) == list(ref)
            assert list(o["payload"]) == list(ref["payload"])
            assert o["payload"]["timestamp"] % 1000 == 0
            assert float(o["payload"]["full_accuracy_value"]) / (
                1e18 if o["topic"] == "crypto_prices_chainlink" else 1
            ) == pytest.approx(o["payload"]["value"], rel=1e-12)
        dur_s = (frames[-1][0] - frames[0][0]) / 1e9
        for topic in ("crypto_prices", "crypto_prices_chainlink"):
            n = sum(1 for o in live[2:] if o["topic"] == topic)  # type: ignore[index]
            assert 0.95 * dur_s - 3 <= n <= dur_s + 1
        binance = live_prices(folder, "crypto_prices")
        level = np.median(list(binance.values()))
        assert SYMBOLS[sym].base_price * 0.5 < level < SYMBOLS[sym].base_price * 2
        gamma = frames[0][2][0]  # type: ignore[index]
        for key in ("clobTokenIds", "outcomes", "outcomePrices"):
            assert isinstance(gamma[key], str) and isinstance(json.loads(gamma[key]), list)
            assert type(gamma[key]) is type(real_gamma[key])
        assert json.loads(gamma["clobTokenIds"]) == [
            read_manifest(folder).token_up,
            read_manifest(folder).token_down,
        ]
        assert gamma["feeSchedule"] == {
            "exponent": 1,
            "rate": 0.07,
            "takerOnly": True,
            "rebateRate": 0.2,
        }
        assert gamma["orderPriceMinTickSize"] == 0.01 and gamma["orderMinSize"] == 5
        assert gamma["eventStartTime"] == "2026-10-05T10:00:00Z"
        assert gamma["endDate"] == "2026-10-05T10:15:00Z"


def test_message_rates_are_in_the_documented_band(sessions: dict[str, Path]) -> None:
    """docs/simulator.md: about 3-25 market messages/s on average over the window, the
    busiest 10 s above 15/s, and quiet stretches well below the busy ones."""
    for folder in sessions.values():
        per_s: dict[int, int] = {}
        for t, ch, obj, _ in load(folder):
            if ch != "market" or obj == "PONG":
                continue
            n = len(obj) if isinstance(obj, list) else 1
            per_s[t // 10**9] = per_s.get(t // 10**9, 0) + n
        counts = np.array([per_s.get(s, 0) for s in range(START, START + 900)])
        assert 3 <= counts.mean() <= 25
        ten = np.convolve(counts, np.ones(10), "valid") / 10
        thirty = np.convolve(counts, np.ones(30), "valid") / 30
        assert ten.max() >= 15
        assert thirty.min() <= ten.max() / 2


def test_consecutive_windows_share_one_price_path(tmp_path: Path) -> None:
    a = simulate_session(tmp_path, "SOL", START, seed=2)
    b = simulate_session(tmp_path, "SOL", START + 900, seed=2)
    pa = live_prices(a, "crypto_prices_chainlink")
    pb = live_prices(b, "crypto_prices_chainlink")
    common = set(pa) & set(pb)
    assert len(common) > 60
    assert all(pa[k] == pb[k] for k in common)


def test_realised_volatility_matches_the_symbol() -> None:
    sym, model = model_for("BTC")
    rets = [
        float(np.diff(window_path(sym, model, 3, START + 900 * k, 900).log_price[[0, -1]])[0])
        for k in range(192)
    ]
    expected = sym.annual_vol * math.sqrt(900 / (365 * 86400))
    assert expected * 0.75 < float(np.std(rets)) < expected * 1.3


def returns_15m(symbol: str, seed: int, days: int, **overrides: object) -> np.ndarray:
    """The 15-minute log returns of `days` days of windows: their boundaries' prices."""
    sym, model = model_for(symbol, **overrides)
    first = (START - EPOCH_S) // 86400
    return np.concatenate(
        [np.diff(window_anchors(sym, model, seed, d, 900)[0]) for d in range(first, first + days)]
    )


def test_symbols_share_a_common_factor_with_the_set_correlation() -> None:
    """Same window start, same factor: 15-minute returns correlate near the setting, and
    not at all with the factor off."""
    rets = {s: returns_15m(s, 4, 20) for s in SYMBOLS}  # 1,920 windows
    pairs = [(a, b) for a in SYMBOLS for b in SYMBOLS if a < b]
    corr = [float(np.corrcoef(rets[a], rets[b])[0, 1]) for a, b in pairs]
    default = model_for("BTC")[1].symbol_correlation
    assert 0.6 <= default <= 0.8
    assert abs(float(np.mean(corr)) - default) < 0.05, corr
    assert min(corr) > default - 0.1, corr
    half = {s: returns_15m(s, 4, 20, symbol_correlation=0.3) for s in ("BTC", "SOL")}
    assert abs(float(np.corrcoef(half["BTC"], half["SOL"])[0, 1]) - 0.3) < 0.08
    alone = {s: returns_15m(s, 4, 20, symbol_correlation=0.0) for s in ("BTC", "SOL")}
    assert abs(float(np.corrcoef(alone["BTC"], alone["SOL"])[0, 1])) < 0.08
    # the factor moves the paths together, each at its own volatility
    for s in SYMBOLS:
        expected = SYMBOLS[s].annual_vol * math.sqrt(900 / (365 * 86400))
        assert expected * 0.8 < float(np.std(rets[s])) < expected * 1.25
    # the windows' own paths end on those boundaries
    sym, model = model_for("ETH")
    w = window_path(sym, model, 4, START + 900 * 5, 900)
    k = (START - EPOCH_S) % 86400 // 900 + 5
    assert float(np.diff(w.log_price[[0, -1]])[0]) == pytest.approx(float(rets["ETH"][k]))


def test_symbols_move_together_within_the_window() -> None:
    """Within a window too: one-minute returns of two symbols correlate near the setting."""
    a, b = (model_for(s) for s in ("ETH", "XRP"))
    ra, rb = [], []
    for k in range(8):
        pa = window_path(*a, 6, START + 900 * k, 900).log_price[::600]
        pb = window_path(*b, 6, START + 900 * k, 900).log_price[::600]
        ra.extend(np.diff(pa).tolist())
        rb.extend(np.diff(pb).tolist())
    assert abs(float(np.corrcoef(ra, rb)[0, 1]) - a[1].symbol_correlation) < 0.15


def taker_sells(folder: Path) -> dict[str, list[float]]:
    """Shares sold by each taker order, by token ("up"/"down"): the `last_trade_price`
    SELL prints of one order share its venue time."""
    m = read_manifest(folder)
    orders: dict[tuple[str, str], float] = {}
    for _, ch, obj, _ in load(folder):
        if not (ch == "market" and isinstance(obj, dict)):
            continue
        if obj["event_type"] == "last_trade_price" and obj["side"] == "SELL":
            key = (obj["asset_id"], obj["timestamp"])
            orders[key] = orders.get(key, 0.0) + float(obj["size"])
    token = {m.token_up: "up", m.token_down: "down"}
    out: dict[str, list[float]] = {"up": [], "down": []}
    for (asset, _), shares in orders.items():
        out[token[asset]].append(shares)
    return out


def test_edge_preset_adds_uninformed_sellers_on_both_tokens(
    sessions: dict[str, Path], tmp_path: Path
) -> None:
    """`--preset edge`: large sell orders hit both tokens' bids at `dump_rate` a second;
    the price path and the outcome are those of the plain market."""
    overrides = preset("edge")
    edge = simulate_session(tmp_path, "BTC", START, seed=11, **overrides)
    plain = sessions["BTC"]
    big = 3_000.0  # shares: beyond what an ordinary taker order fills
    expected = overrides["dump_rate"] * 900
    for tok, sizes in taker_sells(edge).items():
        n = sum(x >= big for x in sizes)
        assert 0.6 * expected <= n <= 1.4 * expected, (tok, n)
    assert sum(x >= big for sizes in taker_sells(plain).values() for x in sizes) <= 3
    chainlink = "crypto_prices_chainlink"
    assert live_prices(edge, chainlink) == live_prices(plain, chainlink)
    assert read_manifest(edge).resolution.outcome == read_manifest(plain).resolution.outcome


def test_presets_and_the_edge_region_are_plain_data() -> None:
    assert preset("default") == {} and preset(" Edge ") == PRESETS["edge"]
    model_for("BTC", **preset("edge"))  # every preset names real parameters
    with pytest.raises(ConfigError, match="--preset: 'loud' is not one of default, edge"):
        preset("loud")
    (lo, hi) = EDGE_PRESET_REGION["edge"]
    assert 0 < lo < hi and set(EDGE_PRESET_REGION) == {"edge", "join_ticks"}
    inside = {"edge": 0.02, "join_ticks": -2, "size": 20}
    assert in_edge_region(inside)
    assert not in_edge_region({**inside, "edge": hi * 2})
    assert not in_edge_region({**inside, "join_ticks": 1})
    # the pair target must be in reach at three-tick spreads: 0.06 - 0.02 > 0.03
    assert not in_edge_region({**inside, "edge": 0.06, "join_ticks": -1})
    assert in_edge_region({**inside, "edge": 0.05, "join_ticks": -1})
    assert not in_edge_region({"edge": 0.02})
    with pytest.raises(ConfigError, match="dump_rate"):
        model_for("BTC", dump_rate=-1.0)
    with pytest.raises(ConfigError, match="symbol_correlation"):
        model_for("BTC", symbol_correlation=1.5)


def test_unknown_parameter_and_symbol_are_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no_such"):
        simulate_session(tmp_path, "BTC", START, seed=1, no_such=3)
    with pytest.raises(ConfigError, match="DOGE"):
        simulate_session(tmp_path, "DOGE", START, seed=1)
    assert not any(tmp_path.iterdir())


def test_committed_samples_are_what_the_readme_command_gives(
    sample_dir: Path, tmp_path: Path
) -> None:
    """recordings/sample/README.md: `--seed 2 --start 2026-10-14T14:00:00Z
    --param symbol_correlation=0` (the samples predate the common factor)."""
    folders = sorted(p for p in sample_dir.iterdir() if (p / "manifest.json").exists())
    assert len(folders) >= 16
    assert {read_manifest(p).symbol for p in folders} == {"BTC", "ETH", "SOL", "XRP"}
    # eight windows x four symbols (enough for one walk-forward fold after the lockbox),
    # and the repository stays lean
    assert sum(frames_path(p).stat().st_size for p in folders) < 25e6  # type: ignore[union-attr]
    for m in (read_manifest(folders[0]), read_manifest(folders[-1])):  # the first and last window
        out = tmp_path / m.slug
        again = simulate_session(out, m.symbol, m.window_start_s, seed=2, symbol_correlation=0)
        assert read_manifest(again).sha256 == m.sha256, m.slug


@pytest.mark.parametrize(
    ("name", "value", "allowed"),
    [
        ("trade_rate", float("nan"), "[0, inf)"),
        ("trade_rate", -5.0, "[0, inf)"),
        ("jumps_per_hour", float("inf"), "[0, inf)"),
        ("level_size_median", 0.0, "(0, inf)"),
        ("level_fill_p", 1.5, "[0, 1]"),
    ],
)
def test_a_parameter_outside_its_range_is_one_error_naming_it(
    name: str, value: float, allowed: str
) -> None:
    with pytest.raises(ConfigError) as err:
        model_for("BTC", **{name: value})
    assert f"{name}={value}" in str(err.value) and allowed in str(err.value)

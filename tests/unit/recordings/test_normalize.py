from __future__ import annotations

import json

import numpy as np
import pytest
from support.sessions import (
    DOWN,
    MARKET,
    SLUG,
    START,
    UP,
    manifest,
    resolved_raw,
    write_session,
)

from pk8opt.errors import DataSelectionError, RecordingError
from pk8opt.recordings import load as load_mod
from pk8opt.recordings.load import load_session, load_session_report, load_sessions
from pk8opt.recordings.manifest import write_manifest
from pk8opt.recordings.normalize import normalize_session
from pk8opt.recordings.raw import FRAMES_NAME
from pk8opt.recordings.schema import EVENTS_SCHEMA, UNDERLYING_SCHEMA, Kind, Underlying
from pk8opt.recordings.session import finish_session


def test_burst_normalizes_to_the_schema(tmp_path, fixtures_dir):
    d = write_session(tmp_path, fixtures_dir)
    out = normalize_session(d, manifest())
    ev = out.events
    assert dict(ev.schema) == EVENTS_SCHEMA
    assert dict(out.underlying.schema) == UNDERLYING_SCHEMA
    kinds = ev["kind"].to_list()
    assert kinds.count(Kind.BOOK_RESET) == 2
    assert kinds.count(Kind.TICK_SIZE) == 1  # the first book says 0.001, the manifest 0.01
    assert kinds.count(Kind.LEVEL) == 98 + (24 + 22) + (23 + 23)
    first = ev.row(0, named=True)
    assert first["kind"] == Kind.TICK_SIZE and first["price"] == 1 and first["frame"] == 2
    reset = ev.filter(ev["kind"] == Kind.BOOK_RESET).row(0, named=True)
    assert (reset["token"], reset["exch_ms"], reset["frame"]) == (0, 1790658661234, 2)
    pc = ev.filter((ev["frame"] == 3) & (ev["kind"] == Kind.LEVEL))
    assert pc["token"].to_list() == [0, 1]
    assert pc["price"].to_list() == [301, 699]
    assert pc["venue_bid"].to_list() == [301, 603] and pc["venue_ask"].to_list() == [397, 699]
    assert ev["frame"].max() == 52
    # live: btcusdt (Binance) and btc/usd (Chainlink, TWAP 60 s); TWAP 30 s is skipped
    u = out.underlying
    assert set(u["source"].to_list()) == {Underlying.BINANCE, Underlying.CHAINLINK, Underlying.TWAP}
    assert u.height == 1 + 1 + 1 + 3  # three updates, one 3-point backfill of crypto_prices
    assert out.problems.counts == {"other_topic": 2, "live_status": 1}
    assert out.problems.examples["live_status"] == [f"{d / FRAMES_NAME}:59: statusCode 401"]


def test_problems_are_counted_with_file_and_line_and_good_data_kept(tmp_path, fixtures_dir):
    extra = [
        ("market", "PONG"),
        ("market", '{"event_type":"surprise","asset_id":"1"}'),
        ("market", json.dumps({"event_type": "last_trade_price", "asset_id": "999",
                               "price": "0.5", "side": "BUY", "size": "1"})),
        ("market", json.dumps({"event_type": "last_trade_price", "asset_id": UP,
                               "price": "0.5", "side": "SELL", "size": "2"})),
        ("live", json.dumps({"topic": "crypto_prices", "type": "update",
                             "payload": {"symbol": "ethusdt", "timestamp": 1, "value": 2.0}})),
        ("note", json.dumps({"kind": "gap", "socket": "market", "start_ns": 1, "duration_ns": 5})),
        ("market", resolved_raw()),
    ]  # fmt: skip
    d = write_session(tmp_path, fixtures_dir, extra)
    frames = d / FRAMES_NAME
    lines = frames.read_bytes().split(b"\n")
    lines.insert(10, b"this is not json")  # becomes line 11
    frames.write_bytes(b"\n".join(lines) + b'{"t": 1, "ch": "mar')  # cut-off tail
    out = normalize_session(d, manifest())
    c = out.problems.counts
    assert c["bad_line"] == 2 and c["text"] == 1 and c["unknown_event"] == 1
    assert c["foreign_asset"] == 1 and c["foreign_symbol"] == 1
    assert out.problems.examples["bad_line"][0].startswith(f"{frames}:11: not a frame")
    assert "cut off" in out.problems.examples["bad_line"][1]
    assert out.problems.examples["unknown_event"] == [f"{frames}:62: surprise"]
    assert set(out.problems.serious) == {"bad_line", "unknown_event", "live_status"}
    ev = out.events
    kinds = ev["kind"].to_list()
    assert kinds.count(Kind.LEVEL) == 98 + 92  # the lines around the garbage are kept
    trade = ev.filter(ev["kind"] == Kind.TRADE).row(0, named=True)
    assert (trade["token"], trade["side"], trade["price"], trade["size"]) == (0, 1, 500, 2.0)
    assert kinds.count(Kind.GAP) == 1
    resolved = ev.filter(ev["kind"] == Kind.RESOLVED)
    assert resolved["token"].to_list() == [0]


def test_load_caches_and_rebuilds_when_raw_or_version_changes(tmp_path, fixtures_dir, monkeypatch):
    d = write_session(tmp_path, fixtures_dir)
    s = load_session(d)
    assert s.slug == SLUG and s.n_events == 2 + 1 + 98 + 92
    assert s.events["price"].dtype == np.int32 and s.underlying["price"].dtype == np.float64
    cache = d / ".cache"
    (store,) = cache.glob("events-*")
    meta = json.loads((store / "header.json").read_text())["attrs"]["meta"]
    assert meta["normalizer_version"] >= 1 and meta["frames_file"] == FRAMES_NAME
    stamp = (store / "data.bin").stat().st_mtime_ns

    calls = []
    real = load_mod.normalize_session
    monkeypatch.setattr(load_mod, "normalize_session", lambda *a: calls.append(1) or real(*a))
    again = load_session(d)
    assert calls == [] and again.n_events == s.n_events
    assert (store / "data.bin").stat().st_mtime_ns == stamp
    np.testing.assert_array_equal(again.events["price"], s.events["price"])

    with open(d / FRAMES_NAME, "a") as fh:
        # received after the session's last frame (an earlier time would be left out)
        fh.write(json.dumps({"t": (START + 900) * 10**9, "ch": "market", "raw": resolved_raw()}))
        fh.write("\n")
    grown = load_session(d)
    assert calls == [1] and grown.n_events == s.n_events + 1
    assert [p.name for p in cache.glob("events-*")] != [store.name]  # rebuilt, old one gone
    assert len(list(cache.glob("events-*"))) == 1

    monkeypatch.setattr(load_mod, "NORMALIZER_VERSION", 10**6)
    load_session(d)
    assert calls == [1, 1]


def test_finished_gz_session_loads_the_same(tmp_path, fixtures_dir):
    d = write_session(tmp_path, fixtures_dir)
    plain = load_session(d)
    finish_session(d)
    assert not (d / FRAMES_NAME).exists()
    gz = load_session(d)
    for col in EVENTS_SCHEMA:
        np.testing.assert_array_equal(gz.events[col], plain.events[col])
    assert load_sessions([tmp_path])[0].n_events == plain.n_events


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"slug": "btc-updown-15m-1790658900", "window_start_s": 1790658900,
          "window_end_s": 1790659800}, "does not match the folder"),
        ({"symbol": "ETH"}, "symbol"),
        ({"token_down": ""}, "token_down is empty"),
        ({"token_down": UP}, "same id"),
        ({"window_end_s": START + 300}, "not 15m long"),
    ],
)  # fmt: skip
def test_inconsistent_manifest_is_a_clear_error(tmp_path, fixtures_dir, changes, words):
    d = write_session(tmp_path, fixtures_dir)
    write_manifest(d, manifest(**changes))
    with pytest.raises(RecordingError, match=words) as err:
        load_session_report(d)
    assert str(d / "manifest.json") in str(err.value)


def test_missing_manifest_and_frames(tmp_path, fixtures_dir):
    d = write_session(tmp_path, fixtures_dir)
    (d / "manifest.json").unlink()
    with pytest.raises(RecordingError, match="missing manifest"):
        load_session(d)
    e = tmp_path / SLUG.replace("15m", "5m")
    with pytest.raises(DataSelectionError):
        load_sessions([tmp_path / "nothing-here"])
    e.mkdir()
    write_manifest(e, manifest(slug=e.name, timeframe="5m", window_end_s=START + 300))
    with pytest.raises(RecordingError, match="no frames file"):
        load_session(e)


def test_best_bid_ask_rows_carry_the_venue_best(tmp_path, fixtures_dir):
    bba = {"event_type": "best_bid_ask", "market": MARKET, "asset_id": DOWN, "best_bid": "0.73",
           "best_ask": "0.77", "spread": "0.04", "timestamp": "1766789469958"}  # fmt: skip
    other = dict(bba, asset_id="123")
    d = write_session(tmp_path, fixtures_dir, [("market", json.dumps([bba, other]))])
    out = normalize_session(d, manifest())
    row = out.events.filter(out.events["kind"] == Kind.BEST_BID_ASK).row(0, named=True)
    assert (row["token"], row["venue_bid"], row["venue_ask"]) == (1, 730, 770)
    assert row["exch_ms"] == 1766789469958 and row["price"] == -1
    assert out.problems.counts["foreign_asset"] == 1

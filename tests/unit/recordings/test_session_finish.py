from __future__ import annotations

import json

from pk8opt.recordings.manifest import Manifest, read_manifest, write_manifest
from pk8opt.recordings.raw import FRAMES_GZ_NAME, FrameWriter, read_frames, sha256_file
from pk8opt.recordings.session import classify, finish_session, recover_session


def _manifest() -> Manifest:
    return Manifest(
        slug="btc-updown-15m-1767200400",
        symbol="BTC",
        timeframe="15m",
        condition_id="0xabc",
        token_up="1",
        token_down="2",
        window_start_s=1767200400,
        window_end_s=1767201300,
    )


def test_classify_counts_every_variant():
    assert classify("market", '[{"event_type":"book"},{"event_type":"price_change"}]') == [
        "book",
        "price_change",
    ]
    assert classify("market", '{"market":"m","bids":[],"asks":[]}') == ["book"]
    assert classify("market", "PONG") == ["text"]
    assert classify("live", '{"topic":"crypto_prices","type":"update"}') == ["crypto_prices"]
    assert classify("note", '{"kind":"gap"}') == ["note:gap"]


def test_finish_writes_counts_gaps_sha_and_compresses(tmp_path):
    write_manifest(tmp_path, _manifest())
    w = FrameWriter(tmp_path)
    w.note(10, "connected", socket="market")
    w.write(11, "market", '[{"event_type":"book","bids":[],"asks":[]}]')
    w.write(12, "market", "PONG")
    w.note(13, "gap", socket="market", start_ns=12, duration_ns=5_000_000_000)
    w.write(14, "live", '{"topic":"crypto_prices_chainlink","type":"update"}')
    w.close()
    m = finish_session(tmp_path)
    assert m.status == "complete"
    assert m.counts == {
        "book": 1,
        "crypto_prices_chainlink": 1,
        "note:connected": 1,
        "note:gap": 1,
        "text": 1,
    }
    assert len(m.gaps) == 1 and m.gaps[0].duration_ns == 5_000_000_000
    assert (m.first_ns, m.last_ns, m.frames) == (10, 14, 5)
    assert m.frames_file == FRAMES_GZ_NAME
    assert m.sha256 == sha256_file(tmp_path / FRAMES_GZ_NAME)
    assert read_manifest(tmp_path) == m
    assert json.loads((tmp_path / "manifest.json").read_text())["status"] == "complete"


def test_recover_marks_a_killed_session_incomplete_and_keeps_it(tmp_path):
    write_manifest(tmp_path, _manifest())
    w = FrameWriter(tmp_path)
    w.write(1, "market", "{}")
    w.write(2, "market", "{}")
    w.close()
    p = tmp_path / "frames.jsonl"
    p.write_bytes(p.read_bytes()[:-3])
    m = recover_session(tmp_path)
    assert m is not None and m.status == "incomplete" and m.frames == 1
    assert m.counts["bad_line"] == 1 and "cut off" in m.notes[0]
    frames, bad = read_frames(tmp_path / FRAMES_GZ_NAME)
    assert len(frames) == 1 and len(bad) == 1
    assert recover_session(tmp_path) is None  # already closed

"""`pk8opt recordings ls/check` run as a user runs them: a real process, real folders."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pk8opt.recordings.manifest import Manifest, Resolution, write_manifest
from pk8opt.recordings.raw import FRAMES_NAME, FrameWriter
from pk8opt.recordings.session import finish_session

UP = "76670567130917723816490572615540605537878462672464291990940067659127658071111"
DOWN = "54179564009642723353355316176091991063553046330768303687769988635499280029688"
MARKET = "0x285746de0e4f751fd4dc8f9dc2cecd0101ba9ad0096a43145ed9643b09514f01"
BURST = "market_ws/ws_market_price_change_crossing_burst.frames.jsonl"


def pk8opt(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from pk8opt.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def make_session(root: Path, fixtures_dir: Path, start: int, symbol: str = "BTC") -> Path:
    slug = f"{symbol.lower()}-updown-15m-{start}"
    d = root / slug
    d.mkdir(parents=True)
    m = Manifest(slug=slug, symbol=symbol, timeframe="15m", condition_id=MARKET, token_up=UP,
                 token_down=DOWN, window_start_s=start, window_end_s=start + 900)  # fmt: skip
    write_manifest(d, m)
    w = FrameWriter(d)
    t = start * 10**9
    w.note(t, "connected", socket="market")
    for line in (fixtures_dir / BURST).read_text().splitlines():
        t += 10**8
        w.write(t, "market", line)
    w.write(t + 1, "market", "PONG")
    w.write(t + 2, "live", json.dumps({"topic": "crypto_prices_chainlink", "type": "update",
            "payload": {"symbol": f"{symbol.lower()}/usd", "timestamp": 1, "value": 2.5}}))  # fmt: skip
    w.close()
    finish_session(d, resolution=Resolution("Down", "gamma", t + 3))
    return d


@pytest.fixture
def sessions(tmp_path, fixtures_dir) -> Path:
    root = tmp_path / "recs"
    make_session(root, fixtures_dir, 1790658000)
    make_session(root / "more", fixtures_dir, 1790658900, "ETH")
    return root


def test_ls_table_and_json(sessions):
    r = pk8opt("recordings", "ls", str(sessions))
    assert r.returncode == 0, r.stderr
    assert "btc-updown-15m-1790658000" in r.stdout and "eth-updown-15m-1790658900" in r.stdout
    assert "2026-09-29 05:00-05:15" in r.stdout and "Down (gamma)" in r.stdout
    rows = json.loads(pk8opt("recordings", "ls", str(sessions), "--json").stdout)
    assert [r["slug"] for r in rows] == ["btc-updown-15m-1790658000", "eth-updown-15m-1790658900"]
    assert rows[0]["frames"] == 54 and rows[0]["gaps"] == 0 and rows[0]["source"] == "recorded"


def test_check_passes_clean_sessions(sessions):
    r = pk8opt("recordings", "check", str(sessions))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 of 2 session(s) ok" in r.stdout
    data = json.loads(pk8opt("recordings", "check", str(sessions), "--json").stdout)
    assert all(s["ok"] for s in data) and data[0]["info"] == {"text": 1}


def test_check_names_file_and_line_of_bad_input(sessions):
    d = sessions / "btc-updown-15m-1790658000"
    plain = d / FRAMES_NAME
    import gzip

    lines = gzip.decompress((d / "frames.jsonl.gz").read_bytes()).decode().splitlines()
    lines.insert(4, "garbage, not a frame")
    lines.insert(6, json.dumps({"t": 1, "ch": "market", "raw": '{"event_type":"mystery"}'}))
    (d / "frames.jsonl.gz").unlink()
    plain.write_text("\n".join(lines) + "\n" + '{"t": 5, "ch": "mark')  # cut mid-line
    r = pk8opt("recordings", "check", str(sessions))
    assert r.returncode == 1
    assert "Traceback" not in r.stdout + r.stderr
    assert f"{plain}:5: not a frame" in r.stdout
    assert f"{plain}:7: mystery" in r.stdout
    assert "line cut off" in r.stdout
    assert "1 of 2 session(s) ok" in r.stdout
    bad = json.loads(pk8opt("recordings", "check", str(sessions), "--json").stdout)[0]
    assert {f["kind"] for f in bad["findings"]} >= {"bad_line", "unknown_event", "sha256"}


def test_missing_or_inconsistent_manifest_is_one_clear_line(sessions):
    d = sessions / "btc-updown-15m-1790658000"
    text = (d / "manifest.json").read_text().replace('"symbol": "BTC"', '"symbol": "SOL"')
    (d / "manifest.json").write_text(text)
    r = pk8opt("recordings", "check", str(d))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert f"{d / 'manifest.json'}: symbol 'SOL' but the slug says 'BTC'" in r.stdout
    (d / "manifest.json").write_text("{not json")
    r = pk8opt("recordings", "ls", str(sessions))
    assert r.returncode == 0 and "unreadable" in r.stdout and "not valid JSON" in r.stdout
    r = pk8opt("recordings", "check", str(sessions / "nowhere"))
    assert r.returncode == 1 and r.stderr.startswith("error: ") and "no such file" in r.stderr
    (sessions / "empty").mkdir()
    r = pk8opt("recordings", "ls", str(sessions / "empty"))
    assert r.returncode == 1 and "no sessions" in r.stderr and "Traceback" not in r.stderr


def test_help_teaches():
    r = pk8opt("recordings", "check", "--help")
    assert r.returncode == 0 and "Example" in r.stdout and "--allow-gaps" in r.stdout

from __future__ import annotations

import json
import shutil

import msgspec
import pytest
from support.sessions import DOWN, MARKET, UP, manifest, resolved_raw, write_session

from pk8opt.recordings.check import check_session
from pk8opt.recordings.load import load_session
from pk8opt.recordings.manifest import Resolution, read_manifest, write_manifest
from pk8opt.recordings.raw import FRAMES_GZ_NAME, FRAMES_NAME
from pk8opt.recordings.session import finish_session


def _kinds(result):
    return {f.kind: f for f in result.findings}


def test_real_capture_with_resolution_is_clean(tmp_path, fixtures_dir):
    d = write_session(tmp_path, fixtures_dir, [("market", resolved_raw()), ("market", "PONG")])
    finish_session(d, resolution=Resolution("Up", "market_resolved", 1))
    r = check_session(d)
    # the polyoxide capture holds a statusCode 401 body: a real problem of that socket
    assert set(_kinds(r)) == {"live_status"}
    assert r.info == {"other_topic": 2, "text": 1}


def test_clean_session_is_ok(tmp_path, fixtures_dir):
    d = write_session(tmp_path, fixtures_dir, [("market", resolved_raw())])
    lines = (d / FRAMES_NAME).read_text().splitlines()
    (d / FRAMES_NAME).write_text("\n".join(ln for ln in lines if "statusCode" not in ln) + "\n")
    r = check_session(d)
    assert r.ok, r.findings
    assert r.events > 0


def test_missing_resolution_gap_and_bad_lines_are_problems(tmp_path, fixtures_dir):
    gap = json.dumps({"kind": "gap", "socket": "market", "start_ns": 1, "duration_ns": 9})
    d = write_session(tmp_path, fixtures_dir, [("note", gap)])
    with open(d / FRAMES_NAME, "a") as fh:
        fh.write("garbage\n")
    r = check_session(d)
    k = _kinds(r)
    assert {"resolution", "gap", "bad_line", "live_status"} <= set(k)
    assert k["bad_line"].examples[0].startswith(f"{d / FRAMES_NAME}:")
    assert "no resolution" in k["resolution"].examples[0]
    assert "gap" not in _kinds(check_session(d, allow_gaps=True))


def test_disagreement_and_crossed_book_are_found(tmp_path, fixtures_dir):
    wrong = {"event_type": "price_change", "market": MARKET, "timestamp": "1",
             "price_changes": [{"asset_id": UP, "price": "0.2", "side": "BUY", "size": "10",
                                "best_bid": "0.25", "best_ask": "0.301"}]}  # fmt: skip
    crossed = {"event_type": "book", "asset_id": DOWN, "market": MARKET, "timestamp": "2",
               "bids": [{"price": "0.6", "size": "1"}],
               "asks": [{"price": "0.5", "size": "1"}]}  # fmt: skip
    d = write_session(
        tmp_path,
        fixtures_dir,
        [
            ("market", json.dumps(wrong)),
            ("market", json.dumps(crossed)),
            ("market", resolved_raw()),
        ],
    )
    k = _kinds(check_session(d))
    assert k["disagreement"].count == 1
    assert "ours 290/301 venue 250/301" in k["disagreement"].examples[0]
    assert k["crossed"].count == 1 and "token 1 bid 600 >= ask 500" in k["crossed"].examples[0]


def test_sha_mismatch_and_bad_manifest(tmp_path, fixtures_dir):
    d = write_session(tmp_path, fixtures_dir, [("market", resolved_raw())])
    finish_session(d)
    m = read_manifest(d)
    write_manifest(d, msgspec.structs.replace(m, sha256="0" * 64))
    k = _kinds(check_session(d))
    assert "sha256" in k and FRAMES_GZ_NAME in k["sha256"].examples[0]
    write_manifest(d, manifest(token_up=""))
    r = check_session(d)
    assert [f.kind for f in r.findings] == ["unreadable"]
    assert "token_up is empty" in r.findings[0].examples[0]


@pytest.mark.slow
def test_every_sample_session_loads_and_passes_check(sample_dir, tmp_path):
    sessions = sorted(p.parent for p in sample_dir.glob("*/manifest.json"))
    if not sessions:
        pytest.skip(f"no sample sessions under {sample_dir}")
    copies = []
    for s in sessions:  # work on copies: the caches stay out of the repository
        shutil.copytree(s, tmp_path / s.name, ignore=shutil.ignore_patterns(".cache"))
        copies.append(tmp_path / s.name)
    for d in copies:
        r = check_session(d)
        assert r.ok, (d.name, [str(f) for f in r.findings])
        assert r.events > 1000 and set(r.info) <= {"text"}
        loaded = load_session(d)
        assert loaded.n_events == r.events and len(loaded.underlying["price"]) > 100
        assert loaded.manifest.source == "simulated"

"""Impossible values in a recording (a size of -500, NaN, 1e30, a price of 1.5) are
data-quality findings: counted as `malformed` with file:line, left out, never a crash."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import msgspec
import numpy as np
import pytest

from pk8opt.recordings.load import load_session
from pk8opt.recordings.manifest import read_manifest, write_manifest
from pk8opt.recordings.normalize import FrameNormalizer, normalize_bytes, read_frames_bytes
from pk8opt.recordings.raw import Frame, frames_path
from pk8opt.recordings.session import problems_line
from pk8opt.recordings.values import MAX_SIZE
from pk8opt.simulate import simulate_session

PK8 = [sys.executable, "-m", "pk8opt.cli"]

# (size, price) of each injected level update, and what the report must say about it
BAD = [
    ("-500", "0.640", "size -500 (negative"),
    ("NaN", "0.641", "size nan (not finite"),
    ("Infinity", "0.642", "size inf (not finite"),
    ("1e30", "0.643", "size 1e+30 (absurd"),
    ("10", "1.5", "price 1.5 outside (0, 1)"),
    ("10", "-0.2", "price -0.2 outside (0, 1)"),
    ("10", "0", "price 0 outside (0, 1)"),
]


def rewrite_frames(session: Path, edit) -> None:  # noqa: ANN001
    """Apply `edit(lines) -> lines` to a finished session's frames and keep the
    manifest's sha256 and frame count right, so only the values themselves are wrong."""
    gz = session / "frames.jsonl.gz"
    lines = gzip.decompress(gz.read_bytes()).split(b"\n")
    edited = edit(lines)
    gz.write_bytes(gzip.compress(b"\n".join(edited)))
    m = read_manifest(session)
    sha = hashlib.sha256(gz.read_bytes()).hexdigest()
    added = sum(1 for line in edited if line.strip()) - sum(1 for line in lines if line.strip())
    write_manifest(session, msgspec.structs.replace(m, sha256=sha, frames=m.frames + added))


def level_frame(t: int, token: str, size: str, price: str) -> bytes:
    raw = json.dumps(
        {
            "event_type": "price_change",
            "market": "x",
            "timestamp": str(t // 10**6),
            "price_changes": [{"asset_id": token, "price": price, "side": "BUY", "size": size}],
        }
    )
    return msgspec.json.encode(Frame(t, "market", raw))


@pytest.fixture(scope="module")
def bad_session(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[int]]:
    root = tmp_path_factory.mktemp("values")
    clean = simulate_session(root / "clean", "BTC", 1791986400, seed=7)
    bad = simulate_session(root / "bad", "BTC", 1791986400, seed=7)
    m = read_manifest(bad)
    where: list[int] = []

    def inject(lines: list[bytes]) -> list[bytes]:
        # after the first market frame of the middle of the window, one bad row per line
        at = len(lines) // 2
        t = json.loads(lines[at])["t"]
        new = [
            level_frame(t + i + 1, m.token_up, size, price)
            for i, (size, price, _) in enumerate(BAD)
        ]
        # one more: an underlying price that is not a number
        live = {"topic": "crypto_prices", "type": "update",
                "payload": {"symbol": "btcusdt", "timestamp": 1, "value": "NaN"}}  # fmt: skip
        new.append(msgspec.json.encode(Frame(t + 99, "live", json.dumps(live))))
        where.extend(range(at + 2, at + 2 + len(new)))  # 1-based line numbers
        return lines[: at + 1] + new + lines[at + 1 :]

    rewrite_frames(bad, inject)
    return clean, bad, where


def test_bad_rows_are_counted_with_file_and_line_and_left_out(bad_session):
    clean, bad, where = bad_session
    good, broken = load_session(clean), load_session(bad)
    assert broken.serious_problems == {"malformed": len(BAD) + 1}
    assert broken.n_events == good.n_events  # every injected row left out, nothing else
    for col in good.events:  # the same rows (line numbers shift by the injected lines)
        if col != "frame":
            np.testing.assert_array_equal(broken.events[col], good.events[col], err_msg=col)
    sizes = broken.events["size"]
    assert np.isfinite(sizes).all() and (sizes >= 0).all() and (sizes <= MAX_SIZE).all()
    assert np.isfinite(broken.underlying["price"]).all()
    assert len(broken.underlying["price"]) == len(good.underlying["price"])
    line = problems_line(broken) or ""
    assert f"skipped {len(BAD) + 1} malformed" in line

    from pk8opt.recordings.load import load_session_report

    _, problems = load_session_report(bad)
    examples = problems.examples["malformed"]
    frames = frames_path(bad)
    for (_, _, words), lineno, example in zip(BAD, where, examples, strict=False):
        assert example.startswith(f"{frames}:{lineno}: "), example
        assert words in example, (words, example)


def test_frame_by_frame_feed_leaves_out_the_same_rows(bad_session):
    _, bad, _ = bad_session
    manifest = read_manifest(bad)
    path = frames_path(bad)
    assert path is not None
    data = read_frames_bytes(path)
    whole = normalize_bytes(data, manifest, "f")
    norm = FrameNormalizer(manifest, "f")
    decode = msgspec.json.Decoder(Frame).decode
    blocks = [norm.feed(decode(line), i) for i, line in enumerate(data.splitlines(), 1)]
    for name in whole.events.columns:
        got = np.concatenate([b[name] for b in blocks])
        np.testing.assert_array_equal(got, whole.events[name].to_numpy(), err_msg=name)
    assert norm.problems.counts == whole.problems.counts
    assert norm.problems.examples == whole.problems.examples


def test_backtest_warns_and_check_reports_instead_of_crashing(bad_session):
    _, bad, where = bad_session
    r = subprocess.run(
        [*PK8, "backtest", "--json", str(bad)], capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    assert f"skipped {len(BAD) + 1} malformed" in r.stderr
    assert json.loads(r.stdout)["aggregate"]["sessions"] == 1
    r = subprocess.run(
        [*PK8, "recordings", "check", str(bad)], capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert f"frames.jsonl.gz:{where[0]}:" in r.stdout and "malformed" in r.stdout

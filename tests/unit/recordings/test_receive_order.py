"""Frames are replayed in receive order: a frame received before one already read is
left out (and still read for its own problems), the same frame again is left out; both
are counted with file:line. The recorder's notes are not in that order."""

from __future__ import annotations

import json

from support.sessions import MARKET, UP, manifest

from pk8opt.recordings.integrity import frame_count_problem
from pk8opt.recordings.normalize import FrameNormalizer, Normalized, normalize_bytes
from pk8opt.recordings.raw import decode_frame
from pk8opt.recordings.schema import Kind


def book(bid: str, tick: str = "0.01") -> str:
    return json.dumps({"event_type": "book", "asset_id": UP, "market": MARKET, "timestamp": "1",
                       "tick_size": tick, "bids": [{"price": bid, "size": "10"}],
                       "asks": [{"price": "0.60", "size": "10"}]})  # fmt: skip


def frames(*rows: tuple[int, str, str]) -> bytes:
    return b"".join(
        json.dumps({"t": t, "ch": ch, "raw": raw}).encode() + b"\n" for t, ch, raw in rows
    )


def normalize(*rows: tuple[int, str, str]) -> Normalized:
    return normalize_bytes(frames(*rows), manifest(), "f")


def events(out: Normalized) -> dict[str, list]:
    return {c: out.events[c].to_list() for c in out.events.columns if c != "frame"}


def test_frames_in_receive_order_are_all_kept():
    out = normalize((1, "market", book("0.40")), (2, "market", book("0.41")),
                    (2, "market", book("0.42")))  # fmt: skip
    assert out.problems.counts == {} and out.lines == 3
    assert out.events.filter(out.events["kind"] == Kind.BOOK_RESET).height == 3


def test_the_same_frame_again_is_left_out():
    a, b = (1, "market", book("0.40")), (2, "market", book("0.41"))
    for rows, line in (([a, b, a], 3), ([a, a, b], 2)):
        out = normalize(*rows)
        assert out.problems.counts == {"duplicate": 1} and out.lines == 3
        assert out.problems.examples["duplicate"] == [f"f:{line}: the same frame as line 1"]
        assert events(out) == events(normalize(a, b))


def test_an_earlier_frame_is_left_out_and_still_read_for_its_problems():
    mystery = json.dumps({"event_type": "mystery", "asset_id": UP})
    out = normalize((10**9, "market", book("0.40")), (10**9 - 5 * 10**8, "market", mystery),
                    (2 * 10**9, "market", book("0.41")))  # fmt: skip
    assert out.problems.counts == {"time_backwards": 1, "unknown_event": 1}
    assert out.problems.examples["time_backwards"] == [
        "f:2: received 500.000 ms before line 1 (the receive time goes backwards); left out"
    ]
    assert out.problems.examples["unknown_event"] == ["f:2: mystery"]
    assert 2 not in out.events["frame"].to_list()


def test_a_left_out_book_takes_nothing_with_it():
    first, later = (10, "market", book("0.40")), (20, "market", book("0.41", tick="0.001"))
    out = normalize(first, (5, "market", book("0.30", tick="0.001")), later)
    assert out.problems.counts == {"time_backwards": 1}
    # its rows are gone and the tick size it carried is not taken as known: the next
    # book still says it changed
    assert events(out) == events(normalize(first, later))
    assert Kind.TICK_SIZE in out.events.filter(out.events["frame"] == 3)["kind"].to_list()


def test_frame_by_frame_the_same_frames_are_left_out():
    """The live runner normalizes each frame as it comes (`FrameNormalizer.feed`) and
    steps its rows: a frame stamped before the last one (the wall clock stepped back)
    or the same frame again gives none there either, or live would step what the replay
    of its recording leaves out."""
    data = frames((10**9, "market", book("0.40")), (2 * 10**9, "market", book("0.41")),
                  (15 * 10**8, "market", book("0.30", tick="0.001")),
                  (2 * 10**9, "market", book("0.41")), (3 * 10**9, "market", book("0.42")))  # fmt: skip
    whole = normalize_bytes(data, manifest(), "f")
    assert whole.problems.counts == {"time_backwards": 1, "duplicate": 1}
    norm = FrameNormalizer(manifest(), "f")
    fed = [norm.feed(decode_frame(line), i) for i, line in enumerate(data.splitlines(), 1)]
    assert [len(rows["kind"]) > 0 for rows in fed] == [True, True, False, False, True]
    for name in whole.events.columns:
        assert sum((rows[name].tolist() for rows in fed), []) == whole.events[name].to_list()
    assert norm.problems.counts == whole.problems.counts
    assert norm.problems.examples == whole.problems.examples


def test_the_recorders_notes_are_not_in_receive_order():
    resumed = json.dumps({"kind": "resumed", "after_ns": 10})
    gap = json.dumps({"kind": "gap", "socket": "live", "start_ns": 10, "duration_ns": 90})
    # a restart: its notes are written first, then the frames that waited for the session
    out = normalize((10, "market", book("0.40")), (100, "note", resumed), (100, "note", gap),
                    (50, "market", book("0.41")), (120, "market", book("0.42")))  # fmt: skip
    assert out.problems.counts == {} and out.lines == 5


def test_the_frame_count_is_checked_once_a_session_is_finished():
    m = manifest(frames=3, status="complete")
    assert frame_count_problem(3, m) is None
    assert frame_count_problem(2, m) == "the manifest counts 3 frames, the file holds 2"
    with_bad = manifest(frames=3, counts={"bad_line": 1}, status="incomplete")
    assert frame_count_problem(4, with_bad) is None
    assert frame_count_problem(5, with_bad) == (
        "the manifest counts 3 frames and 1 bad lines, the file holds 5 lines"
    )
    assert frame_count_problem(7, manifest(frames=0, status="recording")) is None

from __future__ import annotations

import gzip

from hypothesis import given, settings
from hypothesis import strategies as st

from pk8opt.recordings.raw import (
    FRAMES_GZ_NAME,
    FRAMES_NAME,
    FrameWriter,
    compress_frames,
    frames_path,
    read_frames,
)

texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200)
frames_st = st.lists(
    st.tuples(st.integers(0, 2**62), st.sampled_from(["market", "live", "gamma", "note"]), texts),
    max_size=30,
)


@settings(max_examples=60, deadline=None)
@given(frames=frames_st)
def test_write_read_round_trip_is_verbatim(tmp_path_factory, frames):
    d = tmp_path_factory.mktemp("s")
    w = FrameWriter(d)
    for t, ch, raw in frames:
        w.write(t, ch, raw)
    w.close()
    got, bad = read_frames(d / FRAMES_NAME)
    assert bad == []
    assert [(f.t, f.ch, f.raw) for f in got] == frames
    path, sha = compress_frames(d)
    assert path.name == FRAMES_GZ_NAME and not (d / FRAMES_NAME).exists()
    got2, bad2 = read_frames(path)
    assert [(f.t, f.ch, f.raw) for f in got2] == frames and bad2 == []
    assert len(sha) == 64


def test_cut_off_file_keeps_complete_frames_and_reports_the_cut(tmp_path):
    w = FrameWriter(tmp_path)
    for i in range(5):
        w.write(i, "market", f'{{"n":{i}}}')
    w.close()
    p = tmp_path / FRAMES_NAME
    data = p.read_bytes()
    p.write_bytes(data[:-7])  # kill mid-write of the last line
    frames, bad = read_frames(p)
    assert [f.t for f in frames] == [0, 1, 2, 3]
    assert len(bad) == 1 and bad[0].lineno == 5 and "cut off" in bad[0].reason

    # A writer reopening the cut file starts on a fresh line: the cut stays one bad line.
    w = FrameWriter(tmp_path)
    w.write(9, "market", "PONG")
    w.close()
    frames, bad = read_frames(p)
    assert [f.t for f in frames] == [0, 1, 2, 3, 9]
    assert len(bad) == 1 and bad[0].lineno == 5


def test_garbage_line_is_reported_with_its_line_number(tmp_path):
    p = tmp_path / FRAMES_NAME
    p.write_bytes(
        b'{"t":1,"ch":"market","raw":"x"}\nnot json\n{"t":2,"ch":"bogus","raw":"y"}\n{"t":3,"ch":"live","raw":"z"}\n'
    )
    frames, bad = read_frames(p)
    assert [f.t for f in frames] == [1, 3]
    assert [b.lineno for b in bad] == [2, 3]


def test_compression_is_deterministic(tmp_path):
    shas = []
    for name in ("a", "b"):
        d = tmp_path / name
        w = FrameWriter(d)
        w.write(1, "market", "{}")
        w.close()
        shas.append(compress_frames(d)[1])
    assert shas[0] == shas[1]
    assert frames_path(tmp_path / "a").name == FRAMES_GZ_NAME
    with gzip.open(tmp_path / "a" / FRAMES_GZ_NAME) as fh:
        assert fh.read() == b'{"t":1,"ch":"market","raw":"{}"}\n'

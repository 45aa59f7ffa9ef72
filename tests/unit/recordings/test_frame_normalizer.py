"""`FrameNormalizer.feed`, one frame at a time, gives the whole-file normalizer's rows."""

from __future__ import annotations

from pathlib import Path

import msgspec
import numpy as np

from pk8opt.recordings.manifest import read_manifest
from pk8opt.recordings.normalize import FrameNormalizer, normalize_bytes, read_frames_bytes
from pk8opt.recordings.raw import Frame, frames_path


def test_feed_frame_by_frame_equals_whole_file(sample_dir: Path) -> None:
    session = sorted(p for p in sample_dir.iterdir() if p.is_dir())[0]
    manifest = read_manifest(session)
    path = frames_path(session)
    assert path is not None
    data = read_frames_bytes(path)
    whole = normalize_bytes(data, manifest, manifest.slug)

    norm = FrameNormalizer(manifest, manifest.slug)
    decode = msgspec.json.Decoder(Frame).decode
    blocks = []
    under = []
    for lineno, line in enumerate(data.splitlines(), 1):
        rows = norm.feed(decode(line), lineno)
        assert set(rows) == set(whole.events.columns)
        assert (rows["frame"] == lineno).all()
        blocks.append(rows)
        under.append(norm.take_underlying())
    assert whole.events.height > 1000
    for name in whole.events.columns:
        got = np.concatenate([b[name] for b in blocks])
        np.testing.assert_array_equal(got, whole.events[name].to_numpy(), err_msg=name)
        assert got.dtype == whole.events[name].to_numpy().dtype, name
    for name in whole.underlying.columns:
        got = np.concatenate([u[name] for u in under])
        np.testing.assert_array_equal(got, whole.underlying[name].to_numpy(), err_msg=name)
    assert norm.problems.counts == whole.problems.counts

"""Reading a store's columns again from a kept `ColumnMap`, without its header."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from pk8opt.recordings.store import (
    ColumnMap,
    open_store,
    read_columns,
    write_store,
)


def test_a_column_map_reads_the_very_columns(tmp_path: Path) -> None:
    cols = {
        "a": np.arange(7, dtype=np.int32),
        "b": np.linspace(0, 1, 12).reshape(4, 3),
        "empty": np.zeros((0, 2), dtype=np.int16),
        "c": np.array([True, False]),
    }
    path = write_store(tmp_path, "t", "k1", cols, {"x": 1})
    store = open_store(path)
    assert store is not None
    where = ColumnMap(store, ["b", "empty", "a"])
    read = read_columns(where)
    assert read is not None
    arrays, buf = read
    for name, a in zip(["b", "empty", "a"], arrays, strict=True):
        assert a.dtype == cols[name].dtype and a.shape == cols[name].shape, name
        assert np.array_equal(a, cols[name]), name
        assert not a.flags.writeable and a.flags.aligned, name
    again = read_columns(where, buf)
    assert again is not None and again[1] is buf
    small = np.empty(1, dtype=np.uint8)
    grown = read_columns(where, small)
    assert grown is not None and grown[1] is not small
    assert np.array_equal(grown[0][0], cols["b"])
    # the kept map is small: an int64 row per column, dtypes shared between stores
    other = open_store(write_store(tmp_path, "t", "k2", cols, {}))
    assert other is not None
    assert ColumnMap(other, ["b", "empty", "a"]).dtypes is where.dtypes
    assert where.places.nbytes <= 3 * 8 * 4


def test_a_column_map_of_a_store_gone_or_changed_reads_nothing(tmp_path: Path) -> None:
    path = write_store(tmp_path, "t", "k", {"a": np.arange(5)}, {})
    store = open_store(path)
    assert store is not None
    where = ColumnMap(store, ["a"])
    with open(path / "data.bin", "ab") as fh:
        fh.write(b"\0" * 8)
    assert read_columns(where) is None
    shutil.rmtree(path)
    assert read_columns(where) is None


def test_a_replay_finds_its_rebuilt_store(sample_dir: Path, tmp_path: Path) -> None:
    """A session's kept column map points at a store another process removed: the next
    replay reads the store that replaced it, with the same results."""
    from pk8opt.backtest.index import index_sessions
    from pk8opt.backtest.replay import run_backtest
    from pk8opt.trading.run_config import RunConfig

    src = next(iter(sorted(p.parent for p in sample_dir.glob("*/manifest.json"))), None)
    if src is None:
        pytest.skip("no recordings/sample")
    shutil.copytree(src, tmp_path / src.name, ignore=shutil.ignore_patterns(".cache"))
    (session,) = index_sessions([tmp_path / src.name])
    first = run_backtest([session], RunConfig("balanced_arb"))
    for store in (tmp_path / src.name / ".cache").glob("replay-*"):
        shutil.rmtree(store)
    again = run_backtest([session], RunConfig("balanced_arb"))
    assert again.to_dict() == first.to_dict()
    assert list((tmp_path / src.name / ".cache").glob("replay-*"))

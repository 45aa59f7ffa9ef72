"""Sessions stored once as column stores, mapped at each replay and dropped after."""

from __future__ import annotations

import gc
import multiprocessing
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from pk8opt.backtest.index import index_session, index_sessions
from pk8opt.backtest.replay import run_backtest
from pk8opt.backtest.replay_handle import session_cache
from pk8opt.backtest.replay_store import CacheEncodingError, decode, encode
from pk8opt.backtest.session_cache import SessionCache
from pk8opt.recordings.load import StoredSession, load_session
from pk8opt.recordings.store import open_store, write_store
from pk8opt.trading.run_config import RunConfig


def _copy_sessions(sample_dir: Path, dst: Path, n: int) -> list[Path]:
    if not sample_dir.is_dir():
        pytest.skip("no recordings/sample")
    out = []
    for src in sorted(p.parent for p in sample_dir.glob("*/manifest.json"))[:n]:
        shutil.copytree(src, dst / src.name, ignore=shutil.ignore_patterns(".cache"))
        out.append(dst / src.name)
    return out


def _same(a: Any, b: Any, where: str) -> None:
    """Equal values of the same Python types, all the way down."""
    if hasattr(a, "items") and not isinstance(a, dict):
        a = dict(a.items())
    assert type(a) is type(b), (where, type(a), type(b))
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        assert np.array_equal(a, b), where
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{i}]")
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for k in a:
            _same(a[k], b[k], f"{where}[{k}]")
    else:
        assert a == b, (where, a, b)


def test_mapped_replay_cache_is_the_built_one(sample_dir: Path, tmp_path: Path) -> None:
    paths = _copy_sessions(sample_dir, tmp_path, 3)
    sessions = index_sessions([tmp_path])
    assert [s.path for s in sessions] == paths
    for s in sessions:
        assert isinstance(s, StoredSession)
        mapped, built = session_cache(s), SessionCache(s)
        assert list(vars(mapped)) == list(vars(built))
        for name, value in vars(built).items():
            if name != "spec":
                _same(getattr(mapped, name), value, name)
        assert mapped.spec == built.spec
    # a second index builds nothing; the stores are the ones already there
    stores = sorted(p.name for p in paths[0].joinpath(".cache").iterdir())
    assert index_session(paths[0])[1] is False
    assert sorted(p.name for p in paths[0].joinpath(".cache").iterdir()) == stores
    assert {n.split("-")[0] for n in stores} == {"events", "replay", "lock"}


def _mapped_files() -> str:
    return Path("/proc/self/maps").read_text()


def test_a_replay_maps_the_session_and_drops_it_after(sample_dir: Path, tmp_path: Path) -> None:
    paths = _copy_sessions(sample_dir, tmp_path, 2)
    sessions = index_sessions(paths)
    gc.collect()
    assert str(tmp_path) not in _mapped_files()  # handles hold no arrays
    seen: list[bool] = []
    run_backtest(
        sessions,
        RunConfig("balanced_arb"),
        on_session=lambda i, r: seen.append(str(tmp_path) in _mapped_files()),
    )
    gc.collect()
    assert str(tmp_path) not in _mapped_files()
    # results equal those of sessions built and kept in memory (the reference)
    from pk8opt.recordings.session import LoadedSession

    def in_memory(s: StoredSession) -> LoadedSession:
        return LoadedSession(s.path, s.manifest, dict(s.events), dict(s.underlying), s.problems)

    ref = run_backtest([in_memory(s) for s in sessions], RunConfig("balanced_arb"))
    got = run_backtest(sessions, RunConfig("balanced_arb"))
    assert got.to_dict() == ref.to_dict()


def _index_in_child(path: str, ready: Any) -> None:
    ready.wait()
    index_session(path)


def test_processes_building_the_same_session_at_once(sample_dir: Path, tmp_path: Path) -> None:
    (path,) = _copy_sessions(sample_dir, tmp_path, 1)
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    procs = [ctx.Process(target=_index_in_child, args=(str(path), ready)) for _ in range(3)]
    for p in procs:
        p.start()
    ready.set()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    names = sorted(p.name for p in (path / ".cache").iterdir())
    assert [n.split("-")[0] for n in names] == ["events", "lock", "replay"]
    s = load_session(path)
    assert isinstance(s, StoredSession) and s.n_events == len(s.events["kind"]) > 0


class _Cache:
    pass


def test_encoding_keeps_every_supported_shape_and_refuses_others(tmp_path: Path) -> None:
    c = _Cache()
    c.count = 3
    c.label = "x"
    c.nothing = None
    c.times = [5, 7, 11]
    c.sizes = [0.5, 1.0]
    c.empty = []
    c.rows = [(1, 2), (1, 2), (3, 2), (1, 2)]
    c.by_key = {9: ([1, 2], [0.5, 1.5]), 4: ([], [])}
    c.groups = [([1], [2.0]), ([], [])]
    c.array = np.arange(4, dtype=np.int16)
    c.memo = {}
    columns, layout = encode(c)
    path = write_store(tmp_path, "t", "k", columns, {"layout": layout, "order": list(vars(c))})
    store = open_store(path)
    assert store is not None
    back = decode(store, None, _Cache)
    for name, value in vars(c).items():
        if name == "array":
            np.testing.assert_array_equal(back.array, value)
        else:
            _same(getattr(back, name), value, name)
    mixed = _Cache()
    mixed.values = [1, 2.5]
    with pytest.raises(CacheEncodingError, match="values"):
        encode(mixed)
    odd = _Cache()
    odd.things = {"a": 1}
    with pytest.raises(CacheEncodingError, match="things"):
        encode(odd)


@settings(max_examples=40, deadline=None)
@given(
    st.dictionaries(
        st.text("abcdefgh.", min_size=1, max_size=6),
        hnp.arrays(
            st.sampled_from([np.int8, np.int32, np.int64, np.uint8, np.float64, np.bool_]),
            hnp.array_shapes(min_dims=1, max_dims=2, min_side=0, max_side=5),
        ),
        max_size=5,
    ),
    st.dictionaries(st.text(max_size=4), st.integers() | st.text(max_size=4), max_size=3),
)
def test_store_round_trip(columns: dict[str, np.ndarray], attrs: dict[str, Any]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        store = open_store(write_store(Path(d), "t", "k", columns, attrs))
        assert store is not None and store.attrs == attrs
        assert list(store.columns) == list(columns)
        for name, a in columns.items():
            b = store[name]
            assert b.dtype == a.dtype and b.shape == a.shape
            np.testing.assert_array_equal(b, a)
            assert not b.flags.writeable or b.size == 0

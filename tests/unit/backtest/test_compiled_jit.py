"""numba's private parts used by `pk8opt.backtest.compiled.jit`: the `_nrt=False` option
and the disk cache's locator classes. Fails first if numba stops honouring either (the
compiled replay would then crawl or break, or load stale machine code after an edit)."""

from __future__ import annotations

import numpy as np
import pytest

from pk8opt.backtest.compiled import jit
from pk8opt.backtest.compiled.jit import nopython_noref


def test_a_function_without_reference_counts_runs_on_arrays() -> None:
    @nopython_noref
    def add_into(a, b):  # type: ignore[no-untyped-def]
        for i in range(a.shape[0]):
            a[i] += b[i]

    a = np.arange(4.0)
    add_into(a, np.ones(4))
    assert a.tolist() == [1.0, 2.0, 3.0, 4.0]


def test_it_cannot_allocate() -> None:
    from numba.core.errors import NumbaError

    @nopython_noref
    def make(n):  # type: ignore[no-untyped-def]
        return np.zeros(n)

    with pytest.raises(NumbaError):  # with counting on, this compiles and runs
        make(3)


def test_the_replay_cache_locators_come_first_in_numbas_list() -> None:
    from numba.core import caching

    impl = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl")  # noqa: B009
    first = [c.__name__ for c in impl._locator_classes[:2]]
    assert first == ["ReplayUserProvidedCacheLocator", "ReplayInTreeCacheLocator"]


def test_a_replay_function_is_cached_against_every_replay_source() -> None:
    from pk8opt.backtest.compiled import kernel

    locator = kernel.run_kernel._cache._impl.locator
    assert type(locator).__name__.startswith("Replay")
    stamp = locator.get_source_stamp()
    assert stamp[1] == jit.sources_stamp()


def test_the_stamp_changes_when_any_source_changes(tmp_path, monkeypatch) -> None:
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("x = 1\n")
    b.write_text("y = 1\n")
    monkeypatch.setattr(jit, "SOURCES", (a, b))
    before = jit.sources_stamp()
    b.write_text("y = 22\n")
    assert jit.sources_stamp() != before

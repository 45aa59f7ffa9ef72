"""How the compiled replay's functions are compiled (the one place that uses numba
outside its public API: an option and the disk cache's locators).

`nopython_noref` is numba's `njit(cache=True)` with the runtime's reference counting
off (`_nrt=False`, a private option). Every array the replay reads or writes is made by
the caller and lives through the call, so no count is needed; with counting on, each
call of a helper taking the engine's thirty-odd arrays paid an atomic increment and
decrement per array, about a microsecond, more than the work it did. Such a function
cannot allocate (numba refuses to compile it if it tries). tests/unit/backtest/test_compiled_jit.py
fails first if numba drops or changes the option.

numba's disk cache checks a function against its own source file only, while the
replay's compiled code spans files (the kernel calls the engine, the trade loop and the
strategies beside it, and compiles fee, feed-time, markout and drawdown arithmetic from
their Python homes): an edit to a callee's file would leave its callers' cached machine
code stale. So every function of those files is cached against all of them (`SOURCES`):
an edit to any recompiles them all, once.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from numba import njit
from numba.core import caching

F = TypeVar("F", bound=Callable[..., Any])
_njit: Any = njit

_PKG = Path(__file__).resolve().parents[2]  # pk8opt/
# the files the compiled replay's machine code is built from
SOURCES: tuple[Path, ...] = (
    *sorted(Path(__file__).resolve().parent.glob("*.py")),
    _PKG / "backtest" / "drawdown.py",
    _PKG / "backtest" / "session_cache.py",
    _PKG / "engine" / "fees.py",
    _PKG / "engine" / "feed.py",
    _PKG / "engine" / "markout.py",
)
_SOURCE_SET = frozenset(str(p) for p in SOURCES)
_stamps: dict[tuple[tuple[str, int, int], ...], str] = {}


def sources_stamp() -> str:
    """A hash of the contents of `SOURCES` (re-read when one's mtime or size changed)."""
    key = tuple((str(p), st.st_mtime_ns, st.st_size) for p in SOURCES for st in [os.stat(p)])
    got = _stamps.get(key)
    if got is None:
        h = hashlib.sha256()
        for p in SOURCES:
            h.update(p.read_bytes())
        got = _stamps[key] = h.hexdigest()
    return got


def _locator(base: Any) -> Any:
    """`base` (a numba cache locator class) for the files of `SOURCES`, stamped with
    all of them."""

    class ReplayLocator(base):
        def get_source_stamp(self) -> Any:
            return (super().get_source_stamp(), sources_stamp())

        @classmethod
        def from_function(cls, py_func: Any, py_file: str) -> Any:
            if str(Path(py_file).resolve()) not in _SOURCE_SET:
                return None
            return super().from_function(py_func, py_file)

    ReplayLocator.__name__ = ReplayLocator.__qualname__ = f"Replay{base.__name__}"
    return ReplayLocator


def _install_locators() -> None:
    """Put the replay's locators first in numba's list (numba 0.60 spells its names
    with a leading underscore)."""
    impl = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl")  # noqa: B009
    names = ("UserProvidedCacheLocator", "InTreeCacheLocator")
    bases = [getattr(caching, n, None) or getattr(caching, "_" + n) for n in names]
    ours = [_locator(b) for b in bases]
    impl._locator_classes = [*ours, *impl._locator_classes]


_install_locators()


def nopython_noref(fn: F) -> F:
    """Compile `fn` with numba, cached on disk, without reference counting."""
    return _njit(cache=True, _nrt=False)(fn)


def nopython(fn: F) -> F:
    """Compile `fn` with numba, cached on disk (may allocate arrays)."""
    return _njit(cache=True)(fn)


def nopython_inline(fn: F) -> F:
    """`nopython`, inlined into its callers (may allocate or take views)."""
    return _njit(cache=True, inline="always")(fn)


def nopython_noref_inline(fn: F) -> F:
    """`nopython_noref`, inlined into its callers (for small functions on the hot path)."""
    return _njit(cache=True, _nrt=False, inline="always")(fn)


def nopython_noref_uncached(fn: F) -> F:
    """`nopython_noref` compiled in this process only (for functions made at run time)."""
    return _njit(_nrt=False)(fn)

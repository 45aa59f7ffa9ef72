"""How the compiled replay's functions are compiled (the one place that uses a numba
option outside its public API).

`nopython_noref` is numba's `njit(cache=True)` with the runtime's reference counting
off (`_nrt=False`, a private option). Every array the replay reads or writes is made by
the caller and lives through the call, so no count is needed; with counting on, each
call of a helper taking the engine's thirty-odd arrays paid an atomic increment and
decrement per array, about a microsecond, more than the work it did. Such a function
cannot allocate (numba refuses to compile it if it tries). tests/unit/test_compiled_jit.py
fails first if numba drops or changes the option.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from numba import njit

F = TypeVar("F", bound=Callable[..., Any])
_njit: Any = njit


def nopython_noref(fn: F) -> F:
    """Compile `fn` with numba, cached on disk, without reference counting."""
    return _njit(cache=True, _nrt=False)(fn)


def nopython(fn: F) -> F:
    """Compile `fn` with numba, cached on disk (may allocate arrays)."""
    return _njit(cache=True)(fn)


def nopython_noref_inline(fn: F) -> F:
    """`nopython_noref`, inlined into its callers (for small functions on the hot path)."""
    return _njit(cache=True, _nrt=False, inline="always")(fn)


def nopython_noref_uncached(fn: F) -> F:
    """`nopython_noref` compiled in this process only (for functions made at run time)."""
    return _njit(_nrt=False)(fn)

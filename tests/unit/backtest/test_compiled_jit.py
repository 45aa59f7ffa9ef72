"""numba's private `_nrt=False` option, used by `pk8opt.backtest.compiled.jit`: fails first
if numba stops honouring it (the compiled replay would then crawl or break)."""

from __future__ import annotations

import numpy as np
import pytest

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

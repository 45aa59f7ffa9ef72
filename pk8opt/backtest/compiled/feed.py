"""The engine times of a session's frames on the venue clock, compiled from
`pk8opt.engine.feed.venue_times_into` (one source; see that module)."""

from __future__ import annotations

import numpy as np

from pk8opt.backtest.compiled.jit import nopython, nopython_noref_inline
from pk8opt.backtest.compiled.layout import NEVER
from pk8opt.engine import feed

_venue_times_into = nopython_noref_inline(feed.venue_times_into)


@nopython
def venue_times(local, exch, delay_ns):
    """Twin of pk8opt.engine.feed.frame_times on the venue clock (a new clock: offset
    -delay, no frame yet)."""
    out = np.empty(local.shape[0], dtype=np.int64)
    _venue_times_into(local, exch, -delay_ns, -NEVER, out)
    return out

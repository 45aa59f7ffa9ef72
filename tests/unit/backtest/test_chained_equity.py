"""The portfolio equity curve over sessions: arrays give the very numbers of the loop."""

from __future__ import annotations

from array import array

from hypothesis import given, settings
from hypothesis import strategies as st

from pk8opt.backtest.compiled.equity import merged_drawdown
from pk8opt.backtest.results import (
    SessionResult,
    _chained_arrays,
    _chained_equity,
    max_drawdown,
)


def _reference(sessions: list[SessionResult]) -> tuple[list[int], list[float]]:
    """The plain loop the arrays replace (merge the changes in time order, add them up)."""
    steps: list[tuple[int, int, float]] = []
    for si, s in enumerate(sessions):
        if not s.equity_v:
            continue
        start = s.equity_v[0]
        prev = 0.0
        for t, v in zip(s.equity_t, s.equity_v, strict=True):
            x = v - start
            steps.append((t, si, x - prev))
            prev = x
    steps.sort(key=lambda step: (step[0], step[1]))
    ts: list[int] = []
    vs: list[float] = []
    total = 0.0
    for t, _, delta in steps:
        total += delta
        ts.append(t)
        vs.append(total)
    return ts, vs


def _session(points: list[tuple[int, float]]) -> SessionResult:
    ts = sorted(t for t, _ in points)
    vs = [v for _, v in points]
    return SessionResult(
        slug="s", winner="Up", pnl_usdc=0.0, fees_usdc=0.0, volume_usdc=0.0, fills=0,
        orders=0, fill_rate=0.0, paired_shares=0.0, unpaired_shares=0.0, max_drawdown_usdc=0.0,
        events=0, strategy_calls=0, equity_t=ts, equity_v=vs,
    )  # fmt: skip


curves = st.lists(
    st.lists(
        st.tuples(
            st.integers(1_700_000_000 * 10**9, 1_700_000_100 * 10**9),
            st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False),
        ),
        max_size=30,
    ),
    max_size=6,
)


@settings(max_examples=200, deadline=None)
@given(curves)
def test_arrays_give_the_loops_numbers(points: list[list[tuple[int, float]]]) -> None:
    sessions = [_session(p) for p in points]
    ts, vs = _reference(sessions)
    assert _chained_equity(sessions) == (ts, vs)
    got_t, got_v = _chained_equity(sessions)
    assert all(type(x) is int for x in got_t) and all(type(x) is float for x in got_v)
    assert [repr(x) for x in got_v] == [repr(x) for x in vs]  # the same bits, signs of 0 too
    assert max_drawdown(_chained_arrays(sessions)[1]) == max_drawdown(vs)
    assert merged_drawdown(sessions) == max_drawdown(vs)  # the k-way merge: same numbers
    # compact arrays in place of lists give the same curve
    for s in sessions:
        s.equity_t, s.equity_v = array("q", s.equity_t), array("d", s.equity_v)  # type: ignore[assignment]
    assert _chained_equity(sessions) == (ts, vs)
    assert merged_drawdown(sessions) == max_drawdown(vs)

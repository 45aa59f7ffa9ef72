"""The level tracker's cached best prices stay those of its books through any rows."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pk8opt.engine.levels import NONE, LevelTracker
from pk8opt.recordings.schema import ASK, BID, DOWN, UP, Kind

rows = st.lists(
    st.one_of(
        st.tuples(
            st.just(int(Kind.LEVEL)),
            st.sampled_from([UP, DOWN]),
            st.sampled_from([BID, ASK]),
            st.integers(1, 30).map(lambda p: p * 30),  # few prices: levels collide and cross
            st.one_of(st.just(0.0), st.just(-1.0), st.floats(0.5, 100.0)),
        ),
        st.tuples(
            st.just(int(Kind.BOOK_RESET)),
            st.sampled_from([UP, DOWN]),
            *[st.just(-1)] * 2,
            st.just(0.0),
        ),
        st.tuples(st.just(int(Kind.GAP)), *[st.just(-1)] * 3, st.just(0.0)),
        st.tuples(
            st.just(int(Kind.TRADE)),
            st.sampled_from([UP, DOWN]),
            st.sampled_from([BID, ASK]),
            st.integers(1, 999),
            st.floats(0.5, 10.0),
        ),
    ),
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(rows=rows, frame_every=st.integers(1, 6))
def test_best_and_top_are_the_books_extremes_after_every_row(rows, frame_every) -> None:
    records = []
    t = LevelTracker(lambda *r: records.append(r))
    for i, row in enumerate(rows):
        t.row(*row)
        if (i + 1) % frame_every == 0:
            t.end_frame()
        if t._snap_token != NONE:
            continue  # a snapshot is being read: the books change when it closes
        want = []
        for token in (UP, DOWN):
            bids, asks = t.books[token]
            stale = t.stale[token]
            want += [
                NONE if stale or not bids else max(bids),
                NONE if stale or not asks else min(asks),
            ]
        assert [t.best(tok, side) for tok in (UP, DOWN) for side in (BID, ASK)] == want
        assert t.top() == tuple(want)
    assert all(size >= 0.0 for *_, size in records)

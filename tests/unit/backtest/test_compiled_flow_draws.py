"""The compiled maker-flow draws (`pk8opt.backtest.compiled.flow_draws`) are numpy's,
bit for bit: PCG64's raw outputs and doubles, each draw (poisson, the bounded int64
offsets, the ziggurat normals) and whole blocks against their definition,
`MakerFlow.block`, at every rate region (none, tiny, the multiplication method below
lam 10, PTRS above it).

The compiled draws are ports of numpy's C algorithms (pcg64.h, distributions.c): this
is the test that fails first if numpy changes one of them, its tables or its seeding.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pk8opt.backtest.compiled import flow_draws as D
from pk8opt.backtest.compiled import session as compiled_session
from pk8opt.backtest.compiled.ziggurat import NOR_R
from pk8opt.engine.flow import BLOCK_NS, MakerFlow, block_states

K0 = 1_791_986_400 * 10**9 // BLOCK_NS  # a block of the sample's recordings
MASK64 = (1 << 64) - 1
# arrivals per second: none, tiny, lam 6 (multiplication method), lam just under and
# just over 10, lam 300 and 3000 (PTRS)
RATES = (0.0, 0.001, 0.1, 9.99 / 60, 10.01 / 60, 5.0, 50.0)


def words(bitgen: np.random.PCG64) -> np.ndarray:
    """A fresh generator's state as `next64` takes it."""
    s = bitgen.state["state"]
    return np.array(
        [s["state"] >> 64, s["state"] & MASK64, s["inc"] >> 64, s["inc"] & MASK64],
        dtype=np.uint64,
    )


def same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def joined(flow: MakerFlow, token: int, first: int, last: int) -> tuple[np.ndarray, np.ndarray]:
    blocks = [flow.block(token, k) for k in range(first, last + 1)]
    return np.concatenate([b[0] for b in blocks]), np.concatenate([b[1] for b in blocks])


@pytest.mark.parametrize("seed", [0, 1, 2**63 + 5, [7, 3, 1, K0]])
def test_pcg64_raw_outputs_and_doubles_are_numpys(seed: int | list[int]) -> None:
    bitgen = np.random.PCG64(seed)
    st_ = words(bitgen)
    raw = np.array([D.next64(st_) for _ in range(3000)], dtype=np.uint64)
    assert same(raw, bitgen.random_raw(3000))  # rotations 0 to 63 among them
    assert not bitgen.state["has_uint32"]
    gen = np.random.Generator(bitgen)
    doubles = np.array([D.next_double(st_) for _ in range(1000)])
    assert same(doubles, gen.random(1000))


@pytest.mark.parametrize("lam", [0.0, 1e-9, 0.06, 6.0, 9.999, 10.0, 10.5, 60.0, 300.0, 3e3, 3e5])
def test_poisson_draws_are_numpys(lam: float) -> None:
    for seed in range(20):
        bitgen = np.random.PCG64([seed, 11])
        st_ = words(bitgen)
        gen = np.random.Generator(bitgen)
        got = [D.poisson(st_, lam) for _ in range(30)]
        assert got == [int(gen.poisson(lam)) for _ in range(30)]
        assert D.next64(st_) == bitgen.random_raw()  # as many outputs used


def test_offsets_and_normals_are_numpys() -> None:
    tails = 0
    for seed in range(8):
        bitgen = np.random.PCG64([seed, 12])
        st_ = words(bitgen)
        gen = np.random.Generator(bitgen)
        offsets = np.array([D.offset(st_, D._RANGE, D._THRESHOLD) for _ in range(2000)])
        assert same(offsets, gen.integers(0, BLOCK_NS, 2000, dtype=np.int64))
        z = np.array([D.normal(st_) for _ in range(20_000)])
        want = gen.standard_normal(20_000)
        assert same(z, want)
        tails += int(np.count_nonzero(np.abs(want) > NOR_R))
        assert D.next64(st_) == bitgen.random_raw()
    assert tails > 0  # the ziggurat's tail was drawn too, not only its strips


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize(
    ("seed", "market"),
    [(1, "btc-updown-15m-1791986400"), (0, ""), (2**40 + 3, "a market key of more than one word")],
)
def test_blocks_are_their_definition(seed: int, market: str, rate: float) -> None:
    flow = MakerFlow(seed, market, rate)
    for token in (0, 1):
        for first, last in ((K0, K0 + 16), (0, 0), (10**8, 10**8 + 2)):
            got = D.arrivals(block_states(flow.seed, flow.key, token, first, last), rate, first)
            assert got is not None
            want = joined(flow, token, first, last)
            assert same(got[0], want[0]) and same(got[1], want[1])


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**63),
    market=st.text(max_size=40),
    rate=st.floats(0.0, 200.0) | st.sampled_from(RATES),
    token=st.integers(0, 1),
    k=st.integers(0, 10**8),
    blocks=st.integers(1, 3),
)
def test_any_blocks_are_their_definition(
    seed: int, market: str, rate: float, token: int, k: int, blocks: int
) -> None:
    flow = MakerFlow(seed, market, rate)
    got = D.arrivals(block_states(flow.seed, flow.key, token, k, k + blocks - 1), rate, k)
    assert got is not None
    want = joined(flow, token, k, k + blocks - 1)
    assert same(got[0], want[0]) and same(got[1], want[1])


def test_no_rate_draws_nothing_and_no_finite_mean_is_left_to_numpy() -> None:
    states = block_states(1, 2, 0, K0, K0 + 1)
    for rate in (0.0, -1.0):
        times, z = D.arrivals(states, rate, K0) or (None, None)
        assert times is not None and z is not None
        assert times.dtype == np.int64 and z.dtype == np.float64 and not len(times) + len(z)
    assert D.arrivals(states, float("nan"), K0) is None
    assert D.arrivals(states, float("inf"), K0) is None


def test_the_compiled_replay_reads_the_definitions_arrivals(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(compiled_session, "_flows", {})
    monkeypatch.setattr(compiled_session, "_flows_bytes", [0])
    slug, lo, hi = "btc-updown-15m-1791986400", 1_791_986_400 * 10**9, 1_791_987_300 * 10**9
    for rate in (5.0, 0.2, 5.0):  # drawn, drawn again at another rate, and again
        flow = MakerFlow(9, slug, rate)
        arrays = compiled_session._flow_arrays(9, slug, rate, lo, hi)
        first, last = lo // BLOCK_NS, hi // BLOCK_NS + 1
        want = (*joined(flow, 0, first, last), *joined(flow, 1, first, last))
        assert all(same(a, b) for a, b in zip(arrays, want, strict=True))
        assert all(a.flags.writeable and a.flags.c_contiguous for a in arrays)

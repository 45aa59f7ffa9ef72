"""The maker flow's draws (`MakerFlow.draw`, `arrivals`, `next_after`) are the very
numbers its definition (`MakerFlow.block`: a fresh numpy generator per block) draws."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pk8opt.engine import flow as flow_module
from pk8opt.engine.flow import BLOCK_NS, MakerFlow

K0 = 1_791_986_400 * 10**9 // BLOCK_NS  # a block of the sample's recordings


def joined(flow: MakerFlow, token: int, first: int, last: int) -> tuple[np.ndarray, np.ndarray]:
    blocks = [flow.block(token, k) for k in range(first, last + 1)]
    return np.concatenate([b[0] for b in blocks]), np.concatenate([b[1] for b in blocks])


def same(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> bool:
    return all(x.dtype == y.dtype and x.tobytes() == y.tobytes() for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize(
    ("seed", "market", "rate"),
    [
        (1, "btc-updown-15m-1791986400", 5.0),
        (0, "", 0.3),
        (2**31 - 1, "eth-updown-15m-1791987300", 50.0),
        (2**40 + 3, "a market key of more than one word", 1e-3),  # a seed of two words
        (7, "sol", 0.0),
    ],
)
def test_draw_and_arrivals_are_the_blocks(seed: int, market: str, rate: float) -> None:
    flow = MakerFlow(seed, market, rate)
    for token in (0, 1):
        for k in (0, 1, K0, 10**8):
            offsets, z = flow.draw(token, k)
            assert same((offsets + k * BLOCK_NS, z), flow.block(token, k))
        assert same(flow.arrivals(token, K0, K0 + 16), joined(flow, token, K0, K0 + 16))
        # again, now from the kept seeding; and by a flow of another rate
        again = MakerFlow(seed, market, rate)
        assert same(again.arrivals(token, K0, K0 + 16), joined(flow, token, K0, K0 + 16))
        other = MakerFlow(seed, market, rate * 2 + 1.0)
        assert same(other.arrivals(token, K0, K0 + 2), joined(other, token, K0, K0 + 2))


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**63),
    market=st.text(max_size=40),
    rate=st.floats(0.0, 200.0),
    token=st.integers(0, 1),
    k=st.integers(0, 10**8),
)
def test_any_block_is_drawn_as_its_definition(
    seed: int, market: str, rate: float, token: int, k: int
) -> None:
    flow = MakerFlow(seed, market, rate)
    offsets, z = flow.draw(token, k)
    assert same((offsets + k * BLOCK_NS, z), flow.block(token, k))


def test_next_after_reads_the_blocks() -> None:
    flow = MakerFlow(3, "btc-updown-15m-1791986400", 2.0)
    times = np.concatenate([flow.block(0, k)[0] for k in range(K0, K0 + 4)])
    zs = np.concatenate([flow.block(0, k)[1] for k in range(K0, K0 + 4)])
    for t in [K0 * BLOCK_NS - 1, *times[:-1].tolist(), int(times[5]) + 1]:
        j = int(np.searchsorted(times, t, side="right"))
        assert flow.next_after(0, t) == (int(times[j]), float(zs[j]))


def test_the_kept_seeding_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(flow_module, "_SEEDED", OrderedDict())
    monkeypatch.setattr(flow_module, "_SEEDED_MAX", 8)
    flow = MakerFlow(5, "xrp", 1.0)
    first = [flow.draw(0, k) for k in range(20)]
    assert len(flow_module._SEEDED) == 8
    assert all(same(a, flow.draw(0, k)) for k, a in enumerate(first))  # seeded again

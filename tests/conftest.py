from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _find_shared() -> Path:
    """`shared/` sits beside the repository (CI clones it there); look up the tree."""
    for parent in REPO.parents:
        if (parent / "shared" / "fixtures").is_dir():
            return parent / "shared"
    return REPO.parent / "shared"


SHARED = _find_shared()
FIXTURES = SHARED / "fixtures" / "polymarket"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    if not FIXTURES.exists():
        pytest.skip(f"{FIXTURES} not present")
    return FIXTURES


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return REPO / "recordings" / "sample"

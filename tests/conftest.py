from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
FIXTURES = SHARED / "fixtures" / "polymarket"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    if not FIXTURES.exists():
        pytest.skip(f"{FIXTURES} not present")
    return FIXTURES


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return REPO / "recordings" / "sample"

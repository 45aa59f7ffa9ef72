"""Where things are: the repository, tests/, the captured frames, the sample recordings."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent
# frames captured from Polymarket (PROTOCOL.md), kept with the tests: README.md there says what each is
FIXTURES = TESTS / "fixtures" / "polymarket"
SAMPLE = REPO / "recordings" / "sample"

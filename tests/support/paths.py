"""Where things are: the repository, tests/, the captured frames, the sample recordings."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent
# frames captured from Polymarket (PROTOCOL.md), kept with the tests: README.md there says what each is
FIXTURES = TESTS / "fixtures" / "polymarket"
SAMPLE = REPO / "recordings" / "sample"
# The sample's first five windows (20 sessions, 14:00-15:15 UTC): what the sample held when
# the figures some tests pin were computed; the later windows only add sessions after them.
SAMPLE_FIRST_FIVE_END_S = 1791990900

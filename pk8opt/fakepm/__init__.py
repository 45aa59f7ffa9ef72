"""A fake Polymarket on loopback that replays recorded or simulated sessions."""

from pk8opt.fakepm.server import FakePolymarket
from pk8opt.fakepm.timeline import Venue, load_venue

__all__ = ["FakePolymarket", "Venue", "load_venue"]

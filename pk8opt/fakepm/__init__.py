"""A fake Polymarket on loopback that replays recorded or simulated sessions, and takes
orders as the venue does.

Nothing is exported here, so that the CLI can read the venue's parameter declarations
(`fakepm.venue_params`, for `serve --help`) without loading the servers: import
`pk8opt.fakepm.server.FakePolymarket` and `pk8opt.fakepm.timeline.load_venue`.
"""

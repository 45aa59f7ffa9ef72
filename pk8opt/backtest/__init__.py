"""Backtest: recorded sessions replayed through the trade loop and the paper engine.

`replay` drives sessions (events, fast and compiled modes, identical results),
`results` scores them, `plots` draws them, `session_cache`/`replay_store` build and keep
the per-session arrays the fast and compiled modes read, `compiled/` is the numba twin
of the engine and the trade loop, `warmup` compiles it ahead, `compare` replays a live
run's recording beside its log, `index` builds the caches of whole folders.
"""

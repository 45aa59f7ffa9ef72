"""Backtest: recorded sessions replayed through the trade loop and the paper engine.

`replay` drives sessions (events, fast and compiled modes, identical results),
`session_result` is one session's result and `results` scores them (`drawdown` the max
drawdown both it and the compiled replay use), `plots` draws them, `session_cache`
builds the per-session arrays the fast and compiled modes read, `replay_store` keeps
them in a column store, `replay_handle` is the one place that chooses between the two
and keeps a session's state (`ReplayHandle`), `compiled/` is the numba twin of the
engine and the trade loop, `warmup` compiles it ahead, `compare` replays a live run's
recording beside its log, `index` builds the caches of whole folders.
"""

"""Benchmarks: `python -m benchmarks [name ...]` (or `make bench`) runs every
`benchmarks/bench_*.py` module's `main()`, each printing its measured figures."""

# The sample's first five windows (20 sessions): the set the replay figures in
# docs/engine.md are measured on, kept so that they stay comparable.
FIRST_FIVE_WINDOWS_END_S = 1791990900

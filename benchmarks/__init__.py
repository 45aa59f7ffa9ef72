"""Benchmarks: `python -m benchmarks [name ...]` (or `make bench`) runs every
`benchmarks/bench_*.py` module's `main()`, each printing its measured figures."""

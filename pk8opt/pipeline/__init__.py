"""The sweep pipeline: search (`sweep`), then validate (`validation`), then track
(`tracking`), and the listings of past sweeps that read all three. `sweep` itself never
imports `validation` or `tracking`; this package ties them together:

- `run`: `run_sweep`, the whole command (search -> validate -> track), its `SweepOutcome`;
- `trial_log`: the finished trials -> MLflow child runs (the search's `TrialSink`);
- `listing`: past sweeps (`pk8opt sweeps`, `sweeps show`);
- `summary`: the end of a sweep as data (`pk8opt sweep --json`).
"""

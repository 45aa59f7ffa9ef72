"""The sweep pipeline: search (`sweep`), then validate (`validation`), then track
(`tracking`), and the listings of past sweeps that read all three. `sweep` itself never
imports `validation` or `tracking`; this package ties them together."""

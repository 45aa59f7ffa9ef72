"""Recorded sessions: the raw frame log, manifests, the normalizer and the catalog."""

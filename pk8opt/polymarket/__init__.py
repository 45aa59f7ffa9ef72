"""The venue edge: wire schemas, slugs, the Gamma client and the sockets."""

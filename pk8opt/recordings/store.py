"""Column stores: arrays written once, mapped (not copied) by every process that reads them.

A store is a folder holding two files::

    header.json   {"format": 1, "kind": ..., "key": ..., "attrs": {...},
                   "columns": {name: {"dtype": "<i8", "shape": [n], "offset": bytes}, ...},
                   "data_bytes": total}
    data.bin      every column's raw little-endian bytes, each at a 64-byte aligned offset

Opening a store maps `data.bin` once (read-only) and gives each column as a numpy view of
that mapping: nothing is read until it is touched, and processes mapping the same store
share one copy through the OS page cache. The mapping goes away with the last array
that uses it. The format knows nothing of what it stores: any set of named arrays plus
a JSON-able `attrs` dict, so new columns never change it. (One file per store rather
than one per column: mapping a file costs about as much as replaying a thousand events,
and a session is mapped at every replay.)

Stores live in a session's `.cache/` folder, named `<kind>-<key>`, where the key is a
hash of what the store was built from. A store is written in a temporary folder and
renamed into place, so a reader sees a whole store or none, and a rebuilt store has a new
name instead of replacing one that another process may have mapped. `building(cache)`
holds the session's lock file (`.cache/lock`) so that processes that need the same store
at once build it once: the others wait, then find it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import mmap
import os
import shutil
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = 1
HEADER = "header.json"
DATA = "data.bin"
LOCK = "lock"
_ALIGN = 64


def store_path(cache_dir: Path, kind: str, key: str) -> Path:
    return Path(cache_dir) / f"{kind}-{key}"


def write_store(
    cache_dir: Path, kind: str, key: str, columns: Mapping[str, np.ndarray], attrs: Any
) -> Path:
    """Write the store `kind-key` atomically; returns its folder. When another process
    wrote the same store first, its copy is kept and ours is dropped."""
    cache_dir = Path(cache_dir)
    final = store_path(cache_dir, kind, key)
    tmp = cache_dir / f".tmp-{kind}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    try:
        layout: dict[str, dict[str, Any]] = {}
        offset = 0
        with open(tmp / DATA, "wb") as fh:
            for name, array in columns.items():
                a = np.ascontiguousarray(array)
                if a.dtype.hasobject:
                    raise TypeError(f"column {name!r}: object arrays cannot be stored")
                a = a.astype(a.dtype.newbyteorder("<"), copy=False)
                pad = -offset % _ALIGN
                fh.write(b"\0" * pad)
                offset += pad
                layout[name] = {"dtype": a.dtype.str, "shape": list(a.shape), "offset": offset}
                fh.write(a.tobytes())
                offset += a.nbytes
        header = {
            "format": FORMAT,
            "kind": kind,
            "key": key,
            "attrs": attrs,
            "columns": layout,
            "data_bytes": offset,
        }
        (tmp / HEADER).write_text(json.dumps(header, separators=(",", ":")))
        try:
            os.rename(tmp, final)
        except OSError:
            if not (final / HEADER).exists():
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # another process was first
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


class Store:
    """An opened store: `attrs` and the columns, as read-only arrays over one mapping."""

    def __init__(self, path: Path, header: dict[str, Any], columns: dict[str, np.ndarray]):
        self.path = path
        self.header = header
        self.attrs: Any = header["attrs"]
        self.columns = columns

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def group(self, prefix: str) -> dict[str, np.ndarray]:
        """The columns named `prefix.<name>`, by `<name>`."""
        cut = len(prefix) + 1
        return {k[cut:]: v for k, v in self.columns.items() if k.startswith(prefix + ".")}


def open_store(path: Path) -> Store | None:
    """Map the store at `path`; None when it is missing, partial or of another format."""
    try:
        header = json.loads((Path(path) / HEADER).read_text())
        if header.get("format") != FORMAT:
            return None
        size = header["data_bytes"]
        buf: Any = b""
        if size:
            fd = os.open(Path(path) / DATA, os.O_RDONLY)
            try:
                if os.fstat(fd).st_size != size:
                    return None
                buf = mmap.mmap(fd, size, prot=mmap.PROT_READ)
            finally:
                os.close(fd)
        columns = {}
        for name, c in header["columns"].items():
            dtype = np.dtype(c["dtype"])
            shape = tuple(c["shape"])
            count = int(np.prod(shape)) if shape else 1
            a = np.frombuffer(buf, dtype=dtype, count=count, offset=c["offset"]) if count else None
            columns[name] = np.empty(shape, dtype) if a is None else a.reshape(shape)
        return Store(Path(path), header, columns)
    except (OSError, ValueError, KeyError, TypeError):
        return None


@contextlib.contextmanager
def building(cache_dir: Path) -> Iterator[None]:
    """Hold the session's build lock (waits while another process holds it)."""
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / LOCK, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def prune(cache_dir: Path, kind: str, keep: str, legacy: tuple[str, ...] = ()) -> None:
    """Remove the other stores of `kind` (and `legacy` files) once `keep` is built. A
    process still mapping one keeps its mapping; one about to open it rebuilds."""
    cache_dir = Path(cache_dir)
    for p in cache_dir.glob(f"{kind}-*"):
        if p.name != f"{kind}-{keep}":
            shutil.rmtree(p, ignore_errors=True)
    for name in legacy:
        with contextlib.suppress(OSError):
            (cache_dir / name).unlink()

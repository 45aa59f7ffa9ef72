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
and a session is mapped at every replay.) A reader that wants the same few columns in full,
over and over (the compiled replay), keeps a `ColumnMap` of them and reads them with
`read_columns` into a buffer it reuses: cheaper than mapping, faulting in and unmapping.

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
from collections.abc import Iterable, Iterator, Mapping
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


def _view(buf: Any, dtype: np.dtype, shape: tuple[int, ...], offset: int) -> np.ndarray:
    """The column at `offset` of a mapping, as a read-only array (no copy)."""
    count = 1
    for n in shape:
        count *= n
    if count:
        return np.frombuffer(buf, dtype=dtype, count=count, offset=offset).reshape(shape)
    a = np.empty(shape, dtype)
    a.flags.writeable = False
    return a


class _Columns(Mapping[str, np.ndarray]):
    """The columns of a mapped store, each made into an array when first read (a replay
    reads a few of a store's columns)."""

    __slots__ = ("_buf", "_layout", "_made")

    def __init__(self, buf: Any, layout: dict[str, Any]) -> None:
        self._buf = buf
        self._layout = layout
        self._made: dict[str, np.ndarray] = {}

    def __getitem__(self, name: str) -> np.ndarray:
        a = self._made.get(name)
        if a is None:
            c = self._layout[name]
            a = _view(self._buf, np.dtype(c["dtype"]), tuple(c["shape"]), c["offset"])
            self._made[name] = a
        return a

    def __iter__(self) -> Iterator[str]:
        return iter(self._layout)

    def __len__(self) -> int:
        return len(self._layout)


class Store:
    """An opened store: `attrs` and the columns, as read-only arrays over one mapping."""

    def __init__(self, path: Path, header: dict[str, Any], columns: Mapping[str, np.ndarray]):
        self.path = path
        self.header = header
        self.attrs: Any = header["attrs"]
        self.columns = columns

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def group(self, prefix: str) -> dict[str, np.ndarray]:
        """The columns named `prefix.<name>`, by `<name>`."""
        cut = len(prefix) + 1
        return {k[cut:]: self.columns[k] for k in self.columns if k.startswith(prefix + ".")}


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
        layout = header["columns"]
        if not isinstance(layout, dict):
            return None
        return Store(Path(path), header, _Columns(buf, layout))
    except (OSError, ValueError, KeyError, TypeError):
        return None


class ColumnMap:
    """Where some columns of a store lie in its data file: enough to read them again
    without reading the header (`read_columns`). Small (one int64 row per column), so a
    caller that reads the same columns over and over can keep one per store."""

    __slots__ = ("data", "dtypes", "places", "size", "span")

    def __init__(self, store: Store, names: Iterable[str]) -> None:
        layout = store.header["columns"]
        cols = [layout[n] for n in names]
        self.data = str(store.path / DATA)
        self.size = int(store.header["data_bytes"])
        # dtypes of the built-in kinds are shared objects: one tuple per set of kinds
        dtypes = tuple(np.dtype(c["dtype"]) for c in cols)
        self.dtypes = _DTYPES.setdefault(dtypes, dtypes)
        width = 1 + max((len(c["shape"]) for c in cols), default=0)
        places = np.full((len(cols), width + 1), -1, dtype=np.int64)
        for i, c in enumerate(cols):  # offset, number of dimensions, the dimensions
            places[i, :2] = c["offset"], len(c["shape"])
            places[i, 2 : 2 + len(c["shape"])] = c["shape"]
        self.places = places
        # the bytes from the first column to the end of the last (`read_columns`)
        ends = [
            c["offset"] + dtypes[i].itemsize * int(np.prod(c["shape"])) for i, c in enumerate(cols)
        ]
        self.span = (min((c["offset"] for c in cols), default=0), max(ends, default=0))


_DTYPES: dict[tuple[np.dtype, ...], tuple[np.dtype, ...]] = {}


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


def read_columns(
    where: ColumnMap, into: np.ndarray | None = None
) -> tuple[tuple[np.ndarray, ...], np.ndarray] | None:
    """The columns of `where` read (copied) from the data file into one buffer: `into`
    when it is large enough, else a new one. Returns the read-only arrays and the buffer
    they live in, which the caller may pass again once it no longer needs them; None when
    the file is gone or is not the one seen before. For columns read in full over and
    over, copying from the OS page cache costs less than mapping the file, faulting its
    pages in and unmapping it, and keeps no mapping alive."""
    lo, hi = where.span
    if into is None or into.nbytes < hi - lo:
        into = np.empty(hi - lo, dtype=np.uint8)
    try:
        fd = os.open(where.data, os.O_RDONLY)
        try:
            if os.fstat(fd).st_size != where.size:
                return None
            got = os.preadv(fd, [into.data[: hi - lo]], lo) if hi > lo else 0
        finally:
            os.close(fd)
    except OSError:
        return None
    if got != hi - lo:
        return None
    arrays = tuple(
        _view(into, dtype, tuple(row[2 : 2 + row[1]]), row[0] - lo)
        for dtype, row in zip(where.dtypes, where.places.tolist(), strict=True)
    )
    for a in arrays:
        a.flags.writeable = False
    return arrays, into

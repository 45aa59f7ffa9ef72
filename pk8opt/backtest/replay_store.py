"""The replay cache of a session, built once into a column store and mapped at each replay.

`session_cache.SessionCache` holds what fast replay reads (levels, trades, top of book
per frame ...) as Python lists and dicts. Built once per session (`index_session`, or
lazily by the first replay) it is encoded into a column store beside the normalized
tables (`<session>/.cache/replay-<key>/`, see `recordings.store`); a replay maps the store
and decodes it into the very same lists and dicts (same values, same Python types), and
the process drops them with the session. So a process's memory does not grow with the
number of sessions it replays, and every worker reads one copy from the OS page cache.

The encoding follows the attributes' shapes, not their names, so an attribute added to
`SessionCache` is stored without changing anything here, as long as it is one of:

    scalar                          int, float, str, bool or None (kept in the header)
    list[scalar]                    one column
    list[tuple[scalar, ...]]        run-length encoded: the rows where the tuple changes
    dict[int, tuple[list, ...]]     keys, offsets, one column per tuple position; read
                                    back as a mapping that decodes a key on first use
    empty dict                      read back as a new empty dict (a memo starts empty)
    list[tuple[list, ...]]          offsets, one column per tuple position
    numpy array                     the column itself (mapped, read-only)

Numbers keep their type: a list is stored only when all its values are ints (int64) or
all floats (float64). Anything else is an error naming the attribute. The store's key
hashes the events store's key and the source of the modules that build and encode the
cache (levels, session_cache, this one), so a change to how the cache is built rebuilds it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from pk8opt.backtest import session_cache
from pk8opt.backtest.session_cache import SessionCache
from pk8opt.engine import levels
from pk8opt.engine.market import MarketSpec
from pk8opt.recordings.load import CACHE_DIR, StoredSession
from pk8opt.recordings.store import Store, building, open_store, prune, store_path, write_store

REPLAY_KIND = "replay"
ENCODING_VERSION = 1
# attributes rebuilt from the manifest instead of stored
REBUILT: dict[str, Callable[[Any], Any]] = {
    "spec": lambda session: MarketSpec.from_manifest(session.manifest),
}

_SCALARS = (int, float, str, bool, type(None))


class CacheEncodingError(TypeError):
    """An attribute of the replay cache has a shape the store cannot keep exactly."""


def _dtype(values: Iterable[Any], where: str) -> str:
    kinds = {type(v) for v in values}
    if not kinds or kinds == {int}:
        return "<i8"
    if kinds == {float}:
        return "<f8"
    if kinds == {bool}:
        return "|b1"
    names = ", ".join(sorted(k.__name__ for k in kinds))
    raise CacheEncodingError(f"replay cache {where}: values of types {names} cannot be stored")


def _column(values: list[Any], where: str) -> np.ndarray:
    return np.array(values, dtype=_dtype(values, where))


def _is_tuple_of_lists(v: Any) -> bool:
    return isinstance(v, tuple) and all(isinstance(x, list) for x in v)


def encode(cache: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The columns and the layout (JSON-able) of a replay cache object."""
    columns: dict[str, np.ndarray] = {}
    layout: dict[str, Any] = {}
    for name, value in vars(cache).items():
        if name in REBUILT:
            continue
        if isinstance(value, np.ndarray):
            columns[name] = value
            layout[name] = {"kind": "array"}
        elif isinstance(value, _SCALARS):
            layout[name] = {"kind": "scalar", "value": value}
        elif isinstance(value, dict):
            _encode_dict(name, value, columns, layout)
        elif isinstance(value, list) and value and all(_is_tuple_of_lists(v) for v in value):
            _encode_groups(name, value, columns, layout)
        elif isinstance(value, list) and value and all(isinstance(v, tuple) for v in value):
            _encode_rows(name, value, columns, layout)
        elif isinstance(value, list):
            columns[name] = _column(value, name)
            layout[name] = {"kind": "list"}
        else:
            raise CacheEncodingError(
                f"replay cache attribute {name!r}: a {type(value).__name__} cannot be stored "
                "(see pk8opt/backtest/replay_store.py for the shapes that can)"
            )
    return columns, layout


def _encode_rows(name: str, rows: list[tuple], columns: dict, layout: dict) -> None:
    width = len(rows[0])
    if any(len(r) != width for r in rows):
        raise CacheEncodingError(f"replay cache attribute {name!r}: tuples of unequal length")
    starts = [i for i in range(len(rows)) if i == 0 or rows[i] != rows[i - 1]]
    columns[f"{name}.starts"] = np.array(starts, dtype="<i8")
    for j in range(width):
        columns[f"{name}.{j}"] = _column([rows[i][j] for i in starts], f"{name}[{j}]")
    layout[name] = {"kind": "rows", "width": width, "n": len(rows)}


def _encode_parts(name: str, groups: list[tuple], columns: dict, layout: dict) -> None:
    width = len(groups[0]) if groups else 0
    if any(len(g) != width for g in groups):
        raise CacheEncodingError(f"replay cache attribute {name!r}: tuples of unequal length")
    offsets = [0]
    for g in groups:
        lengths = {len(x) for x in g}
        if len(lengths) > 1:
            raise CacheEncodingError(f"replay cache attribute {name!r}: lists of unequal length")
        offsets.append(offsets[-1] + (lengths.pop() if lengths else 0))
    columns[f"{name}.offsets"] = np.array(offsets, dtype="<i8")
    for j in range(width):
        flat = [v for g in groups for v in g[j]]
        columns[f"{name}.{j}"] = _column(flat, f"{name}[{j}]")
    layout[name]["width"] = width


def _encode_dict(name: str, d: dict, columns: dict, layout: dict) -> None:
    if not d:  # e.g. a memo the object fills as it is used: it starts empty again
        layout[name] = {"kind": "empty_dict"}
        return
    if not all(type(k) is int for k in d) or not all(_is_tuple_of_lists(v) for v in d.values()):
        raise CacheEncodingError(
            f"replay cache attribute {name!r}: only dict[int, tuple[list, ...]] can be stored"
        )
    columns[f"{name}.keys"] = np.array(list(d), dtype="<i8")
    layout[name] = {"kind": "dict"}
    _encode_parts(name, list(d.values()), columns, layout)


def _encode_groups(name: str, groups: list[tuple], columns: dict, layout: dict) -> None:
    layout[name] = {"kind": "groups"}
    _encode_parts(name, groups, columns, layout)


def _parts(store: Store, name: str, width: int) -> tuple[list[int], list[list[Any]]]:
    offsets = store[f"{name}.offsets"].tolist()
    return offsets, [store[f"{name}.{j}"].tolist() for j in range(width)]


class LazyGroups(Mapping[int, tuple[list[Any], ...]]):
    """A stored `dict[int, tuple[list, ...]]`, each key's lists decoded on first use
    (a replay reads the levels of a few prices among hundreds)."""

    __slots__ = ("_cols", "_index", "_keys", "_memo", "_offsets")

    def __init__(self, keys: np.ndarray, offsets: np.ndarray, cols: list[np.ndarray]) -> None:
        self._keys = keys
        self._offsets = offsets
        self._cols = cols
        self._index: dict[int, int] = dict(zip(keys.tolist(), range(len(keys)), strict=True))
        self._memo: dict[int, tuple[list[Any], ...] | None] = {}

    def get(self, key: int, default: Any = None) -> Any:
        try:
            v = self._memo[key]  # on the replay's hot path: one lookup when seen before
        except KeyError:
            v = self._memo[key] = self._decode(key)
        return default if v is None else v

    def _decode(self, key: int) -> tuple[list[Any], ...] | None:
        i = self._index.get(key)
        if i is None:
            return None
        a, b = int(self._offsets[i]), int(self._offsets[i + 1])
        return tuple(c[a:b].tolist() for c in self._cols)

    def __getitem__(self, key: int) -> tuple[list[Any], ...]:
        v = self.get(key)
        if v is None:
            raise KeyError(key)
        return v

    def __contains__(self, key: object) -> bool:
        return key in self._index

    def __iter__(self) -> Iterator[int]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)


def _slices(offsets: list[int], cols: list[list[Any]]) -> list[tuple[list[Any], ...]]:
    """Group i is the tuple of every column's values offsets[i]:offsets[i + 1]."""
    bounds = list(zip(offsets[:-1], offsets[1:], strict=True))
    if not cols:
        return [() for _ in bounds]
    return list(zip(*[[c[a:b] for a, b in bounds] for c in cols], strict=True))


def decode(store: Store, session: Any, cls: type[Any]) -> Any:
    """A `cls` object with the attributes stored in `store` (and the rebuilt ones)."""
    obj = object.__new__(cls)
    values: dict[str, Any] = {}
    for name, spec in store.attrs["layout"].items():
        kind = spec["kind"]
        if kind == "scalar":
            values[name] = spec["value"]
        elif kind == "list":
            values[name] = store[name].tolist()
        elif kind == "array":
            values[name] = store[name]
        elif kind == "rows":
            starts = store[f"{name}.starts"].tolist()
            cols = [store[f"{name}.{j}"].tolist() for j in range(spec["width"])]
            rows: list[tuple] = []
            ends = [*starts[1:], spec["n"]]
            for row, a, b in zip(zip(*cols, strict=True), starts, ends, strict=True):
                rows += [row] * (b - a)
            values[name] = rows
        elif kind == "empty_dict":
            values[name] = {}
        elif kind == "dict":
            cols_a = [store[f"{name}.{j}"] for j in range(spec["width"])]
            values[name] = LazyGroups(store[f"{name}.keys"], store[f"{name}.offsets"], cols_a)
        elif kind == "groups":
            offsets, cols = _parts(store, name, spec["width"])
            values[name] = [
                tuple(c[offsets[i] : offsets[i + 1]] for c in cols) for i in range(len(offsets) - 1)
            ]
        else:
            raise CacheEncodingError(f"replay cache attribute {name!r}: unknown kind {kind!r}")
    for name in store.attrs["order"]:
        if name in REBUILT:
            values[name] = REBUILT[name](session)
    # the attributes in the order the builder set them
    for name in store.attrs["order"]:
        setattr(obj, name, values[name])
    return obj


_CODE_KEY: str | None = None


def _code_key() -> str:
    """A hash of the source of the modules that build the replay cache."""
    global _CODE_KEY
    if _CODE_KEY is None:
        import sys  # noqa: PLC0415

        h = hashlib.sha256(f"encoding {ENCODING_VERSION}\n".encode())
        for module in (levels, session_cache, sys.modules[__name__]):
            h.update(Path(module.__file__ or "").read_bytes())
        _CODE_KEY = h.hexdigest()
    return _CODE_KEY


def replay_key(session: StoredSession) -> str:
    return hashlib.sha256(f"{session.store.name}|{_code_key()}".encode()).hexdigest()[:16]


def has_replay_store(session: StoredSession) -> bool:
    return (
        store_path(session.path / CACHE_DIR, REPLAY_KIND, replay_key(session)) / "header.json"
    ).exists()


def open_replay_store(session: StoredSession, known: Path | None) -> tuple[Store | None, Path]:
    """The session's mapped replay store, built when missing (None: a folder we cannot
    write to), and the path to open it by next time (`known`, when given: the path
    found before, opened straight away, as a session is replayed every trial)."""
    if known is not None:
        store = open_store(known)
        if store is not None:
            return store, known
    key = replay_key(session)
    cache_dir = session.path / CACHE_DIR
    path = store_path(cache_dir, REPLAY_KIND, key)
    store = open_store(path)
    if store is not None:
        return store, path
    try:
        with building(cache_dir):
            store = open_store(path)
            if store is None:
                built = SessionCache(session)
                columns, layout = encode(built)
                order = list(vars(built))
                write_store(
                    cache_dir, REPLAY_KIND, key, columns, {"layout": layout, "order": order}
                )
                prune(cache_dir, REPLAY_KIND, key)
                store = open_store(path)
    except OSError:
        return None, path
    return store, path

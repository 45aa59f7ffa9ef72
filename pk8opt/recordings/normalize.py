"""Raw frames of a session -> the columnar tables of `schema` (events, underlying).

One pass over the frames file: each line is decoded (msgspec), its `raw` text parsed
by `polymarket.wire` into domain events, and those appended as rows to plain lists;
the polars DataFrames are built once at the end.

Nothing is dropped silently. Whatever is not data is counted by kind in `Problems`
with a few examples (`file:line: detail`); the good data around it is kept. Kinds:

    bad_line       a line that is not a frame (garbage, cut off by a kill)
    malformed      a frame or message of a known type that lacks what it needs, or a
                   row holding an impossible value (a negative, NaN, infinite or absurd
                   size, a price outside (0, 1): see `values`)
    unknown_event  a market message of an event type this version does not know
    live_status    a live-data error body (`statusCode`), e.g. a silenced subscription
    text           a non-JSON text frame (`PONG`, `NO NEW ASSETS`)        (harmless)
    foreign_asset  a message of another market on the same socket         (harmless)
    foreign_symbol a live price of another symbol                          (harmless)
    other_topic    a live-data topic we do not use (`activity`, TWAP 30 s) (harmless)
    empty          an empty live-data frame                                (harmless)
    time_backwards a frame received before one already read (its receive time goes
                   backwards): left out, so replay never goes back in time
    duplicate      the same frame (the same line) again: left out, so it is played once
    sha256         the frames file is not the one the manifest describes   (see integrity)
    frame_count    the file holds more or fewer frames than the manifest counts  (integrity)
    resolution     the recorded market_resolved and the manifest disagree  (see integrity)
    resolution_source  the manifest's winner came from market_resolved, the frames hold
                   none                                                    (see integrity)

Receive order is checked on the frames received (market, live, gamma); the recorder's
own notes are written when it writes them (a restart's notes come before the frames that
waited for the session) and are not part of it.
"""

from __future__ import annotations

import gzip
import io
from array import array
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from pk8opt.polymarket.wire import (
    BestBidAsk,
    BookSnapshot,
    LevelUpdate,
    MarketResolved,
    PricePoint,
    Problem,
    TickSizeChange,
    Trade,
    parse_live_frame,
    parse_market_frame_into,
)
from pk8opt.recordings.integrity import (
    frame_count_problem,
    resolution_problem,
    resolution_source_problem,
    sha256_problem,
)
from pk8opt.recordings.manifest import Manifest
from pk8opt.recordings.raw import CHANNELS, Frame, encode_frame, frames_path
from pk8opt.recordings.schema import (
    EVENTS_SCHEMA,
    NO_PRICE,
    NO_SIDE,
    NO_TOKEN,
    UNDERLYING_SCHEMA,
    Kind,
)
from pk8opt.recordings.session import HARMLESS_PROBLEMS
from pk8opt.recordings.values import bad_number, good_underlying, keep_good_rows

if TYPE_CHECKING:
    import polars as pl

HARMLESS = HARMLESS_PROBLEMS
MAX_EXAMPLES = 5

_decode_frame = msgspec.json.Decoder(Frame).decode
_decode_any = msgspec.json.Decoder().decode

K_RESET, K_LEVEL, K_TRADE = int(Kind.BOOK_RESET), int(Kind.LEVEL), int(Kind.TRADE)
K_TICK, K_RESOLVED, K_GAP, K_BBA = (
    int(Kind.TICK_SIZE),
    int(Kind.RESOLVED),
    int(Kind.GAP),
    int(Kind.BEST_BID_ASK),
)


def _line_of(example: str) -> int:
    """The line number of a `file:line: detail` example (0 when there is none)."""
    head = example.split(": ", 1)[0]
    line = head.rpartition(":")[2]
    return int(line) if line.isdigit() else 0


@dataclass
class Problems:
    """Counts by kind and up to `MAX_EXAMPLES` examples (`file:line: detail`) each."""

    counts: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, kind: str, where: str, detail: str = "") -> None:
        """Count one; the examples kept are the first ones by line, whatever the order
        they are added in (rows with impossible values are found after the pass)."""
        self.counts[kind] += 1
        ex = self.examples.setdefault(kind, [])
        text = f"{where}: {detail}" if detail else where
        if len(ex) < MAX_EXAMPLES:
            ex.append(text)
            if len(ex) > 1 and _line_of(text) < _line_of(ex[-2]):
                ex.sort(key=_line_of)
        elif _line_of(text) < _line_of(ex[-1]):
            ex[-1] = text
            ex.sort(key=_line_of)

    @property
    def serious(self) -> dict[str, int]:
        """The counts that mean something is wrong with the data."""
        return {k: v for k, v in self.counts.items() if k not in HARMLESS}

    def to_dict(self) -> dict:
        return {"counts": dict(sorted(self.counts.items())), "examples": self.examples}

    @classmethod
    def from_dict(cls, d: dict) -> Problems:
        return cls(Counter(d.get("counts", {})), dict(d.get("examples", {})))


@dataclass
class Normalized:
    events: pl.DataFrame
    underlying: pl.DataFrame
    problems: Problems
    lines: int = 0  # the file's lines that are not blank: frames (kept or not), bad lines


def read_frames_bytes(path: Path) -> bytes:
    with open(path, "rb") as fh:
        data = fh.read()
    if str(path).endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (EOFError, gzip.BadGzipFile, OSError):
            # a cut-off .gz: keep what decompresses
            data = _partial_gunzip(path)
    return data


def _partial_gunzip(path: Path) -> bytes:
    chunks = []
    try:
        with gzip.open(path, "rb") as fh:
            while chunk := fh.read(1 << 16):
                chunks.append(chunk)
    except (EOFError, gzip.BadGzipFile, OSError):
        pass
    return b"".join(chunks)


def normalize_session(session_dir: Path, manifest: Manifest) -> Normalized:
    """Normalize the frames file of `session_dir` (no frames file: empty tables)."""
    path = frames_path(Path(session_dir))
    if path is None:
        return normalize_lines([], manifest, str(session_dir))
    if path.suffix == ".gz":
        out = normalize_bytes(read_frames_bytes(path), manifest, str(path))
    else:
        with open(path, "rb") as fh:
            out = normalize_lines(fh, manifest, str(path))
    _integrity_problems(path, manifest, out)
    return out


def _integrity_problems(path: Path, manifest: Manifest, out: Normalized) -> None:
    """The manifest against the frames it describes (`integrity`): sha256, the number
    of frames, resolution."""
    wrong = sha256_problem(path, manifest)
    if wrong:
        out.problems.add("sha256", str(path), wrong)
    miscount = frame_count_problem(out.lines, manifest)
    if miscount:
        out.problems.add("frame_count", str(path), miscount)
    cols = {c: out.events[c].to_numpy() for c in ("kind", "token", "frame", "local_ns")}
    differs = resolution_problem(cols, manifest)
    if differs:
        out.problems.add("resolution", f"{path}:{differs[0]}", differs[1])
    unsourced = resolution_source_problem(cols, manifest)
    if unsourced:
        out.problems.add("resolution_source", str(path), unsourced)


def normalize_bytes(data: bytes, manifest: Manifest, name: str = "frames") -> Normalized:
    """Normalize the content of a frames file; `name` is used in problem examples."""
    return normalize_lines(io.BytesIO(data), manifest, name)


def normalize_lines(lines: Iterable[bytes], manifest: Manifest, name: str) -> Normalized:
    """Normalize frames-file lines (each ending in a newline, but for a cut last one),
    in receive order: a frame received before one already read, or the same frame
    again, is counted and left out (`ReceiveOrder`); the first is still read for its
    own problems, the second was read already."""
    norm = FrameNormalizer(manifest, name)
    add_problem = norm.problems.add
    step = norm.step
    decode = _decode_frame
    order = ReceiveOrder(name, add_problem)
    place = order.place
    keep_t, keep_line, keep_hash = order.times.append, order.numbers.append, order.hashes.append
    latest = order.EARLIEST
    others = 0  # lines that are not frames, and the recorder's notes
    for lineno, line in enumerate(lines, 1):
        try:
            fr = decode(line)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            if not line.endswith(b"\n") and line.strip():
                others += 1
                add_problem(
                    "bad_line", f"{name}:{lineno}", "line cut off (file truncated mid-write)"
                )
            elif line.strip():
                others += 1
                add_problem("bad_line", f"{name}:{lineno}", f"not a frame: {exc}")
            continue
        t = fr.t
        if fr.ch == "note":
            others += 1
        elif t > latest:
            latest = t
            keep_t(t)
            keep_line(lineno)
            keep_hash(hash(line))
        elif (where := place(t, line, lineno)) != KEPT:
            if where == BACKWARDS:
                norm.check_only(fr, lineno)
            continue
        step(fr, lineno)
    out = norm.tables()
    out.lines = len(order.times) + order.left_out + others
    return out


KEPT, DUPLICATE, BACKWARDS = "kept", "duplicate", "time_backwards"


def _span(ns: int) -> str:
    """`299.954 s`, `4.102 ms`, `350 ns`."""
    if ns >= 10**9:
        return f"{ns / 1e9:.3f} s"
    return f"{ns / 1e6:.3f} ms" if ns >= 10**6 else f"{ns:,} ns"


class ReceiveOrder:
    """The received frames of a file kept so far, to leave out the ones that would take
    replay back in time: their receive time (sorted, as only frames no earlier than the
    last are kept), line number and a hash of the line.

    `normalize_lines` keeps a frame received after the last one itself (the common case,
    a comparison) and asks `place` about the others: the same line as one kept is a
    `duplicate`, an earlier receive time is `time_backwards`; both are counted with
    `file:line` and left out. Another frame received in the same nanosecond is kept."""

    EARLIEST = -(1 << 63) - 1  # before any receive time

    def __init__(self, name: str, add_problem: Callable[[str, str, str], None]) -> None:
        self.name = name
        self.add_problem = add_problem
        self.times = array("q")
        self.numbers = array("i")
        self.hashes = array("q")
        self.left_out = 0

    def place(self, t: int, line: bytes, lineno: int) -> str:
        """`KEPT`, `DUPLICATE` or `BACKWARDS`, for a frame received no later than the
        last one kept; the last two are counted and left out of replay."""
        times = self.times
        lo = bisect_left(times, t)
        hi = bisect_right(times, t, lo)
        h = hash(line)
        for i in range(lo, hi):
            if self.hashes[i] == h:
                return self._leave_out(
                    DUPLICATE, lineno, f"the same frame as line {self.numbers[i]}"
                )
        if hi < len(times):
            return self._leave_out(
                BACKWARDS,
                lineno,
                f"received {_span(times[-1] - t)} before line {self.numbers[-1]} (the receive "
                "time goes backwards); left out",
            )
        times.append(t)
        self.numbers.append(lineno)
        self.hashes.append(h)
        return KEPT

    def _leave_out(self, kind: str, lineno: int, detail: str) -> str:
        self.left_out += 1
        self.add_problem(kind, f"{self.name}:{lineno}", detail)
        return kind


_NP_TYPES = {"q": "int64", "i": "int32", "B": "uint8", "b": "int8", "d": "float64"}
EVENT_TYPECODES = {
    "local_ns": "q",
    "exch_ms": "q",
    "frame": "i",
    "kind": "B",
    "token": "b",
    "side": "b",
    "price": "i",
    "size": "d",
    "venue_bid": "i",
    "venue_ask": "i",
}
UNDERLYING_TYPECODES = {"local_ns": "q", "exch_ms": "q", "source": "B", "price": "d"}


class FrameNormalizer:
    """The normalizer one frame at a time, for a feed that arrives frame by frame.

    `feed(frame, lineno)` returns the event rows of that frame (numpy columns of
    `EVENTS_SCHEMA`), exactly the rows the whole-file normalizer gives for line
    `lineno` of the session: both run `step`, which keeps what spans frames (the last
    tick size per token, the symbol check) between calls, and both leave out what
    `ReceiveOrder` leaves out (a frame received before one already fed, e.g. when the
    wall clock steps back, or the same frame again), so a live run steps what the replay
    of its recording steps. Underlying prices are kept in `underlying` (columns as typed
    arrays) until `take_underlying()`.
    """

    def __init__(self, manifest: Manifest, name: str = "frames") -> None:
        self.problems = Problems()
        self.name = name
        self.events = {k: array(code) for k, code in EVENT_TYPECODES.items()}
        self.underlying = {k: array(code) for k, code in UNDERLYING_TYPECODES.items()}
        self.last_tick = [0, 0]  # the last tick size per token
        self.step = _frame_step(
            manifest, name, self.problems, self.events, self.underlying, self.last_tick
        )
        self.order = ReceiveOrder(name, self.problems.add)
        self.latest = ReceiveOrder.EARLIEST  # the receive time of the last frame kept

    def check_only(self, frame: Frame, lineno: int) -> None:
        """Read a frame for its problems alone: its rows are taken back and what spans
        frames is as before (a frame left out of replay, see `ReceiveOrder`)."""
        n_events, n_underlying = len(self.events["kind"]), len(self.underlying["price"])
        tick = list(self.last_tick)
        self.step(frame, lineno)
        for values in self.events.values():
            del values[n_events:]
        for values in self.underlying.values():
            del values[n_underlying:]
        self.last_tick[:] = tick

    def feed(self, frame: Frame, lineno: int) -> dict[str, Any]:
        """The event rows of one decoded frame, line `lineno` of its session (none for a
        frame left out of receive order)."""
        import numpy as np

        if frame.ch == "note" or self._kept(frame, lineno):
            self.step(frame, lineno)
        cols = self.events
        if not cols["kind"]:
            return {k: np.empty(0, dtype=_NP_TYPES[c]) for k, c in EVENT_TYPECODES.items()}
        out = {}
        for k, values in cols.items():
            out[k] = np.array(values, dtype=_NP_TYPES[values.typecode])
            del values[:]
        return keep_good_rows(out, self._report_bad_value)

    def _kept(self, frame: Frame, lineno: int) -> bool:
        """Is a received frame kept in receive order (as `normalize_lines` keeps the line
        the writer makes of it)? One left out is still read for its own problems when it
        came too early (`check_only`), as there."""
        line = encode_frame(frame)
        order = self.order
        if frame.t > self.latest:
            self.latest = frame.t
            order.times.append(frame.t)
            order.numbers.append(lineno)
            order.hashes.append(hash(line))
            return True
        where = order.place(frame.t, line, lineno)
        if where == BACKWARDS:
            self.check_only(frame, lineno)
        return where == KEPT

    def _report_bad_value(self, lineno: int, detail: str) -> None:
        self.problems.add("malformed", f"{self.name}:{lineno}", detail)

    def drop_underlying(self) -> None:
        """Forget the underlying price rows gathered so far (a feed that has no use
        for them calls this after each frame)."""
        for values in self.underlying.values():
            del values[:]

    def take_underlying(self) -> dict[str, Any]:
        """The underlying price rows gathered since the last call (numpy columns)."""
        import numpy as np

        out = {}
        for k, values in self.underlying.items():
            out[k] = np.array(values, dtype=_NP_TYPES[values.typecode])
            del values[:]
        return out

    def tables(self) -> Normalized:
        """Everything stepped so far as the polars tables of `schema`."""
        import numpy as np
        import polars as pl

        def col(values: array[Any], name: str) -> pl.Series:
            return pl.Series(name, np.frombuffer(values, dtype=_NP_TYPES[values.typecode]))

        ev_cols = {k: np.frombuffer(v, dtype=_NP_TYPES[v.typecode]) for k, v in self.events.items()}
        ev_cols = keep_good_rows(ev_cols, self._report_bad_value)
        events = pl.DataFrame([pl.Series(k, v) for k, v in ev_cols.items()]).cast(
            dict(EVENTS_SCHEMA)  # type: ignore[arg-type]
        )
        underlying = pl.DataFrame([col(v, k) for k, v in self.underlying.items()]).cast(
            dict(UNDERLYING_SCHEMA)  # type: ignore[arg-type]
        )
        return Normalized(events, underlying, self.problems)


_Row = Callable[[int, int, int, int, int, int, int, float, int, int], None]
_OnEvent = Callable[[Any, int, int, str], None]  # (event, local_ns, line, raw frame)
_OnNote = Callable[[str, int, int], None]  # (raw, local_ns, line)


def _row_writer(ev_cols: dict[str, array[Any]]) -> tuple[_Row, tuple[Any, ...]]:
    """`row(local_ns, exch_ms, frame, kind, token, side, price, size, venue_bid,
    venue_ask)`, which appends one event row, and the ten `append`s it calls, in that
    order (what `parse_market_frame_into` writes its rows through)."""
    # Typed arrays: appends as cheap as a list's, and numpy takes them without a copy.
    a_local, a_exch, a_frame = (
        ev_cols["local_ns"].append,
        ev_cols["exch_ms"].append,
        ev_cols["frame"].append,
    )
    a_kind, a_token, a_side = (
        ev_cols["kind"].append,
        ev_cols["token"].append,
        ev_cols["side"].append,
    )
    a_price, a_size = ev_cols["price"].append, ev_cols["size"].append
    a_vbid, a_vask = ev_cols["venue_bid"].append, ev_cols["venue_ask"].append

    def row(t, ex, ln, kind, tok, side, price, size, vb, va):  # noqa: ANN001
        a_local(t)
        a_exch(ex)
        a_frame(ln)
        a_kind(kind)
        a_token(tok)
        a_side(side)
        a_price(price)
        a_size(size)
        a_vbid(vb)
        a_vask(va)

    appends = (a_local, a_exch, a_frame, a_kind, a_token, a_side, a_price, a_size, a_vbid, a_vask)
    return row, appends


def _book_writer(
    ev_cols: dict[str, array[Any]], row: _Row, last_tick: list[int]
) -> Callable[[BookSnapshot, int, int, int], None]:
    """`book(snapshot, token, local_ns, line)`: its tick size when it changed, a reset,
    then one level row per price, the bids first (whole columns at a time)."""
    c_local, c_exch, c_frame = ev_cols["local_ns"], ev_cols["exch_ms"], ev_cols["frame"]
    c_kind, c_token, c_side = ev_cols["kind"], ev_cols["token"], ev_cols["side"]
    c_price, c_size = ev_cols["price"], ev_cols["size"]
    c_vbid, c_vask = ev_cols["venue_bid"], ev_cols["venue_ask"]

    def book(ev: BookSnapshot, tok: int, t: int, lineno: int) -> None:
        ex = ev.exch_ms
        if ev.tick_milli and ev.tick_milli != last_tick[tok]:
            last_tick[tok] = ev.tick_milli
            row(t, ex, lineno, K_TICK, tok, NO_SIDE, ev.tick_milli, 0.0, -1, -1)
        row(t, ex, lineno, K_RESET, tok, NO_SIDE, NO_PRICE, 0.0, -1, -1)
        nb, na = len(ev.bid_prices), len(ev.ask_prices)
        n = nb + na
        c_local.extend(array("q", (t,)) * n)
        c_exch.extend(array("q", (ex,)) * n)
        c_frame.extend(array("i", (lineno,)) * n)
        c_kind.extend(array("B", (K_LEVEL,)) * n)
        c_token.extend(array("b", (tok,)) * n)
        c_side.extend(array("b", (0,)) * nb)
        c_side.extend(array("b", (1,)) * na)
        c_price.fromlist(ev.bid_prices)
        c_price.fromlist(ev.ask_prices)
        c_size.fromlist(ev.bid_sizes)
        c_size.fromlist(ev.ask_sizes)
        c_vbid.extend(array("i", (-1,)) * n)
        c_vask.extend(array("i", (-1,)) * n)

    return book


def _market_event_handler(
    manifest: Manifest,
    name: str,
    add_problem: Callable[[str, str, str], None],
    ev_cols: dict[str, array[Any]],
    row: _Row,
    last_tick: list[int],
) -> _OnEvent:
    """`on_event(event, local_ns, line, raw)` for the market events the fast path of
    `parse_market_frame_into` returns (all but the `price_change` levels and the
    `best_bid_ask` of the session's own tokens): rows, or a problem each (`raw`, the
    frame's text, names the field of a number that could not be read)."""
    tokens = {manifest.token_up: 0, manifest.token_down: 1}
    condition = manifest.condition_id
    book = _book_writer(ev_cols, row, last_tick)

    def on_event(ev: Any, t: int, lineno: int, raw: str) -> None:
        if isinstance(ev, LevelUpdate):
            tok = tokens.get(ev.asset_id)
            if tok is None:
                add_problem("foreign_asset", f"{name}:{lineno}", ev.asset_id[:12])
                return
            row(
                t,
                ev.exch_ms,
                lineno,
                K_LEVEL,
                tok,
                ev.side,
                ev.price,
                ev.size,
                ev.venue_bid,
                ev.venue_ask,
            )
        elif isinstance(ev, Trade):
            tok = tokens.get(ev.asset_id)
            if tok is None:
                add_problem("foreign_asset", f"{name}:{lineno}", ev.asset_id[:12])
                return
            row(t, ev.exch_ms, lineno, K_TRADE, tok, ev.side, ev.price, ev.size, -1, -1)
        elif isinstance(ev, BookSnapshot):
            tok = tokens.get(ev.asset_id)
            if tok is None:
                add_problem("foreign_asset", f"{name}:{lineno}", ev.asset_id[:12])
                return
            book(ev, tok, t, lineno)
        elif isinstance(ev, BestBidAsk):
            tok = tokens.get(ev.asset_id)
            if tok is None:
                add_problem("foreign_asset", f"{name}:{lineno}", ev.asset_id[:12])
                return
            row(t, ev.exch_ms, lineno, K_BBA, tok, NO_SIDE, NO_PRICE, 0.0, ev.bid, ev.ask)
        elif isinstance(ev, TickSizeChange):
            tok = tokens.get(ev.asset_id)
            if tok is None:
                add_problem("foreign_asset", f"{name}:{lineno}", ev.asset_id[:12])
                return
            last_tick[tok] = ev.tick_milli
            row(t, ev.exch_ms, lineno, K_TICK, tok, NO_SIDE, ev.tick_milli, 0.0, -1, -1)
        elif isinstance(ev, MarketResolved):
            tok = tokens.get(ev.winning_asset_id)
            if tok is None and ev.market == condition:
                tok = {"up": 0, "down": 1}.get(ev.winning_outcome.lower())
            if tok is None:
                if ev.market == condition:
                    add_problem("malformed", f"{name}:{lineno}", "market_resolved without a winner")
                else:
                    add_problem("foreign_asset", f"{name}:{lineno}", ev.market[:12])
                return
            row(t, ev.exch_ms, lineno, K_RESOLVED, tok, NO_SIDE, NO_PRICE, 0.0, -1, -1)
        elif isinstance(ev, Problem):
            detail = ev.detail
            if ev.kind == "malformed":  # a number it could not read: say which, as written
                detail = bad_number(raw) or detail
            add_problem(ev.kind, f"{name}:{lineno}", detail)
        # NewMarket: nothing to replay

    return on_event


def _note_handler(name: str, add_problem: Callable[[str, str, str], None], row: _Row) -> _OnNote:
    """`on_note(raw, local_ns, line)`: a gap row for a market socket's gap or disconnect."""

    def on_note(raw: str, t: int, lineno: int) -> None:
        try:
            note = _decode_any(raw)
        except msgspec.DecodeError:
            add_problem("malformed", f"{name}:{lineno}", "note is not JSON")
            return
        if not isinstance(note, dict):
            add_problem("malformed", f"{name}:{lineno}", "note is not an object")
            return
        if note.get("kind") in ("gap", "disconnected") and note.get("socket", "market") in (
            "market",
            None,
        ):
            row(t, 0, lineno, K_GAP, NO_TOKEN, NO_SIDE, NO_PRICE, 0.0, -1, -1)

    return on_note


def _frame_step(
    manifest: Manifest,
    name: str,
    problems: Problems,
    ev_cols: dict[str, array[Any]],
    u_cols: dict[str, array[Any]],
    last_tick: list[int],
) -> Callable[[Frame, int], None]:
    """The per-frame normalizer: a closure over the output columns and the state that
    spans frames (`last_tick`, the last tick size per token; the symbol check), so the
    whole-file loop and `FrameNormalizer.feed` run the same code.

    Hot path: the market frames' levels and best bid/asks are written by the parser
    itself, the live prices here; the rarer events go through `on_event`, the notes
    through `on_note` (one call each, measured to cost nothing)."""
    add_problem = problems.add
    tokens = {manifest.token_up: 0, manifest.token_down: 1}
    sym = manifest.symbol.lower()
    sym_ok: dict[str, bool] = {}  # live-data symbol -> is it this session's
    row, level_columns = _row_writer(ev_cols)
    on_event = _market_event_handler(manifest, name, add_problem, ev_cols, row, last_tick)
    on_note = _note_handler(name, add_problem, row)
    u_local, u_exch = u_cols["local_ns"].append, u_cols["exch_ms"].append
    u_source, u_price = u_cols["source"].append, u_cols["price"].append

    def step(fr: Frame, lineno: int) -> None:
        ch = fr.ch
        t = fr.t
        if ch == "market":
            for ev in parse_market_frame_into(
                fr.raw, t, lineno, tokens, level_columns, K_LEVEL, K_BBA
            ):
                on_event(ev, t, lineno, fr.raw)
        elif ch == "live":
            for lev in parse_live_frame(fr.raw):
                if isinstance(lev, PricePoint):
                    ok = sym_ok.get(lev.symbol)
                    if ok is None:
                        ok = sym_ok[lev.symbol] = lev.symbol.lower().startswith(sym)
                    if not ok:
                        add_problem("foreign_symbol", f"{name}:{lineno}", lev.symbol)
                        continue
                    if not good_underlying(lev.value):
                        add_problem(
                            "malformed",
                            f"{name}:{lineno}",
                            f"underlying price {lev.value:g} (not finite and > 0)",
                        )
                        continue
                    u_local(t)
                    u_exch(lev.exch_ms)
                    u_source(lev.source)
                    u_price(lev.value)
                else:
                    add_problem(lev.kind, f"{name}:{lineno}", lev.detail)
        elif ch == "note":
            on_note(fr.raw, t, lineno)
        elif ch not in CHANNELS:
            add_problem("bad_line", f"{name}:{lineno}", f"unknown channel {ch!r}")
        # gamma: nothing to replay

    return step

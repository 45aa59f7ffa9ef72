"""The compiled replay: one session through the paper engine, trade loop and strategy as
numba code (`kernel.run_kernel`), with results and event log identical to the Python
engine's. Used by `replay.run_session` whenever the strategy has a compiled quote
(every built-in one does; docs/strategies.md "Compiled strategies") and no per-fill
metrics file is asked for; anything else runs the Python engine.

numba is imported on the first compiled run only (the package works without it). It
compiles the kernel on first use and keeps the machine code on disk
(`NUMBA_CACHE_DIR`, by default `__pycache__` beside the modules), so later processes
start at once. `PK8OPT_COMPILED=0` turns the compiled replay off.
"""

from __future__ import annotations

import importlib
import os
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from pk8opt.backtest.compiled import layout as L
from pk8opt.backtest.replay_handle import ReplaySession, replay_handle, replay_store, session_cache
from pk8opt.backtest.session_result import SessionResult
from pk8opt.engine.eventlog import EventLog
from pk8opt.engine.flow import BLOCK_NS, MakerFlow, block_states
from pk8opt.engine.market import WINNER_INDEX, MarketSpec
from pk8opt.engine.markout import HORIZONS_S, REASONS, Fill
from pk8opt.errors import ConfigError
from pk8opt.recordings.load import StoredSession
from pk8opt.recordings.store import ColumnMap, read_columns
from pk8opt.strategies.base import Strategy
from pk8opt.trading.run_config import RunConfig

_TOKENS = ("Up", "Down")
_REJECT = ("token", "min_size", "tick_size", "price_bounds", "min_notional", "cash")
# buffer sizes of the first try (layout.CAP_*: orders, fills, equity samples, log rows),
# raised for the rest of the process when a session needs more
_CAPS = np.zeros(L.N_CAPS, dtype=np.int64)
_CAPS[[L.CAP_ORDERS, L.CAP_FILLS, L.CAP_EV]] = 1024, 1024, 4096
_HORIZONS = np.array(HORIZONS_S, dtype=np.int64)  # markout horizons, s (only read)
_quotes: dict[str, Callable[..., None]] = {}

try:  # the kernel takes the strategy's quote as an argument: numba calls this experimental
    from numba.core.errors import NumbaExperimentalFeatureWarning

    warnings.filterwarnings("ignore", category=NumbaExperimentalFeatureWarning)
except ImportError:  # pragma: no cover - numba missing: the Python engine runs
    pass


def enabled() -> bool:
    return os.environ.get("PK8OPT_COMPILED", "1").strip() not in ("0", "false", "no", "off")


def quote_function(strategy: type[Strategy]) -> Callable[..., None] | None:
    """The strategy's compiled quote, or None (none declared, or turned off)."""
    path = getattr(strategy, "compiled", "")
    if not path or not enabled():
        return None
    fn = _quotes.get(path)
    if fn is None:
        module, _, name = path.partition(":")
        try:
            fn = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(
                f"strategy {strategy.name or strategy.__name__}: compiled quote {path!r} "
                f"not found ({exc}); fix `compiled` or leave it empty"
            ) from None
        _quotes[path] = fn
    return fn


_COLUMNS: tuple[str, ...] = ("rec_frame", "rec_kind", "rec_token", "rec_price", "rec_old")
_COLUMNS += ("rec_new", "top_arr", "ticks_arr", "time_arr", "exch_arr")
_TOP, _TIME, _EXCH = (_COLUMNS.index(n) for n in ("top_arr", "time_arr", "exch_arr"))
# buffers the columns of stored sessions are read into, each reused by the next run once
# a run is done with it (one per run at once: about 13 bytes an event of the largest)
_reads: list[np.ndarray] = []


def _arrays(session: ReplaySession) -> tuple[Any, ...]:
    """The session's record stream and per-frame arrays (`_COLUMNS`), its last_ns, and
    the buffer holding them (None: none to give back to `_reads` after the run). A stored
    session's are read from its replay store, the first time mapped (`recordings.store`;
    the column map is kept on the session's `ReplayHandle`)."""
    if isinstance(session, StoredSession):
        handle = replay_handle(session)
        known = handle.columns
        if known is not None:  # replayed every trial: read the columns straight away
            got = read_columns(known[0], _reads.pop() if _reads else None)
            if got is not None:
                return (*got[0], known[1], got[1])
        store = replay_store(session)
        if store is not None:
            last = store.attrs["layout"]["last_ns"]["value"]
            handle.columns = (ColumnMap(store, _COLUMNS), last)
            return (*(store[n] for n in _COLUMNS), last, None)
    c = session_cache(session)
    return (*(getattr(c, n) for n in _COLUMNS), c.last_ns, None)


_pool: dict[tuple[int, ...], dict[str, np.ndarray]] = {}


def _buffers(caps: np.ndarray, n_whys: int, tick0: int) -> dict[str, np.ndarray]:
    """The run's buffers: the last run's when large enough (no results keep them)."""
    key = (int(caps[L.CAP_ORDERS]), int(caps[L.CAP_FILLS]), int(caps[L.CAP_EV]), n_whys)
    b = _pool.get(key)
    if b is None or b["EQT"].shape[0] < caps[L.CAP_EQ]:
        size = caps.copy()
        size[L.CAP_EQ] = max(int(caps[L.CAP_EQ]), b["EQT"].shape[0] if b is not None else 0)
        _pool.clear()  # one set per process
        b = _pool[key] = L.buffers(size, n_whys, tick0)
    return L.reset(b, tick0)


# maker-flow arrivals per session: (market, first block, last block) -> the seed and rate
# they were drawn for, and both tokens' times and z. Kept for a run that replays the
# session again with the same flow (a sweep's next trial; a calibration's trials that
# vary other settings), so it reads them instead of drawing them; a run at another seed
# or rate replaces them. Up to _FLOWS_MAX_BYTES in all (about 180 kB a fifteen-minute
# session at 5 arrivals/s): past it, a session not kept yet is drawn at every run.
_flows: dict[tuple[str, int, int], tuple[int, float, tuple[np.ndarray, ...]]] = {}
_FLOWS_MAX_BYTES = 64 << 20
_flows_bytes = [0]  # what `_flows` holds


def _flow_arrays(
    seed: int, slug: str, rate: float, lo_ns: int, hi_ns: int
) -> tuple[np.ndarray, ...]:
    """Maker-flow arrivals of both tokens over the blocks from `lo_ns` to past `hi_ns`:
    times and z of the Up token, then of the Down token (read, never written, by the
    kernel: see `_flows`). Drawn as numba code (`flow_draws.arrivals`: the very numbers
    `MakerFlow.arrivals` draws with numpy, which draws any rate it does not)."""
    # numba: imported on the first compiled run
    from pk8opt.backtest.compiled.flow_draws import arrivals

    first, last = max(lo_ns, 0) // BLOCK_NS, max(hi_ns, 0) // BLOCK_NS + 1
    span = (slug, first, last)
    held = _flows.get(span)
    if held is not None and held[0] == seed and held[1] == rate:
        return held[2]
    flow = MakerFlow(seed, slug, rate)
    arrays: tuple[np.ndarray, ...] = ()
    for token in (0, 1):
        drawn = arrivals(block_states(flow.seed, flow.key, token, first, last), rate, first)
        arrays += drawn if drawn is not None else flow.arrivals(token, first, last)
    size = sum(a.nbytes for a in arrays)
    if held is not None:
        del _flows[span]
        _flows_bytes[0] -= sum(a.nbytes for a in held[2])
    if _flows_bytes[0] + size <= _FLOWS_MAX_BYTES:
        _flows[span] = (seed, rate, arrays)
        _flows_bytes[0] += size
    return arrays


_empty_i, _empty_f = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
# shared by every run without maker flow (empty: nothing to read or write; writeable as
# the drawn arrivals are, so that both take the same compiled code)
_NO_FLOW = (_empty_i, _empty_f, _empty_i, _empty_f)


class _Trial:
    """What the runs of one backtest share: the kernel's arguments that follow from the
    run's settings and the strategy's class alone (`_trial`)."""

    __slots__ = (
        "key", "cls", "whys", "gates", "sid", "kernel", "ip", "fp",
        "venue", "delay", "flow_on", "seed", "flow_base", "cash",
    )  # fmt: skip

    def __init__(self, key: tuple, config: RunConfig, cls: type[Strategy], quote: Any) -> None:
        # numba: imported on the first compiled run
        from pk8opt.backtest.compiled import kernel as K

        _, _, _, logging, skip_unchanged = key
        self.key = key
        es, tp = config.engine_settings, config.trader_params
        self.venue = es.venue_clock
        self.delay = es.feed_delay_ns
        self.flow_on = es.maker_flow
        self.seed, self.flow_base = es.seed, es.flow_base
        ip = np.zeros(L.N_IP, dtype=np.int64)
        ip[L.P_POST] = es.post_ns
        ip[L.P_CREQ] = es.cancel_req_ns
        ip[L.P_CCLEAR] = es.cancel_clear_ns
        ip[L.P_RESP] = es.response_ns
        ip[L.P_DEPLETE] = es.take_depletes
        ip[L.P_THROUGH_VOL] = es.trade_through_volume
        ip[L.P_FLOW] = self.flow_on
        ip[L.P_DELAY] = self.delay
        ip[L.P_WARMUP] = int(round(float(tp["warmup_seconds"]) * 1e9))
        ip[L.P_MINREQ] = int(round(float(tp["min_requote_seconds"]) * 1e9))
        ip[L.P_MINTICKS] = int(tp["requote_min_ticks"])
        ip[L.P_MAXAGE] = int(round(float(tp["requote_max_age_seconds"]) * 1e9))
        ip[L.P_ENABLED] = bool(tp["trade_enabled"])
        # the trade loop's shortcut (same results either way)
        ip[L.P_SKIP] = skip_unchanged and cls.pure
        ip[L.P_LOG] = logging
        self.ip = ip
        fp = np.zeros(L.N_FP, dtype=np.float64)
        fp[L.Q_AHEAD] = es.queue_ahead_frac
        fp[L.Q_ADD_AHEAD] = es.queue_add_ahead_frac
        fp[L.Q_FLOW_SCALE] = es.flow_depth_scale
        fp[L.Q_FLOW_NOISE] = es.flow_noise
        self.cash = es.starting_cash_usdc
        fp[L.Q_CASH] = self.cash
        self.fp = fp
        self.cls = cls
        self.whys = cls.whys
        gate_names = set(cls.gates)
        self.gates = np.array([w in gate_names for w in self.whys], dtype=np.int64)
        self.sid = K.BUILTIN.get(getattr(cls, "compiled", ""), -1)
        self.kernel = K.run_kernel if self.sid >= 0 else K.kernel_for(quote)


_trials: list[_Trial] = []


def _trial(
    config: RunConfig, cls: type[Strategy], quote: Any, logging: bool, skip_unchanged: bool
) -> _Trial:
    """The `_Trial` of these settings: the last one made when it was made for the same
    (frozen) `RunConfig` object, strategy class and options, as for every session of a
    backtest. One is kept (it holds no session's data)."""
    key = (config, cls, quote, logging, skip_unchanged)
    if _trials:
        last = _trials[0].key
        if all(a is b for a, b in zip(last, key, strict=True)):
            return _trials[0]
    trial = _Trial(key, config, cls, quote)
    _trials[:] = [trial]
    return trial


class _Inputs(NamedTuple):
    """One session's arguments of the kernel (`_inputs`)."""

    spec: MarketSpec
    winner: str
    times: np.ndarray  # the frames' engine times
    close: int
    flows: tuple[np.ndarray, ...]
    bp: np.ndarray
    ip: np.ndarray
    fp: np.ndarray
    sp: np.ndarray
    cols: list[Any]  # `_COLUMNS`
    held_in: np.ndarray | None  # the buffer holding the columns, for `_reads`


def _inputs(session: ReplaySession, strategy: Strategy, trial: _Trial) -> _Inputs:
    """The session's arrays, and the parameters that follow from its market."""
    # numba: imported on the first compiled run
    from pk8opt.backtest.compiled.feed import venue_times

    manifest = session.manifest
    spec = MarketSpec.from_manifest(manifest)
    (*cols, last_local, held_in) = _arrays(session)
    local, exch = cols[_TIME], cols[_EXCH]
    times = venue_times(local, exch, trial.delay) if trial.venue else np.asarray(local)
    times.flags.writeable = False  # read-only either way: one compiled specialization
    last_ns = int(times[-1]) if len(times) else int(last_local)
    close = max(last_ns, spec.window_end_ns)
    winner = manifest.resolution.outcome
    sched = spec.fee_schedule
    if trial.flow_on:
        lo = int(times[0]) if len(times) else close
        flows = _flow_arrays(trial.seed, spec.slug, trial.flow_base, lo, close)
    else:
        flows = _NO_FLOW
    window_s = (spec.window_end_ns - spec.window_start_ns) / 1e9
    bps = strategy.tau_breakpoints(window_s)
    bp = np.array(sorted({spec.window_end_ns - int(round(b * 1e9)) for b in bps}), dtype=np.int64)
    ip = trial.ip.copy()
    ip[L.P_TICK0] = spec.tick_milli
    ip[L.P_END] = spec.window_end_ns
    ip[L.P_CLOSE] = close
    ip[L.P_SCHED] = sched is not None
    ip[L.P_WINNER] = WINNER_INDEX[winner]
    fp = trial.fp.copy()
    fp[L.Q_MIN_SIZE] = spec.min_order_size
    if sched is not None:
        fp[L.Q_FEE_RATE] = sched.rate
        fp[L.Q_FEE_EXP] = sched.exponent
        fp[L.Q_REBATE] = sched.rebate_rate
    fp[L.Q_WINDOW_S] = window_s
    sp = np.array(strategy.compiled_params(), dtype=np.float64)
    return _Inputs(
        spec=spec, winner=winner, times=times, close=close, flows=flows, bp=bp, ip=ip, fp=fp,
        sp=sp, cols=cols, held_in=held_in,
    )  # fmt: skip


def _run(trial: _Trial, x: _Inputs, logging: bool) -> dict[str, np.ndarray]:
    """The kernel over the session, again with larger buffers while one overflows."""
    rf, rk, rt, rp, ro, rn, top, ticks = x.cols[:_TIME]  # the record stream, top, ticks
    times, whys, tick0 = x.times, trial.whys, x.spec.tick_milli
    caps = _CAPS.copy()
    caps[L.CAP_EQ] = len(times) + 2  # at most one equity sample per decision, and the last
    if not logging:
        caps[L.CAP_EV] = 0
    while True:
        b = _buffers(caps, len(whys), tick0)
        trial.kernel(
            trial.sid, x.sp, trial.gates, times, top, ticks, rf, rk, rt, rp, ro, rn,
            x.ip, x.fp, x.bp, *x.flows, *b.values(),
        )  # fmt: skip
        if not b["S"][L.OVER]:
            return b
        if caps.max() > 1 << 26:
            raise RuntimeError(f"{x.spec.slug}: the compiled replay's buffers keep overflowing")
        caps *= 4  # a buffer was too small: run again with larger ones
        caps[L.CAP_EV] = max(caps[L.CAP_EV], 4096) if logging else 0
        _CAPS[: L.CAP_EQ] = np.maximum(_CAPS[: L.CAP_EQ], caps[: L.CAP_EQ])


def _fills(x: _Inputs, b: dict[str, np.ndarray]) -> list[Fill]:
    """The run's fills with their markouts, as `engine.markout.fills_with_markouts`."""
    # numba: imported on the first compiled run
    from pk8opt.backtest.compiled.markout import markouts

    n_fill = int(b["S"][L.NFILL])
    fl = b["FL"][:n_fill]
    marks = markouts(
        x.times, x.cols[_TOP], fl[:, L.FL_T].copy(), fl[:, L.FL_TOK].copy(),
        fl[:, L.FL_PRICE].copy(), _HORIZONS,
    )  # fmt: skip
    return [
        Fill(
            int(row[L.FL_T]),
            int(row[L.FL_TOK]),
            int(row[L.FL_PRICE]) / 1000.0,
            float(q),
            REASONS[int(row[L.FL_WHY])],
            bool(row[L.FL_AFTER_CANCEL]),
            tuple([None if m != m else m for m in mk]),
        )
        for row, q, mk in zip(fl.tolist(), b["FLF"][:n_fill].tolist(), marks.tolist(), strict=True)
    ]


def run_session_compiled(
    session: ReplaySession,
    strategy: Strategy,
    config: RunConfig,
    quote: Callable[..., None],
    log: EventLog | None = None,
    skip_unchanged: bool = True,
) -> SessionResult:
    """`replay.run_session` for a strategy with a compiled quote."""
    trial = _trial(config, type(strategy), quote, log is not None, skip_unchanged)
    x = _inputs(session, strategy, trial)
    b = _run(trial, x, log is not None)
    fills = _fills(x, b)
    S, F, held = b["S"], b["F"], b["HELD"]
    if log is not None:
        n_ev = S[L.NEV]
        _write_log(log, x.spec, b["EV"][:n_ev], b["EVF"][:n_ev], trial.whys, x.ip)
        _write_settlement(log, x, held, F)
    result = _result(session, trial, x, b, fills)
    if x.held_in is not None and len(_reads) < 2:
        _reads.append(x.held_in)  # nothing reads this run's columns any more
    return result


def _write_settlement(log: EventLog, x: _Inputs, held: np.ndarray, F: np.ndarray) -> None:
    """The settlement, written as `PaperEngine.close` writes it."""
    qy, qn, payout = (float(v) for v in held[[L.HELD_UP, L.HELD_DOWN, L.HELD_PAYOUT]])
    spec = x.spec
    log.write(
        "paper_settlement",
        x.close,
        spec.slug,
        symbol=spec.symbol,
        winner=x.winner,
        up_shares=qy,
        down_shares=qn,
        payout=payout,
        cash=float(F[L.CASH]),
        fees=float(F[L.FEES]),
    )


def _result(
    session: ReplaySession, trial: _Trial, x: _Inputs, b: dict[str, np.ndarray], fills: list[Fill]
) -> SessionResult:
    """The run's `SessionResult`, as `replay.session_result` makes it."""
    # numba: imported on the first compiled run
    from pk8opt.backtest.compiled.equity import max_drawdown

    S, F, rej, gate, held = b["S"], b["F"], b["REJ"], b["GATE"], b["HELD"]
    eqv = b["EQV"]
    qy, qn = float(held[L.HELD_UP]), float(held[L.HELD_DOWN])
    n_eq = int(S[L.NEQ])
    accepted = int(S[L.ACC])
    with_fill = int(S[L.WFILL])
    seen = sorted((int(rej[i, L.REJ_FIRST]), i) for i in range(len(_REJECT)) if rej[i, L.REJ_COUNT])
    whys, cls = trial.whys, trial.cls
    return SessionResult(
        slug=x.spec.slug,
        winner=x.winner,
        pnl_usdc=float(F[L.CASH]) - trial.cash,
        fees_usdc=float(F[L.FEES]),
        volume_usdc=float(F[L.VOL]),
        fills=int(S[L.FILLS]),
        orders=accepted,
        fill_rate=with_fill / accepted if accepted else 0.0,
        paired_shares=min(qy, qn),
        unpaired_shares=abs(qy - qn),
        max_drawdown_usdc=float(max_drawdown(eqv[:n_eq])),
        events=session.n_events,
        strategy_calls=int(S[L.CALLS]),
        orders_filled=with_fill,
        maker_volume_usdc=float(F[L.MVOL]),
        rebate_est_usdc=float(F[L.REB]),
        rejections={_REJECT[i]: int(rej[i, L.REJ_COUNT]) for _, i in seen},
        gates={g: int(gate[whys.index(g)]) if g in whys else 0 for g in cls.gates},
        equity_t=b["EQT"][:n_eq].tolist(),
        equity_v=eqv[:n_eq].tolist(),
        fill_list=fills,
    )


def _write_log(
    log: EventLog, spec: MarketSpec, ev: np.ndarray, evf: np.ndarray, whys: tuple, ip: Any
) -> None:
    """The engine's events, written as `PaperEngine` writes them."""
    slug, symbol = spec.slug, spec.symbol
    creq = int(ip[L.P_CREQ])
    for row, f in zip(ev.tolist(), evf.tolist(), strict=True):
        kind, t, oid, i0, i1, i2 = row
        f0, f1, f2, f3, f4 = f
        if kind == L.E_SUBMIT:
            log.write(
                "paper_order_submit",
                t,
                slug,
                symbol=symbol,
                order_id=oid,
                outcome=_TOKENS[i0],
                side="BUY",
                price=i1 / 1000.0,
                size=f0,
                why=whys[i2],
            )
        elif kind == L.E_REJECT:
            log.write(
                "paper_order_rejected",
                t,
                slug,
                order_id=oid,
                reason=_REJECT[i0],
                tick=i1 / 1000.0,
                min_order_size=spec.min_order_size,
            )
        elif kind == L.E_OPEN:
            log.write("paper_order_open", t, slug, order_id=oid, price=f0, size=f1)
        elif kind == L.E_FILL:
            log.write(
                "paper_fill",
                t,
                slug,
                symbol=symbol,
                order_id=oid,
                outcome=_TOKENS[i0],
                side="BUY",
                qty=f0,
                price=f1,
                fee=f2,
                rebate_est=f3,
                liquidity="maker" if i1 else "taker",
                why=REASONS[i2],
                remaining=f4,
            )
        elif kind == L.E_CANCEL_REQ:
            log.write("paper_order_cancel_req", t, slug, order_id=oid, requested_ns=t - creq)
        elif kind == L.E_CANCELLED:
            log.write("paper_order_cancelled", t, slug, order_id=oid, filled=f0)
        elif kind == L.E_EXPIRED:
            log.write("paper_order_expired", t, slug, order_id=oid)

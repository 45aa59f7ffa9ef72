"""The compiled replay: one session through the paper engine, trade loop and strategy as
numba code (`kernel.run_kernel`), with results and event log identical to the Python
engine's. Used by `replay.run_session` whenever the strategy has a compiled quote
(every built-in one does; docs/strategies.md "Compiled strategies") and no per-fill
metrics file is asked for; anything else runs the Python engine.

numba compiles the kernel on first use and keeps the machine code on disk
(`NUMBA_CACHE_DIR`, by default `__pycache__` beside the modules), so later processes
start at once. `PK8OPT_COMPILED=0` turns the compiled replay off.
"""

from __future__ import annotations

import importlib
import os
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from pk8opt.backtest.results import SessionResult
from pk8opt.engine.eventlog import EventLog
from pk8opt.engine.flow import BLOCK_NS, MakerFlow
from pk8opt.engine.market import WINNER_INDEX, MarketSpec
from pk8opt.engine.markout import HORIZONS_S, REASONS, Fill
from pk8opt.errors import ConfigError
from pk8opt.strategies.base import Strategy

_TOKENS = ("Up", "Down")
_REJECT = ("token", "min_size", "tick_size", "price_bounds", "min_notional", "cash")
# buffer sizes of the first try (orders, fills, equity samples, log rows), raised for
# the rest of the process when a session needs more
_CAPS = np.array([1024, 1024, 0, 4096], dtype=np.int64)
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
# on a stored session: where its replay store keeps those columns, and its last_ns
_MAP_ATTR = "_pk8opt_compiled_columns"
# buffers the columns of stored sessions are read into, each reused by the next run once
# a run is done with it (one per run at once: about 13 bytes an event of the largest)
_reads: list[np.ndarray] = []


def _arrays(session: Any) -> tuple[Any, ...]:
    """The session's record stream and per-frame arrays, and the buffer holding them
    (None: none to give back to `_reads` after the run). A stored session's are read
    from its replay store, the first time mapped (`recordings.store`)."""
    from pk8opt.recordings.load import StoredSession

    if isinstance(session, StoredSession):
        from pk8opt.recordings.store import ColumnMap, read_columns

        known = session.__dict__.get(_MAP_ATTR)
        if known is not None:  # replayed every trial: read the columns straight away
            got = read_columns(known[0], _reads.pop() if _reads else None)
            if got is not None:
                return (*got[0], known[1], got[1])
        from pk8opt.backtest.replay_store import replay_store

        store = replay_store(session)
        if store is not None:
            last = store.attrs["layout"]["last_ns"]["value"]
            session.__dict__[_MAP_ATTR] = (ColumnMap(store, _COLUMNS), last)
            return (*(store[n] for n in _COLUMNS), last, None)
    from pk8opt.backtest.session_cache import session_cache

    c = session_cache(session)
    return (
        c.rec_frame,
        c.rec_kind,
        c.rec_token,
        c.rec_price,
        c.rec_old,
        c.rec_new,
        c.top_arr,
        c.ticks_arr,
        c.time_arr,
        c.exch_arr,
        c.last_ns,
        None,
    )


_pool: dict[tuple[int, ...], dict[str, np.ndarray]] = {}


def _buffers(caps: np.ndarray, n_whys: int, tick0: int) -> dict[str, np.ndarray]:
    """The run's buffers: the last run's when large enough (no results keep them)."""
    from pk8opt.backtest.compiled import kernel as K

    key = (int(caps[0]), int(caps[1]), int(caps[3]), n_whys)
    b = _pool.get(key)
    if b is None or b["EQT"].shape[0] < caps[2]:
        size = caps.copy()
        size[2] = max(int(caps[2]), b["EQT"].shape[0] if b is not None else 0)
        _pool.clear()  # one set per process
        b = _pool[key] = K.buffers(size, n_whys, tick0)
    return K.reset(b, tick0)


def _flow_arrays(
    seed: int, slug: str, rate: float, lo_ns: int, hi_ns: int
) -> tuple[np.ndarray, ...]:
    """Maker-flow arrivals of both tokens over the blocks from `lo_ns` to past `hi_ns`."""
    flow = MakerFlow(seed, slug, rate)
    first, last = max(lo_ns, 0) // BLOCK_NS, max(hi_ns, 0) // BLOCK_NS + 1
    return (*flow.arrivals(0, first, last), *flow.arrivals(1, first, last))


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

    def __init__(self, key: tuple, config: Any, cls: type[Strategy], quote: Any) -> None:
        from pk8opt.backtest.compiled import kernel as K

        _, _, _, logging, skip_unchanged = key
        self.key = key
        ep, tp = config.engine_params, config.trader_params
        self.venue = str(ep["feed_clock"]) == "venue"
        self.delay = int(round(float(ep["feed_latency_ms"]) * 1e6)) if self.venue else 0
        self.flow_on = bool(ep["maker_flow"]) and float(ep["flow_base"]) > 0
        self.seed, self.flow_base = int(ep["seed"]), float(ep["flow_base"])
        ip = np.zeros(K.N_IP, dtype=np.int64)
        ip[K.P_POST] = int(round(float(ep["post_latency_ms"]) * 1e6))
        ip[K.P_CREQ] = int(round(float(ep["cancel_req_latency_ms"]) * 1e6))
        ip[K.P_CCLEAR] = int(round(float(ep["cancel_clear_latency_ms"]) * 1e6))
        ip[K.P_RESP] = int(round(float(ep["response_latency_ms"]) * 1e6))
        ip[K.P_DEPLETE] = bool(ep["take_depletes"])
        ip[K.P_FLOW] = self.flow_on
        ip[K.P_DELAY] = self.delay
        ip[K.P_WARMUP] = int(round(float(tp["warmup_seconds"]) * 1e9))
        ip[K.P_MINREQ] = int(round(float(tp["min_requote_seconds"]) * 1e9))
        ip[K.P_MINTICKS] = int(tp["requote_min_ticks"])
        ip[K.P_MAXAGE] = int(round(float(tp["requote_max_age_seconds"]) * 1e9))
        ip[K.P_ENABLED] = bool(tp["trade_enabled"])
        # the trade loop's shortcut (same results either way)
        ip[K.P_SKIP] = skip_unchanged and cls.pure
        ip[K.P_LOG] = logging
        self.ip = ip
        fp = np.zeros(K.N_FP, dtype=np.float64)
        fp[K.Q_ADD_AHEAD] = float(ep["queue_add_ahead_frac"])
        fp[K.Q_FLOW_SCALE] = float(ep["flow_depth_scale"])
        fp[K.Q_FLOW_NOISE] = float(ep["flow_noise"])
        self.cash = float(ep["starting_cash_usdc"])
        fp[K.Q_CASH] = self.cash
        self.fp = fp
        self.cls = cls
        self.whys = cls.whys
        gate_names = set(cls.gates)
        self.gates = np.array([w in gate_names for w in self.whys], dtype=np.int64)
        self.sid = K.BUILTIN.get(getattr(cls, "compiled", ""), -1)
        self.kernel = K.run_kernel if self.sid >= 0 else K.kernel_for(quote)


_trials: list[_Trial] = []


def _trial(
    config: Any, cls: type[Strategy], quote: Any, logging: bool, skip_unchanged: bool
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


def run_session_compiled(
    session: Any,
    strategy: Strategy,
    config: Any,
    quote: Callable[..., None],
    log: Any = None,
    skip_unchanged: bool = True,
) -> SessionResult:
    """`replay.run_session` for a strategy with a compiled quote."""
    from pk8opt.backtest.compiled import kernel as K

    trial = _trial(config, type(strategy), quote, log is not None, skip_unchanged)
    manifest = session.manifest
    spec = MarketSpec.from_manifest(manifest)
    (rf, rk, rt, rp, ro, rn, top, ticks, local, exch, last_local, held_in) = _arrays(session)
    delay = trial.delay
    times = K.venue_times(local, exch, delay) if trial.venue else np.asarray(local)
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
    ip[K.P_TICK0] = spec.tick_milli
    ip[K.P_END] = spec.window_end_ns
    ip[K.P_CLOSE] = close
    ip[K.P_SCHED] = sched is not None
    ip[K.P_WINNER] = WINNER_INDEX[winner]
    fp = trial.fp.copy()
    fp[K.Q_MIN_SIZE] = spec.min_order_size
    if sched is not None:
        fp[K.Q_FEE_RATE] = sched.rate
        fp[K.Q_FEE_EXP] = sched.exponent
        fp[K.Q_REBATE] = sched.rebate_rate
    fp[K.Q_WINDOW_S] = window_s
    cls, whys, gates, sid, kernel = trial.cls, trial.whys, trial.gates, trial.sid, trial.kernel
    sp = np.array(strategy.compiled_params(), dtype=np.float64)
    caps = _CAPS.copy()
    caps[2] = len(times) + 2  # at most one equity sample per decision, and the last
    if log is None:
        caps[3] = 0
    while True:
        b = _buffers(caps, len(whys), spec.tick_milli)
        kernel(
            sid, sp, gates, times, top, ticks, rf, rk, rt, rp, ro, rn,
            ip, fp, bp, *flows, *b.values(),
        )  # fmt: skip
        if not b["S"][K.OVER]:
            break
        if caps.max() > 1 << 26:
            raise RuntimeError(f"{spec.slug}: the compiled replay's buffers keep overflowing")
        caps *= 4  # a buffer was too small: run again with larger ones
        caps[3] = max(caps[3], 4096) if log is not None else 0
        _CAPS[:2] = np.maximum(_CAPS[:2], caps[:2])
    S, F, rej, gate, fl, flf = b["S"], b["F"], b["REJ"], b["GATE"], b["FL"], b["FLF"]
    eqt, eqv, ev, evf, held = b["EQT"], b["EQV"], b["EV"], b["EVF"], b["HELD"]
    n_fill = int(S[K.NFILL])
    fl = fl[:n_fill]
    marks = K.markouts(
        times, top, fl[:, 0].copy(), fl[:, 1].copy(), fl[:, 2].copy(),
        _HORIZONS,
    )  # fmt: skip
    fills = [
        Fill(
            int(row[0]),
            int(row[1]),
            int(row[2]) / 1000.0,
            float(q),
            REASONS[int(row[3])],
            bool(row[4]),
            tuple([None if m != m else m for m in mk]),
        )
        for row, q, mk in zip(fl.tolist(), flf[:n_fill].tolist(), marks.tolist(), strict=True)
    ]
    if log is not None:
        _write_log(log, spec, ev[: S[K.NEV]], evf[: S[K.NEV]], whys, ip)
        qy, qn, payout = (float(x) for x in held)
        log.write(
            "paper_settlement",
            close,
            spec.slug,
            symbol=spec.symbol,
            winner=winner,
            up_shares=qy,
            down_shares=qn,
            payout=payout,
            cash=float(F[K.CASH]),
            fees=float(F[K.FEES]),
        )
    qy, qn = float(held[0]), float(held[1])
    n_eq = int(S[K.NEQ])
    equity_v = eqv[:n_eq].tolist()
    accepted = int(S[K.ACC])
    with_fill = int(S[K.WFILL])
    seen = sorted((int(rej[i, 1]), i) for i in range(len(_REJECT)) if rej[i, 0])
    result = SessionResult(
        slug=spec.slug,
        winner=winner,
        pnl_usdc=float(F[K.CASH]) - trial.cash,
        fees_usdc=float(F[K.FEES]),
        volume_usdc=float(F[K.VOL]),
        fills=int(S[K.FILLS]),
        orders=accepted,
        fill_rate=with_fill / accepted if accepted else 0.0,
        paired_shares=min(qy, qn),
        unpaired_shares=abs(qy - qn),
        max_drawdown_usdc=float(K.max_drawdown(eqv[:n_eq])),
        events=session.n_events,
        strategy_calls=int(S[K.CALLS]),
        orders_filled=with_fill,
        maker_volume_usdc=float(F[K.MVOL]),
        rebate_est_usdc=float(F[K.REB]),
        rejections={_REJECT[i]: int(rej[i, 0]) for _, i in seen},
        gates={g: int(gate[whys.index(g)]) if g in whys else 0 for g in cls.gates},
        equity_t=eqt[:n_eq].tolist(),
        equity_v=equity_v,
        fill_list=fills,
    )
    if held_in is not None and len(_reads) < 2:
        _reads.append(held_in)  # nothing reads this run's columns any more
    return result


def _write_log(
    log: EventLog, spec: MarketSpec, ev: np.ndarray, evf: np.ndarray, whys: tuple, ip: Any
) -> None:
    """The engine's events, written as `PaperEngine` writes them."""
    from pk8opt.backtest.compiled import kernel as K

    slug, symbol = spec.slug, spec.symbol
    creq = int(ip[K.P_CREQ])
    for row, f in zip(ev.tolist(), evf.tolist(), strict=True):
        kind, t, oid, i0, i1, i2 = row
        if kind == K.E_SUBMIT:
            log.write(
                "paper_order_submit",
                t,
                slug,
                symbol=symbol,
                order_id=oid,
                outcome=_TOKENS[i0],
                side="BUY",
                price=i1 / 1000.0,
                size=f[0],
                why=whys[i2],
            )
        elif kind == K.E_REJECT:
            log.write(
                "paper_order_rejected",
                t,
                slug,
                order_id=oid,
                reason=_REJECT[i0],
                tick=i1 / 1000.0,
                min_order_size=spec.min_order_size,
            )
        elif kind == K.E_OPEN:
            log.write("paper_order_open", t, slug, order_id=oid, price=f[0], size=f[1])
        elif kind == K.E_FILL:
            log.write(
                "paper_fill",
                t,
                slug,
                symbol=symbol,
                order_id=oid,
                outcome=_TOKENS[i0],
                side="BUY",
                qty=f[0],
                price=f[1],
                fee=f[2],
                rebate_est=f[3],
                liquidity="maker" if i1 else "taker",
                why=REASONS[i2],
                remaining=f[4],
            )
        elif kind == K.E_CANCEL_REQ:
            log.write("paper_order_cancel_req", t, slug, order_id=oid, requested_ns=t - creq)
        elif kind == K.E_CANCELLED:
            log.write("paper_order_cancelled", t, slug, order_id=oid, filled=f[0])
        elif kind == K.E_EXPIRED:
            log.write("paper_order_expired", t, slug, order_id=oid)

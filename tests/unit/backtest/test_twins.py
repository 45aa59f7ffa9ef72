"""The compiled replay's functions and their Python twins change together.

`pk8opt.backtest.compiled` is a numba twin of the paper engine, the responses, the trade
loop and the built-in strategies: the same rules written twice. `TWINS` lists every pair
(compiled function, Python function); `twins.lock` beside this file holds, per pair, a
hash of each side's normalized source (its AST without docstrings or decorators, so
comments, docstrings and formatting do not count). A test fails when one side of a pair
changed and the other did not: update the twin, check the equivalence tests
(test_compiled_replay.py), then record the new hashes:

    python tests/unit/backtest/test_twins.py --update

The docstrings say the same: every compiled function names its Python twin ("Twin of
pk8opt.engine.paper.PaperEngine._fill") or says it has none ("No Python twin"), every
Python twin names its compiled twin ("Compiled twin: pk8opt.backtest.compiled.engine.fill").
`SHARED` lists the functions written once in their Python home and compiled as they are
(no pair to keep in step: one source).
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import inspect
import json
import re
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

LOCK = Path(__file__).with_name("twins.lock")
UPDATE = "python tests/unit/backtest/test_twins.py --update"
C = "pk8opt.backtest.compiled."
P = "pk8opt.engine.paper.PaperEngine."
T = "pk8opt.trading.trader.Trader."

# (compiled function, its Python twin)
TWINS: tuple[tuple[str, str], ...] = (
    # engine/responses.py
    (C + "responses.resp_send", "pk8opt.engine.responses.Responses.send"),
    (C + "responses.resp_apply", "pk8opt.engine.responses.Responses._apply"),
    (C + "responses.resp_receive", "pk8opt.engine.responses.Responses.receive"),
    # engine/paper.py and the account
    (C + "engine.push", P + "_push"),
    (C + "engine.release", "pk8opt.engine.accounting.Account.release"),
    (C + "engine.fill", P + "_fill"),
    (C + "engine.fill", "pk8opt.engine.accounting.Account.fill"),
    (C + "engine.book_best", "pk8opt.backtest.session_cache.ArrayView.best"),
    (C + "engine.consumed", P + "_consumed"),
    (C + "engine.asks_left", P + "_asks_left"),
    (C + "engine.next_flow", "pk8opt.engine.flow.MakerFlow.next_after"),
    (C + "engine.open_order", P + "_open"),
    (C + "engine.open_order", P + "_take"),
    (C + "engine.flow_arrival", P + "_flow_arrival"),
    (C + "engine.advance", P + "advance_to"),
    (C + "engine.advance", P + "_cancel_ack"),
    (C + "engine.advance", P + "_cancel_clear"),
    (C + "engine.on_level", P + "on_level"),
    (C + "engine.on_trade", P + "on_trade"),
    (C + "engine.check_cross", P + "check_cross"),
    (C + "engine.cancel", P + "cancel"),
    (C + "engine.submit", P + "submit"),
    (C + "engine.next_due", P + "next_timer_ns"),
    (C + "engine.close_window", P + "close"),
    # trading/trader.py
    (C + "trader.sample_equity", T + "_sample_equity"),
    (C + "trader.sample_equity", "pk8opt.engine.accounting.Account.equity"),
    (C + "trader.act", T + "_act"),
    (C + "trader.place", T + "_place"),
    (C + "trader.same_inputs", T + "on_frame"),
    (C + "trader.trader_pre", T + "on_frame"),
    (C + "trader.trader_quoted", T + "_count_gates"),
    (C + "trader.trader_act", T + "on_frame"),
    (C + "trader.context", T + "_context"),
    (C + "trader.quiet", T + "on_frame"),
    (C + "trader.finish", T + "finish"),
    # trading/stepper.py, as backtest.replay.drive_events drives it
    (C + "kernel.run_kernel", "pk8opt.trading.stepper.SessionStepper.step_rows"),
    (C + "kernel.run_kernel", "pk8opt.trading.stepper.SessionStepper.settle"),
    # the built-in strategies
    (C + "strategies.noop", "pk8opt.strategies.noop.NoopStrategy.quote"),
    (C + "strategies.fixed", "pk8opt.strategies.fixed.FixedStrategy.quote"),
    (C + "strategies.fixed", "pk8opt.strategies.fixed.FixedStrategy._leg"),
    (C + "strategies.join", "pk8opt.strategies.join.JoinStrategy.quote"),
    (C + "strategies.join", "pk8opt.strategies.join.JoinStrategy._leg"),
    (C + "strategies.balanced_arb", "pk8opt.strategies.balanced_arb.BalancedArbStrategy.quote"),
    (C + "strategies._arb_leg", "pk8opt.strategies.balanced_arb.BalancedArbStrategy._leg"),
    # results, feed times, markouts (their arithmetic is shared: see SHARED)
    (C + "equity._drawdown", "pk8opt.backtest.results._chained_arrays"),
    (C + "feed.venue_times", "pk8opt.engine.feed.frame_times"),
    (C + "markout.markouts", "pk8opt.engine.markout.fills_with_markouts"),
)

# (compiled function, the Python function it is compiled from): one source
SHARED: tuple[tuple[str, str], ...] = (
    (C + "numeric.round5", "pk8opt.engine.fees.round5"),
    (C + "numeric.taker_fee", "pk8opt.engine.fees.taker_fee"),
    (C + "numeric.maker_rebate", "pk8opt.engine.fees.maker_rebate"),
    (C + "equity.max_drawdown", "pk8opt.backtest.drawdown.max_drawdown"),
    (C + "feed._venue_times_into", "pk8opt.engine.feed.venue_times_into"),
    (C + "markout._mid_at", "pk8opt.engine.markout.mid_at"),
)

# the modules of compiled functions
MODULES: tuple[str, ...] = ("engine", "responses", "trader", "kernel", "strategies")
MODULES += ("equity", "feed", "markout", "numeric", "flow_draws")


def resolve(dotted: str) -> Any:
    """The object at a dotted path (a module, then attributes)."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for name in parts[i:]:
            obj = getattr(obj, name)
        return obj
    raise ImportError(dotted)


def python_function(obj: Any) -> Any:
    """The Python function of a numba dispatcher, or the function itself."""
    return getattr(obj, "py_func", obj)


def normalized_hash(fn: Any) -> str:
    """A hash of the function's AST, without its docstrings and decorators."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(python_function(fn))))
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                node.decorator_list = []
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                node.body = body[1:] or [ast.Pass()]
    return hashlib.sha256(ast.dump(tree).encode()).hexdigest()[:16]


def pair_key(compiled: str, python: str) -> str:
    return f"{compiled} <-> {python}"


def current_hashes() -> dict[str, dict[str, str]]:
    return {
        pair_key(c, p): {
            "compiled": normalized_hash(resolve(c)),
            "python": normalized_hash(resolve(p)),
        }
        for c, p in TWINS
    }


def compiled_functions() -> dict[str, Any]:
    """Every compiled function defined in the compiled package, by dotted name."""
    out = {}
    for m in MODULES:
        mod = importlib.import_module(C + m)
        for name, obj in vars(mod).items():
            fn = getattr(obj, "py_func", None)
            if fn is not None and fn.__module__ == mod.__name__:
                out[f"{mod.__name__}.{name}"] = fn
    return out


def docstring(obj: Any) -> str:
    return inspect.getdoc(python_function(obj)) or ""


def named_twins(doc: str, marker: str) -> set[str]:
    return set(re.findall(marker + r"\s+(pk8opt\.[\w.]*\w)", doc))


# ----------------------------------------------------------------------------- the lock
@pytest.mark.parametrize(("compiled", "python"), TWINS, ids=[pair_key(*t) for t in TWINS])
def test_twin_pair_changes_together(compiled: str, python: str) -> None:
    recorded = json.loads(LOCK.read_text(encoding="utf-8"))["pairs"]
    key = pair_key(compiled, python)
    if key not in recorded:
        pytest.fail(f"twin pair {key} is not in {LOCK.name}: run `{UPDATE}`")
    was = recorded[key]
    now = {
        "compiled": normalized_hash(resolve(compiled)),
        "python": normalized_hash(resolve(python)),
    }
    changed = [side for side in ("compiled", "python") if now[side] != was[side]]
    if len(changed) == 1:
        moved, other = (compiled, python) if changed == ["compiled"] else (python, compiled)
        pytest.fail(
            f"twin pair {key}: {moved} changed but its twin {other} did not. Update the "
            f"twin, check tests/unit/backtest/test_compiled_replay.py, then run `{UPDATE}`"
        )
    if len(changed) == 2:
        pytest.fail(
            f"twin pair {key}: both sides changed. Check that they still do the same "
            f"(tests/unit/backtest/test_compiled_replay.py), then run `{UPDATE}`"
        )


def test_lock_holds_no_stale_pair() -> None:
    recorded = json.loads(LOCK.read_text(encoding="utf-8"))["pairs"]
    stale = sorted(set(recorded) - {pair_key(c, p) for c, p in TWINS})
    assert not stale, f"{LOCK.name} holds pairs no longer in TWINS: {stale}; run `{UPDATE}`"


# ----------------------------------------------------------------------------- docstrings
def test_every_compiled_function_names_its_python_twin() -> None:
    table: dict[str, set[str]] = {}
    for c, p in TWINS:
        table.setdefault(c, set()).add(p)
    problems = []
    for name, fn in compiled_functions().items():
        doc = inspect.getdoc(fn) or ""
        named = named_twins(doc, "Twin of")
        if not named and not doc.startswith("No Python twin"):
            problems.append(f"{name}: its docstring names no Python twin ('Twin of ...')")
        if named != table.get(name, set()):
            problems.append(
                f"{name}: its docstring names {sorted(named)}, TWINS has "
                f"{sorted(table.get(name, set()))}"
            )
        for p in named:
            resolve(p)  # the twin it names exists
    missing = sorted(set(table) - set(compiled_functions()))
    assert not missing, f"TWINS names compiled functions that do not exist: {missing}"
    assert not problems, "\n".join(problems)


def test_every_python_twin_names_its_compiled_twin() -> None:
    table: dict[str, set[str]] = {}
    for c, p in (*TWINS, *SHARED):
        table.setdefault(p, set()).add(c)
    problems = []
    for p, cs in sorted(table.items()):
        named = named_twins(docstring(resolve(p)), "Compiled twin:")
        for c in named:
            resolve(c)  # the compiled twin it names exists
        if named != cs:
            problems.append(
                f"{p}: its docstring names {sorted(named)}, the tables have {sorted(cs)}"
            )
    assert not problems, "\n".join(problems)


def test_shared_functions_are_compiled_from_their_python_home() -> None:
    for c, p in SHARED:
        assert python_function(resolve(c)) is resolve(p), f"{c} is not compiled from {p}"


# ----------------------------------------------------------------------------- --update
def main(argv: list[str]) -> int:
    if argv != ["--update"]:
        print(f"usage: {UPDATE}", file=sys.stderr)
        return 2
    data = {
        "about": "tests/unit/backtest/test_twins.py: per twin pair, the hash of each "
        "side's normalized source. Recorded by `" + UPDATE + "`.",
        "pairs": current_hashes(),
    }
    LOCK.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{LOCK}: {len(data['pairs'])} twin pairs recorded")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

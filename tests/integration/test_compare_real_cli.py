"""`pk8opt compare` of a real run: a sample session replayed on paper, and a real live log
written beside it whose fills differ from the paper ones in known ways.

The real log copies the replay's fills, then: one is missing, one is moved in price,
one has fewer shares, one is extra, and one more (a second trade on a filled order) is
taken back by `real_trade_failed`. The command must report exactly those differences,
and the P&L difference worked out here from the fills."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.paths import SAMPLE

from pk8opt.backtest.compare import replay_events
from pk8opt.recordings.load import load_sessions
from pk8opt.trading.run_config import RunConfig

BIN = Path(sys.executable).parent
SLUG = "btc-updown-15m-1791986400"
CONFIG = RunConfig.resolve("fixed", {"up_price": 0.5, "down_price": 0.48, "size": 20.0})
WINDOW_NS = 5_000_000_000


def _compare(*args: str, columns: int | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PM_", "PK8_", "COLUMNS"))}
    if columns is not None:
        env["COLUMNS"] = str(columns)
    return subprocess.run(
        [str(BIN / "pk8opt"), "compare", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


def _real_fill(p: dict[str, Any], k: str, **changes: Any) -> dict[str, Any]:
    """The real venue's line for the paper fill `p` (its field names: size, maker)."""
    line = {
        "event": "real_fill",
        "ts": p["ts"],
        "ts_ns": p["ts_ns"],
        "slug": p["slug"],
        "symbol": "BTC",
        "order_id": p["order_id"],
        "venue_order_id": f"0xorder{p['order_id']}",
        "trade_id": f"trade-{k}",
        "outcome": p["outcome"],
        "side": "BUY",
        "price": p["price"],
        "size": p["qty"],
        "fee": p["fee"],
        "maker": p["liquidity"] == "maker",
        "venue_ts": p["ts_ns"] // 1_000_000,
        "status": "MATCHED",
        "remaining": 0.0,
        "source": "socket",
    }
    line.update(changes)
    return line


def _unique(fills: list[dict[str, Any]], i: int) -> bool:
    """No other paper fill of this token and price in the whole window."""
    key = (fills[i]["outcome"], fills[i]["price"])
    return sum(1 for f in fills if (f["outcome"], f["price"]) == key) == 1


def _pnl(fills: list[tuple[str, float, float, float]], winner: str) -> tuple[float, float]:
    """(cost, P&L) of (outcome, price, qty, fee) fills: winning shares pay 1."""
    cost = sum(px * q + fee for _, px, q, fee in fills)
    payout = sum(q for o, _, q, _ in fills if o == winner)
    return cost, payout - cost


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if not (SAMPLE / SLUG).is_dir():
        pytest.skip("no recordings/sample")
    root = tmp_path_factory.mktemp("real")
    session = root / "rec" / SLUG
    session.mkdir(parents=True)
    for name in ("manifest.json", "frames.jsonl.gz"):
        shutil.copy2(SAMPLE / SLUG / name, session / name)
    (loaded,) = load_sessions([session])
    winner = loaded.manifest.resolution.outcome
    assert winner in ("Up", "Down")
    paper = [e for e in replay_events(loaded, CONFIG, True) if e["event"] == "paper_fill"]
    assert len(paper) >= 6, "the sample should give this config a few fills"
    uniques = [i for i in range(len(paper)) if _unique(paper, i)]
    assert len(uniques) >= 2, "two fills of a token and price of their own"
    missing, moved = uniques[0], uniques[1]
    moved_price = round(paper[moved]["price"] + 0.01, 3)
    assert all((f["outcome"], f["price"]) != (paper[moved]["outcome"], moved_price) for f in paper)
    rest = [i for i in range(len(paper)) if i not in (missing, moved)]
    smaller, doubled = rest[0], rest[1]

    real: list[dict[str, Any]] = []
    for i, p in enumerate(paper):
        if i == missing:
            continue
        if i == moved:  # the other spellings of quantity and liquidity
            line = _real_fill(p, str(i), price=moved_price, qty=p["qty"])
            del line["size"], line["maker"]
            line["liquidity"] = p["liquidity"]
            real.append(line)
        elif i == smaller:
            real.append(_real_fill(p, str(i), size=p["qty"] - 5.0))
        else:
            real.append(_real_fill(p, str(i)))
        if i == doubled:  # a second trade on the same order, which then fails
            real.append(_real_fill(p, f"{i}-failed"))
            real.append(
                {
                    "event": "real_trade_failed",
                    "ts_ns": p["ts_ns"] + 2_000_000_000,
                    "slug": SLUG,
                    "order_id": p["order_id"],
                    "venue_order_id": f"0xorder{p['order_id']}",
                    "trade_id": f"trade-{i}-failed",
                    "price": p["price"],
                    "size": p["qty"],
                    "reversed": p["qty"],
                }
            )
    extra_ns = paper[-1]["ts_ns"] + 60_000_000_000
    extra = {**paper[-1], "ts_ns": extra_ns, "outcome": "Up", "price": 0.12, "qty": 10.0}
    extra.update(fee=0.0, liquidity="maker", order_id=999)
    real.append(_real_fill(extra, "extra"))

    t0 = loaded.manifest.window_start_s * 1_000_000_000
    lines = [
        {"event": "live_started", "ts_ns": t0, "slug": "", "config": CONFIG.to_env()},
        {"event": "real_start", "ts_ns": t0, "slug": "", "dry_run": False, "orphans": []},
        {"event": "market_discovered", "ts_ns": t0, "slug": SLUG, "traded": True},
        *sorted(real, key=lambda e: e["ts_ns"]),
        {"event": "market_resolved", "ts_ns": extra_ns + 1, "slug": SLUG, "winner": winner},
        {"event": "real_stop", "ts_ns": extra_ns + 2, "slug": "", "not_cancelled": []},
    ]
    logs = root / "logs"
    logs.mkdir()
    (logs / "live_console_events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in lines))

    def tup(f: dict[str, Any]) -> tuple[str, float, float, float]:
        return (f["outcome"], f["price"], f.get("size", f.get("qty")), f["fee"])

    counted = [tup(e) for e in real if e["event"] == "real_fill" and "failed" not in e["trade_id"]]
    real_cost, real_pnl = _pnl(counted, winner)
    paper_cost, paper_pnl = _pnl([tup(f) for f in paper], winner)
    return {
        "session": session,
        "logs": logs,
        "paper": paper,
        "missing": paper[missing],
        "moved": paper[moved],
        "moved_price": moved_price,
        "smaller": paper[smaller],
        "doubled": paper[doubled],
        "extra_ns": extra_ns,
        "winner": winner,
        "real_fills": len(counted),
        "real_cost": real_cost,
        "real_pnl": real_pnl,
        "paper_cost": paper_cost,
        "paper_pnl": paper_pnl,
    }


def test_json_lists_exactly_the_differences(case: dict[str, Any]) -> None:
    out = _compare(str(case["session"]), "--log-dir", str(case["logs"]), "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["match"]["window_s"] == 5.0 and doc["paper_differences"] == []
    (win,) = doc["windows"]
    assert (win["slug"], win["mode"], win["winner"]) == (SLUG, "real", case["winner"])
    paper = case["paper"]
    assert len(win["matched"]) == len(paper) - 2
    assert [m["paper"]["ts_ns"] for m in win["matched"]] == [
        p["ts_ns"] for p in paper if p not in (case["missing"], case["moved"])
    ]
    assert {m["dt_s"] for m in win["matched"]} == {0.0}
    diffs = {m["paper"]["ts_ns"]: m["qty_diff"] for m in win["matched"] if m["qty_diff"]}
    assert diffs == {case["smaller"]["ts_ns"]: -5.0}
    real_only = [(f["ts_ns"], f["outcome"], f["price"], f["qty"]) for f in win["real_only"]]
    moved = case["moved"]
    assert real_only == [
        (moved["ts_ns"], moved["outcome"], case["moved_price"], moved["qty"]),
        (case["extra_ns"], "Up", 0.12, 10.0),
    ]
    paper_only = [(f["ts_ns"], f["outcome"], f["price"]) for f in win["paper_only"]]
    missing = case["missing"]
    assert sorted(paper_only) == sorted(
        [
            (missing["ts_ns"], missing["outcome"], missing["price"]),
            (moved["ts_ns"], moved["outcome"], moved["price"]),
        ]
    )
    (failed,) = win["failed"]
    assert failed["trade_id"] == f"trade-{paper.index(case['doubled'])}-failed"
    assert win["real"]["fills"] == case["real_fills"] == len(paper)  # -1 missing, +1 extra
    assert win["paper"]["fills"] == len(paper)
    assert win["real"]["cost"] == pytest.approx(case["real_cost"], abs=1e-6)
    assert win["paper"]["cost"] == pytest.approx(case["paper_cost"], abs=1e-6)
    assert win["real"]["pnl"] == pytest.approx(case["real_pnl"], abs=1e-6)
    assert win["paper"]["pnl"] == pytest.approx(case["paper_pnl"], abs=1e-6)
    pnl_diff = case["real_pnl"] - case["paper_pnl"]
    assert win["diff"]["pnl"] == pytest.approx(pnl_diff, abs=1e-6)
    total = doc["total"]
    assert (total["matched"], total["real_only"], total["paper_only"], total["failed"]) == (
        len(paper) - 2,
        2,
        2,
        1,
    )
    assert total["diff"]["pnl"] == pytest.approx(pnl_diff, abs=1e-6)


def test_table_shows_the_differences_at_80_columns(case: dict[str, Any]) -> None:
    out = _compare(str(case["session"]), "--log-dir", str(case["logs"]), columns=80)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines and max(len(x) for x in lines) <= 80, out.stdout
    assert f"{SLUG}  real, resolved {case['winner']}" in lines

    def row(kind: str) -> list[list[str]]:
        return [x.split() for x in lines if x.rstrip().endswith(kind)]

    assert len(row("matched")) == len(case["paper"]) - 2
    assert {(r[1], r[2]) for r in row("paper only")} == {
        (case["missing"]["outcome"], f"{case['missing']['price']:.3f}"),
        (case["moved"]["outcome"], f"{case['moved']['price']:.3f}"),
    }
    assert {(r[1], r[2]) for r in row("real only")} == {
        (case["moved"]["outcome"], f"{case['moved_price']:.3f}"),
        ("Up", "0.120"),
    }
    assert len(row("failed, not counted")) == 1
    pnl = [f"{x:,.2f}" for x in (case["real_pnl"], case["paper_pnl"])]
    diff = f"{case['real_pnl'] - case['paper_pnl']:+,.2f}"
    (total,) = [x.split() for x in lines if x.startswith("total ")]
    assert total[-3:] == [*pnl, diff]
    (figures,) = [x.split() for x in lines if x.strip().startswith("real-paper ")]
    assert figures[-1] == diff


def test_match_window_zero_still_matches_fills_at_the_same_time(case: dict[str, Any]) -> None:
    out = _compare(
        str(case["session"]), "--log-dir", str(case["logs"]), "--json", "--match-window", "0"
    )
    assert out.returncode == 0, out.stderr
    (win,) = json.loads(out.stdout)["windows"]
    assert len(win["matched"]) == len(case["paper"]) - 2

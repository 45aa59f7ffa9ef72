"""`pk8opt deploy`: a trial's parameters -> the `.env` the live runner reads.

The parameters are written as one managed block, between two marker comments, under a
header that says where they come from. The next deploy replaces that block; every
other line of the file (credentials, comments) stays as it was, except a line setting
one of the block's variables, which is commented out so the block's value is the
only one. The previous file is kept as `<name>.bak-<time>`.
"""

from __future__ import annotations

import difflib
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pk8opt.backtest.results import is_summed
from pk8opt.errors import ConfigError
from pk8opt.live.envfile import mask_unowned, read_env_text, write_env_file
from pk8opt.live.markets import MARKETS_ATTR, VALIDATED_VAR
from pk8opt.redact import is_masked, mask_url
from pk8opt.sweep.config import DEFAULT_STORAGE_PATH, default_tracking_uri, env_tracking_uri
from pk8opt.sweep.evaluate import load_evaluator
from pk8opt.sweep.study import make_storage
from pk8opt.sweep.study_meta import StudyMeta, read_meta
from pk8opt.tracking import STUDY, TRIAL, check_store, find_trial_run, open_run_tags, tag_runs
from pk8opt.validation import gate, record
from pk8opt.validation.candidates import top_trials

BEGIN = "# >>> pk8opt deploy: managed block, rewritten by the next `pk8opt deploy`"
END = "# <<< pk8opt deploy"
PAPER_ONLY = {"PM_PAPER_TRADING": "1", "PM_DRY_RUN": "1"}
_KEY = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=")


@dataclass
class Deployed:
    study: str
    trial: int
    run_id: str | None
    env: dict[str, str]
    text: str
    diff: str
    backup: Path | None
    forced: list[Any] | None = None  # the failing checks a --force deployed past
    verdict: str | None = None  # the study's validation verdict (`pass`, `fail: ...`)
    notes: list[str] = field(default_factory=list)  # what the user should know (warnings)


def _quote(value: str) -> str:
    if value == "" or re.search(r"[\s#'\"\\$]", value):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return value


def render_block(env: dict[str, str], header: list[str]) -> list[str]:
    return [BEGIN, *(f"# {h}" for h in header), *(f"{k}={_quote(v)}" for k, v in env.items()), END]


def merge_env(old_text: str, block: list[str], keys: set[str]) -> str:
    """`old_text` with the managed block replaced (or appended) and clashing lines
    commented out; every other line byte-for-byte as it was."""
    lines = old_text.splitlines()
    out: list[str] = []
    inside = False
    placed = False
    for line in lines:
        if line.strip() == BEGIN:
            inside = True
            continue
        if inside:
            if line.strip() == END:
                inside = False
                if not placed:
                    out.extend(block)
                    placed = True
            continue
        m = _KEY.match(line)
        if m and m.group(1) in keys:
            out.append(f"# (replaced by pk8opt deploy) {line}")
        else:
            out.append(line)
    if not placed:
        if out and out[-1].strip():
            out.append("")
        out.extend(block)
    return "\n".join(out) + "\n"


def _pick_study(storage: Any, study: str | None, where: str) -> str:
    import optuna

    names = optuna.get_all_study_names(storage)
    if study is not None:
        if study not in names:
            raise ConfigError(
                f"--study {study}: not in {where} (it holds: {', '.join(names) or 'none'})"
            )
        return study
    if len(names) == 1:
        return names[0]
    if not names:
        raise ConfigError(f"{where}: holds no study; run `pk8opt sweep CONFIG` first")
    raise ConfigError(f"{where}: holds several studies ({', '.join(names)}); pick one with --study")


def _fmt(v: Any) -> str:
    return "n/a" if v is None else f"{v:.6g}" if isinstance(v, float) else str(v)


class RefusedPreview(gate.DeployRefused):
    """A dry run the gate refuses: the refusal, and what the deploy would have written."""

    def __init__(self, refused: gate.DeployRefused, preview: Deployed) -> None:
        super().__init__(refused.study, refused.trial, refused.checks)
        self.preview = preview


def check_reason(force: str | None) -> None:
    """A `--force` reason is words: not empty, not an option the command line took for it."""
    if force is None:
        return
    reason = force.strip()
    if not reason:
        raise ConfigError('--force: give the reason, e.g. --force "paper test of the live runner"')
    if reason.startswith("-"):
        raise ConfigError(
            f"--force: give the reason, not an option ({reason!r} was taken for the reason); "
            'e.g. --force "paper test of the live runner" --dry-run'
        )


def deploy_trial(
    env_file: Path,
    *,
    study: str | None = None,
    run_id: str | None = None,
    number: int | None = None,
    storage: str | None = None,
    tracking_uri: str | None = None,
    dry_run: bool = False,
    evaluator: str | None = None,
    force: str | None = None,
) -> Deployed:
    """Deploy the validated trial (`--best`) or a given one; raises `DeployRefused`
    unless the study's validation passed for that trial or `force` gives a reason (a
    dry run refused raises `RefusedPreview`, which holds what would have been written)."""
    import optuna

    check_reason(force)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage_url = storage or os.environ.get("OPTUNA_STORAGE") or str(DEFAULT_STORAGE_PATH)
    if "://" not in storage_url and not Path(storage_url).exists():
        raise ConfigError(f"{storage_url}: no study storage here; run `pk8opt sweep CONFIG` first")
    explicit_tracking_uri = tracking_uri or env_tracking_uri()
    tracking_uri = explicit_tracking_uri or default_tracking_uri()
    if run_id is not None:
        study, number = _run_trial(tracking_uri, run_id)
    st = make_storage(storage_url)
    name = _pick_study(st, study, storage_url)
    s = optuna.load_study(study_name=name, storage=st)
    rec = record.load(st, name) or {}  # the verdict of the study's validation
    trial = _pick_trial(s, name, number, gate.chosen_trial(rec))
    checks = gate.failing(rec, trial.number)
    refused = gate.DeployRefused(name, trial.number, checks) if checks and not force else None
    if refused is not None and not dry_run:
        raise refused
    try:
        result = _deploy(
            Path(env_file),
            s,
            trial,
            rec,
            checks,
            force,
            dry_run,
            evaluator,
            explicit_tracking_uri or tracking_uri,
            explicit=explicit_tracking_uri is not None,
            run_id=run_id,
        )
    except ConfigError:
        if refused is not None:  # the refusal is the answer; the preview cannot be made
            raise refused from None
        raise
    if refused is not None:
        raise RefusedPreview(refused, result)
    return result


def _deploy(
    env_file: Path,
    s: Any,
    trial: Any,
    rec: dict[str, Any],
    checks: list[Any],
    force: str | None,
    dry_run: bool,
    evaluator: str | None,
    tracking_uri: str,
    *,
    explicit: bool,
    run_id: str | None,
) -> Deployed:
    """The `.env` with the trial's block (written unless `dry_run`), and the override
    recorded on the MLflow runs when a forced deploy is written."""
    name = s.study_name
    meta = read_meta(s.user_attrs)
    if meta is None:
        raise ConfigError(f"study {name}: was not created by `pk8opt sweep` (no pk8opt metadata)")
    overrides = {**meta.overrides, **trial.params}
    config = load_evaluator(evaluator).config(meta.strategy, overrides)
    markets, market_lines = _markets(s.user_attrs)
    # a deployed configuration starts on paper: the .env deploy writes never sends a
    # real order (a line of the user's own setting either is commented out)
    env = {**dict(config.to_env()), **markets, **PAPER_ONLY}
    # An explicit --tracking-uri wins over the one the sweep recorded (which may be
    # relative to the folder the sweep ran in).
    if not explicit and meta.tracking_uri and is_masked(meta.tracking_uri):
        raise ConfigError(
            f"study {name}: its MLflow store is {meta.tracking_uri} (the study keeps no "
            "password); give it with --tracking-uri URL or MLFLOW_TRACKING_URI"
        )
    tracking_uri = (tracking_uri if explicit else meta.tracking_uri) or tracking_uri
    if not dry_run and checks and force is not None:  # the override is recorded there
        check_store(tracking_uri, "--force records the override there: nothing was written")
    run_id = run_id or find_trial_run(tracking_uri, name, trial.number)
    header = [
        f"study {name}, trial {trial.number}, MLflow run {run_id or 'n/a'} "
        f"({mask_url(tracking_uri)})",
        *_objective_lines(trial, meta),
        *_verdict_lines(rec, checks, force),
        f"in-sample: {meta.in_sample_window}",
        f"lockbox:   {meta.holdout_window}",
        f"data fingerprint {meta.fingerprint}, code {meta.code_version}",
        *market_lines,
        f"deployed {time.strftime('%Y-%m-%d %H:%M:%S %Z')}",
    ]
    new, diff = _merged(env_file, env, header)
    backup = None if dry_run else write_env_file(env_file, new)
    if not dry_run and checks and force is not None:
        parent = rec.get("parent_run_id")
        tag_runs(
            tracking_uri,
            [r for r in (run_id, parent) if r],
            {gate.OVERRIDE_TAG: gate.override_text(checks, force.strip())},
        )
    notes = [] if markets else [market_lines[0]]
    return Deployed(
        name,
        trial.number,
        run_id,
        env,
        new,
        diff,
        backup,
        checks or None,
        rec.get("verdict"),
        notes,
    )


def _markets(attrs: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    """The watch and trade lists of the markets the study was swept and validated on,
    and the header's line about them."""
    markets = str(attrs.get(MARKETS_ATTR) or "")
    if not markets:
        return {}, [
            "markets: not recorded in the study (made by an older pk8opt); PM_WATCHLIST and "
            "PM_TRADELIST not written: set them to the markets it was swept on"
        ]
    env = {"PM_WATCHLIST": markets, "PM_TRADELIST": markets, VALIDATED_VAR: markets}
    return env, [f"markets: {markets} (the sessions' markets the study was scored on)"]


def _run_trial(tracking_uri: str, run_id: str) -> tuple[str, int]:
    """The study and trial number of a trial's MLflow run."""
    tags = open_run_tags(tracking_uri, run_id)
    if TRIAL not in tags:
        raise ConfigError(f"--run-id {run_id}: not a trial run (pick a child run of a sweep)")
    return tags[STUDY], int(tags[TRIAL])


def _pick_trial(s: Any, name: str, number: int | None, chosen: int | None) -> Any:
    """Trial `number`, else the one the validation chose, else the best completed one."""
    if number is None:
        number = chosen
    if number is None:
        top = top_trials(s, 1)
        if not top:
            raise ConfigError(f"study {name}: no completed trial to deploy")
        return top[0]
    matches = [t for t in s.get_trials(deepcopy=False) if t.number == number]
    # a trial pruned in the search that the validation replayed in full and chose
    allowed = ("COMPLETE", "PRUNED") if number == chosen else ("COMPLETE",)
    if not matches or matches[0].state.name not in allowed:
        raise ConfigError(f"study {name}: trial {number} did not complete; pick another")
    return matches[0]


def _per_session(v: Any, metric: str, n: int) -> str:
    # a sum over sessions compares across session sets only per session
    if not isinstance(v, int | float) or not is_summed(metric) or not n:
        return ""
    return f" ({v / n:.4g}/session)"


def _objective_lines(trial: Any, meta: StudyMeta) -> list[str]:
    """The header's line per objective: the trial's in-sample value."""
    lines = []
    for i, (direction, metric) in enumerate(meta.objectives or [("?", "?")]):
        if not trial.values:  # pruned in the search: its full replay is the validation's
            lines.append(
                f"objective: {direction} {metric}: pruned in the "
                "search, replayed on every window by the validation"
            )
            continue
        lines.append(
            f"objective: {direction} {metric}: in-sample "
            f"{_fmt(trial.values[i])}{_per_session(trial.values[i], metric, meta.n_in_sample)}"
        )
    return lines


def _verdict_lines(rec: dict[str, Any], checks: list[Any], force: str | None) -> list[str]:
    """The validation's verdict and figures, and the override when forced."""
    figures = rec.get("figures") or {}
    verdict = str(rec.get("verdict", "none"))
    if checks and force is not None:  # the failing checks follow, each once
        verdict = "fail (forced; the failing checks below)"
    keys: tuple[str, ...] = ("oos_pnl_per_window", "oos_t", "dsr", "pbo", "lockbox_pnl_per_window")
    keys += ("prob_oos_loss",) if "prob_oos_loss" in figures else ()
    lines = [f"validation: {verdict}; " + ", ".join(f"{k} {_fmt(figures.get(k))}" for k in keys)]
    if checks and force is not None:
        lines += gate.header_lines(checks, force.strip())
    return lines


def _merged(env_file: Path, env: dict[str, str], header: list[str]) -> tuple[str, str]:
    """The file with the managed block in place, and the diff to show."""
    old = read_env_text(env_file).replace("\r\n", "\n")  # written back with its own ends
    new = merge_env(old, render_block(env, header), set(env))
    diff = "".join(  # the values of the lines deploy does not own are never shown
        difflib.unified_diff(
            mask_unowned(old, BEGIN, END),
            mask_unowned(new, BEGIN, END),
            fromfile=f"{env_file} (before)",
            tofile=f"{env_file} (deployed)",
        )
    )
    return new, diff

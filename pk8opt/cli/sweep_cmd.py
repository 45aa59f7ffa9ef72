"""CLI: sweep, ui and deploy."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    import subprocess

    from pk8opt.deploy.trial import Deployed
    from pk8opt.pipeline.run import SweepOutcome
    from pk8opt.sweep.config import SweepConfig
    from pk8opt.validation.gate import DeployRefused

from pk8opt.cli.base import app


@app.command()
def sweep(
    config: Annotated[
        Path, typer.Argument(help="The sweep config, e.g. configs/balanced_arb.yaml.")
    ],
    trials: Annotated[
        int | None, typer.Option(help="Total trials the study should hold (overrides `trials:`).")
    ] = None,
    timeout: Annotated[
        float | None, typer.Option(help="Stop starting trials after this many seconds.")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes (one per core is a good start).")
    ] = None,
    storage: Annotated[
        str | None,
        typer.Option(
            help="Optuna storage: a journal file path or a database URL "
            "(postgresql://...) so several machines join one study."
        ),
    ] = None,
    tracking_uri: Annotated[
        str | None, typer.Option(help="MLflow tracking URI (default sqlite under experiments/).")
    ] = None,
    study_name: Annotated[
        str | None, typer.Option("--study-name", help="Override the config's `study:` name.")
    ] = None,
    force_workers: Annotated[
        bool,
        typer.Option(
            "--force-workers",
            help="Start as many workers as asked even beyond the cores (capped otherwise).",
        ),
    ] = False,
    artifacts: Annotated[
        str | None,
        typer.Option(
            help="Artifact root of a new MLflow experiment (plots, reports), e.g. "
            "s3://bucket/pk8opt or a shared folder; overrides `mlflow.artifact_location`.",
        ),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print the final summary as one JSON document on stdout (trial counts, best "
            "trial, verdict and checks, deploy command); progress and messages go to stderr.",
        ),
    ] = False,
) -> None:
    """Search a strategy's parameters over recorded sessions.

    Every worker loads the sessions once and runs trials against one shared Optuna
    study; each finished trial appears in MLflow as a child run of the sweep. Ctrl-C
    stops cleanly; running the same command again resumes toward the trial count.
    When the search ends, validation replays the top trials on every in-sample window
    (PBO, deflated Sharpe ratio, walk-forward, robustness), chooses one, plays it once on
    the lockbox (the holdout windows) and prints the verdict that `deploy` enforces.

    Several machines on one study: the same config and recordings, `--storage
    postgresql://user:pw@db/optuna --tracking-uri http://mlflow-host:5000` (or
    OPTUNA_STORAGE and MLFLOW_TRACKING_URI) on each; the trial count is shared.

    Examples:

        pk8opt sweep configs/balanced_arb.yaml --trials 200 --workers 8
        pk8opt sweep configs/balanced_arb.yaml --json > summary.json
    """
    cfg = _sweep_config(
        config,
        trials=trials,
        timeout=timeout,
        workers=workers,
        storage=storage,
        tracking_uri=tracking_uri,
        study_name=study_name,
        artifacts=artifacts,
        force_workers=force_workers,
        as_json=as_json,
    )
    (_sweep_json if as_json else _sweep_text)(cfg, config)  # --json: the summary on stdout


def _sweep_config(
    config: Path,
    *,
    trials: int | None,
    timeout: float | None,
    workers: int | None,
    storage: str | None,
    tracking_uri: str | None,
    study_name: str | None,
    artifacts: str | None,
    force_workers: bool,
    as_json: bool,
) -> SweepConfig:
    """The config file with the command line's values, its workers capped at the cores
    unless forced."""
    from pk8opt.sweep.config import apply_overrides, load_config
    from pk8opt.sweep.cores import cap_workers
    from pk8opt.tracking.uri import check_tracking_uri

    cfg = apply_overrides(
        load_config(config),
        trials=trials,
        timeout_s=timeout,
        workers=workers,
        storage=storage,
        tracking_uri=check_tracking_uri(tracking_uri) if tracking_uri else None,
        study=study_name,
        artifacts=artifacts,
    )
    n, capped = cap_workers(cfg.workers, force_workers)
    if capped:
        import msgspec

        typer.echo(capped, err=as_json)
        cfg = msgspec.structs.replace(cfg, workers=n)
    return cfg


def _sweep_text(cfg: SweepConfig, config: Path) -> None:
    """`sweep`: the run, then its counts and the commands that follow."""
    from pk8opt.pipeline.run import run_sweep

    out = run_sweep(cfg, str(config))
    t = out.tally
    typer.echo(
        f"study {out.study}: {t.complete} complete, {t.pruned} pruned, {t.failed} failed"
        + (f"; best {t.best:.6g} (trial {t.best_number})" if t.best is not None else "")
    )
    if out.interrupted:
        typer.echo(f"stopped. Resume with: {resume_command(config)}")
        raise typer.Exit(130)
    _next_commands(out)


def _next_commands(out: SweepOutcome) -> None:
    """The commands that follow, pointed at the stores this sweep used: the UI, then
    the deploy (or the failures, and no deploy)."""
    from pk8opt.redact import mask_url  # a password in a URL is never printed
    from pk8opt.sweep.config import DEFAULT_STORAGE_PATH, default_tracking_uri

    stores = ""
    if out.storage != str(DEFAULT_STORAGE_PATH):
        stores += f" --storage {mask_url(out.storage)}"
    if out.tracking_uri != default_tracking_uri():
        stores += f" --tracking-uri {mask_url(out.tracking_uri)}"
    ui = (
        "make ui   (or pk8opt ui)"
        if out.tracking_uri == default_tracking_uri()
        else f"pk8opt ui --tracking-uri {mask_url(out.tracking_uri)}"
    )
    typer.echo(f"browse the trials:   {ui}")
    if out.failures.count:  # something broke: say what, and offer no deploy
        from pk8opt.sweep.failures import failure_lines

        for line in failure_lines(out.failures):
            typer.secho(line, fg=typer.colors.RED)
        raise typer.Exit(1 if out.failures.all_failed else 0)
    deploy = f"pk8opt deploy --best --study {out.study}{stores} --env-file .env"
    if out.verdict == "pass":
        typer.echo(f"deploy the validated trial {out.chosen}: {deploy}")
    elif out.verdict is not None:
        typer.echo(
            f"nothing to deploy: trial {out.chosen} failed validation (the verdict above). "
            f"`{deploy}` refuses "
            '(exit 3) unless given --force "reason"'
        )


def _sweep_json(cfg: SweepConfig, config: Path) -> None:
    """`sweep --json`: the run with stdout sent to stderr, then the summary document;
    the exit codes are the text mode's (130 stopped, 1 when every trial failed)."""
    from pk8opt.cli.json_out import echo_json, stdout_to_stderr
    from pk8opt.pipeline.run import run_sweep
    from pk8opt.pipeline.summary import sweep_summary

    with stdout_to_stderr():
        out = run_sweep(cfg, str(config))
        doc = sweep_summary(out, resume_command(config))
    echo_json(doc)
    if out.interrupted:
        raise typer.Exit(130)
    if out.failures.all_failed:
        raise typer.Exit(1)


@app.command()
def ui(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 5000,
    tracking_uri: Annotated[
        str | None,
        typer.Option(help="MLflow store to open (default sqlite:///experiments/mlflow.db)."),
    ] = None,
    experiment: Annotated[
        str | None,
        typer.Option(help="Open this experiment's runs (default: the newest sweep's)."),
    ] = None,
    workers: Annotated[
        int, typer.Option(help="MLflow UI worker processes (one is plenty for one person).", min=1)
    ] = 1,
    browser: Annotated[
        bool, typer.Option(help="Open the Runs view in the browser once the UI answers.")
    ] = True,
) -> None:
    """Open the MLflow UI on the sweep's tracking store (http://127.0.0.1:PORT).

    For a tracking server (`--tracking-uri http://host:5000`) it prints the address to
    open: the server is the UI.

    It opens on the sweep's Runs view: one run per trial with the objective, the main
    metrics and the searched parameters as columns, best first. Each sweep is a parent
    run; open it for the validation report and the best trial's plots under Artifacts.

    Example: `pk8opt ui --port 5001`
    """
    import tempfile

    from pk8opt.redact import mask_url
    from pk8opt.sweep.config import default_tracking_uri, env_tracking_uri
    from pk8opt.tracking import is_server, runs_view_url, ui_command, ui_environment
    from pk8opt.tracking.uri import check_tracking_uri

    uri = check_tracking_uri(tracking_uri or env_tracking_uri() or default_tracking_uri())
    if is_server(uri):
        typer.echo(
            f"{mask_url(uri)} is an MLflow server: it is the UI; open it in a browser and pick the "
            "sweep's experiment (its Runs view lists one run per trial under the sweep)"
        )
        return
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).exists():
        from pk8opt.errors import ConfigError

        raise ConfigError(f"{uri}: no tracking store yet; run a sweep first (make sweep)")
    _check_port_free(port)
    stop_on_hangup()  # a closed terminal or `kill` stops the UI with us, as Ctrl-C does
    try:
        url = runs_view_url(f"http://127.0.0.1:{port}", uri, experiment)
        log = ui_log_path(uri)
        with store_password(uri) as env, tempfile.TemporaryDirectory(prefix="pk8opt-ui-") as tmp:
            typer.echo(f"starting the MLflow UI on 127.0.0.1:{port}; its log: {log}", err=True)
            cmd, env = ui_command(uri, port, workers), ui_environment(env, Path(tmp))
            code = _serve_ui(cmd, env, log, port, url, browser)
    except KeyboardInterrupt:  # stopped before the UI was started
        code = 0
    raise typer.Exit(code)


def ui_log_path(uri: str) -> Path:
    """Where the MLflow UI's own log (its requests, its errors) goes: beside a sqlite
    store, else `experiments/mlflow-ui.log`."""
    if uri.startswith("sqlite:///"):
        return Path(uri.removeprefix("sqlite:///")).parent / "mlflow-ui.log"
    return Path("experiments") / "mlflow-ui.log"


def _check_port_free(port: int) -> None:
    """One line when another server holds `port` on 127.0.0.1."""
    import socket

    from pk8opt.errors import ConfigError

    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the UI's server binds
        try:
            s.bind(("127.0.0.1", port))
        except OSError as exc:
            with socket.socket() as free:
                free.bind(("127.0.0.1", 0))
                other = free.getsockname()[1]
            raise ConfigError(
                f"--port {port}: busy ({exc.strerror or exc}): another server listens there; "
                f"give a free port, e.g. --port {other}"
            ) from None


def _serve_ui(
    cmd: list[str], env: dict[str, str], log: Path, port: int, url: str, browser: bool
) -> int:
    """Run the MLflow UI in its own process group, its output into `log`; print `url`
    once it answers and open it in a browser. 0 when we are stopped (Ctrl-C, SIGTERM,
    SIGHUP); every process of the UI is stopped on the way out."""
    import subprocess

    proc: subprocess.Popen[bytes] | None = None
    log.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(log, "wb") as out, _interrupt_deferred():
            proc = subprocess.Popen(
                cmd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: Ctrl-C is ours to pass on
            )
        _wait_up(proc, port, log)
        typer.echo(f"MLflow UI: {url}  (Ctrl-C to stop)")
        if browser:
            _open_browser(url)
        return proc.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        if proc is not None:
            _stop_group(proc)


@contextmanager
def _interrupt_deferred() -> Iterator[None]:
    """Ctrl-C (or SIGTERM, SIGHUP) arriving inside the block is raised at its end, so
    a process started inside is known to the caller before the interrupt stops it."""
    import signal

    caught: list[int] = []
    sigs = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    before = {sig: signal.signal(sig, lambda signum, _f: caught.append(signum)) for sig in sigs}
    try:
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)
    if caught:
        raise KeyboardInterrupt


def _wait_up(proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    """Return once the UI answers HTTP on `port`; one line when it ended instead."""
    import time
    import urllib.request

    from pk8opt.errors import ConfigError

    while True:
        if proc.poll() is not None:
            lines = [x for x in log.read_text(errors="replace").splitlines() if x.strip()]
            last = lines[-1].strip() if lines else "no output"
            raise ConfigError(f"the MLflow UI stopped before it answered: {last} (log: {log})")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                return
        except OSError:
            time.sleep(0.2)  # not listening yet: ask again


def _open_browser(url: str) -> None:
    """Open `url` in a browser where there is one, without holding up the command."""
    import threading
    import webbrowser

    threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """Stop every process of the UI (its server and whatever that started): SIGTERM to
    its process group, then SIGKILL to what is left of it (after 20 s at most). Ctrl-C meanwhile is
    ignored: the stop is under way."""
    import os
    import signal
    import subprocess
    from contextlib import suppress

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return  # the whole group is gone
    with suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=20)
    with suppress(ProcessLookupError):  # whatever of the group outlived the server
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@contextmanager
def store_password(uri: str) -> Iterator[dict[str, str]]:
    """The environment of the MLflow UI for the store `uri`. Its command line leaves the
    store's password out (`ui_command`): for PostgreSQL the password is in a PGPASSFILE
    (mode 0600, in a private temp folder removed on the way out), and no variable that
    holds the password is passed on. Another database with a password is refused."""
    import os
    import shutil
    import tempfile
    from urllib.parse import unquote, urlsplit

    from pk8opt.errors import ConfigError
    from pk8opt.redact import mask_url

    parts = urlsplit(uri)
    if parts.password is None:
        yield dict(os.environ)
        return
    if parts.scheme.split("+")[0] not in ("postgresql", "postgres"):
        raise ConfigError(
            f"{mask_url(uri)}: pk8opt ui passes a password to PostgreSQL stores only (never "
            "on a command line); store it in the database client's own file, or start an "
            "MLflow server and give its http:// address"
        )
    secrets = {parts.password, unquote(parts.password)}
    env = {k: v for k, v in os.environ.items() if not any(s in v for s in secrets)}
    folder = tempfile.mkdtemp(prefix="pk8opt-ui-")  # mode 0700
    try:
        passfile = Path(folder) / "pgpass"
        fd = os.open(passfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(f"*:*:*:{_pgpass_field(unquote(parts.username or ''))}:")
            out.write(f"{_pgpass_field(unquote(parts.password))}\n")
        yield {**env, "PGPASSFILE": str(passfile)}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _pgpass_field(value: str) -> str:
    """A field of a PostgreSQL password file: `:` and `\\` escaped with a backslash."""
    return value.replace("\\", "\\\\").replace(":", "\\:")


def stop_on_hangup() -> None:
    """SIGTERM and SIGHUP end this process as Ctrl-C does, so the UI server it started
    is stopped too instead of keeping the port after we are gone."""
    import signal

    def as_ctrl_c(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, as_ctrl_c)


@app.command()
def deploy(
    best: Annotated[
        bool, typer.Option("--best", help="Deploy the trial the study's validation chose.")
    ] = False,
    run_id: Annotated[
        str | None, typer.Option(help="Deploy the trial of this MLflow child run instead.")
    ] = None,
    study: Annotated[
        str | None, typer.Option(help="Study name (needed when the storage holds several).")
    ] = None,
    env_file: Annotated[Path, typer.Option(help="The .env to write.")] = Path(".env"),
    storage: Annotated[
        str | None, typer.Option(help="Optuna storage (default experiments/optuna.journal).")
    ] = None,
    tracking_uri: Annotated[
        str | None, typer.Option(help="MLflow store (default sqlite under experiments/).")
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Show the diff, write nothing.")] = False,
    force: Annotated[
        str | None,
        typer.Option(
            help="Deploy although validation failed, for this reason (quoted words, not an "
            "option); the reason and the "
            "failing figures go into the .env header and the MLflow tag "
            "pk8opt.deploy_override.",
        ),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print what was written (or would be, with --dry-run) as one JSON document: "
            "the file, the PM_* values, the study, trial and MLflow run, the verdict or the "
            "override. A refusal (exit 3) prints its failing checks as JSON too.",
        ),
    ] = False,
) -> None:
    """Write a trial's parameters to a .env for the live runner.

    Only a trial with out-of-sample evidence is deployed: the study's validation must
    have passed (walk-forward P&L per window > 0 with t >= 2, DSR >= 0.95, PBO <= 0.2,
    lockbox P&L per window >= 0, enough active windows) and the trial must be the one it
    chose. Otherwise the command exits with code 3 and a table of the failing checks,
    even with --dry-run (which shows the diff it would write first).

    Writes PM_STRATEGY and every strategy, paper-engine and trade-loop parameter in
    its PM_* form, and the markets the study was swept and validated on (PM_WATCHLIST,
    PM_TRADELIST, PM_VALIDATED_MARKETS), under a header naming the study, trial, MLflow
    run, objective, verdict and data window. Other lines of the file (credentials) are kept; the old
    file is backed up as `.env.bak-<time>`; the diff is shown.

    Examples:

        pk8opt deploy --best --env-file .env --dry-run
        pk8opt deploy --best --force "paper-trading the runner, not for money"
        pk8opt deploy --best --dry-run --json
    """
    from pk8opt.errors import ConfigError

    if best == (run_id is not None):
        raise ConfigError("deploy: give exactly one of --best or --run-id ID")
    result = _deploy_or_refuse(
        env_file=env_file,
        study=study,
        run_id=run_id,
        storage=storage,
        tracking_uri=tracking_uri,
        dry_run=dry_run,
        force=force,
        as_json=as_json,
    )
    _show_deployed(result, env_file, dry_run, force, as_json)


def _show_deployed(
    result: Deployed, env_file: Path, dry_run: bool, force: str | None, as_json: bool
) -> None:
    """What was written (or would be): the diff and where, or the JSON document."""
    if as_json:
        from pk8opt.cli.json_out import echo_json

        echo_json(deployed_json(result, env_file, dry_run, force))
        return
    for note in result.notes:
        typer.secho(f"warning: {note}", err=True, fg=typer.colors.YELLOW)
    if result.forced:
        names = ", ".join(c.name for c in result.forced)
        typer.echo(f"forced past failing checks ({names}); recorded in the header and MLflow")
    typer.echo(result.diff or "(no change)")
    if dry_run:
        typer.echo(f"dry run: {env_file} not written")
    else:
        where = f" (backup {result.backup})" if result.backup else ""
        typer.echo(f"wrote {env_file}{where}: study {result.study}, trial {result.trial}")


def _deploy_or_refuse(
    *,
    env_file: Path,
    study: str | None,
    run_id: str | None,
    storage: str | None,
    tracking_uri: str | None,
    dry_run: bool,
    force: str | None,
    as_json: bool,
) -> Deployed:
    """`deploy_trial`; a refusal is shown (its failing checks, as a table or JSON) and
    ends the command with exit code 3."""
    from pk8opt.deploy.trial import deploy_trial
    from pk8opt.tracking.uri import check_tracking_uri
    from pk8opt.validation.gate import EXIT_REFUSED, DeployRefused

    try:
        return deploy_trial(
            env_file=env_file,
            study=study,
            run_id=run_id,
            storage=storage,
            tracking_uri=check_tracking_uri(tracking_uri) if tracking_uri else None,
            dry_run=dry_run,
            force=force,
        )
    except DeployRefused as refused:
        preview = getattr(refused, "preview", None)  # a dry run: what it would write
        if as_json:
            from pk8opt.cli.json_out import echo_json

            echo_json(refused_json(refused, preview))
            typer.secho(f"error: {refused}", err=True, fg=typer.colors.RED)
            raise typer.Exit(EXIT_REFUSED) from None
        from rich.console import Console

        from pk8opt.validation.report import check_table

        if preview is not None:
            typer.echo(preview.diff or "(no change)")
            typer.echo(f"dry run: {env_file} not written; the diff above is what it would write")
        console = Console(stderr=True, emoji=False, highlight=False)
        title = f"study {refused.study}, trial {refused.trial}: not deployed"
        console.print(check_table(refused.checks, title))
        typer.secho(f"error: {refused}", err=True, fg=typer.colors.RED)
        raise typer.Exit(EXIT_REFUSED) from None


def deployed_json(
    result: Deployed, env_file: Path, dry_run: bool, force: str | None
) -> dict[str, Any]:
    """`deploy --json`: what was written (or would be), from where, under which verdict."""
    from dataclasses import asdict

    return {
        "deployed": not dry_run,
        "dry_run": dry_run,
        "env_file": str(env_file),
        "backup": str(result.backup) if result.backup else None,
        "study": result.study,
        "trial": result.trial,
        "mlflow_run_id": result.run_id,
        "verdict": result.verdict,
        "override": None
        if not result.forced
        else {
            "reason": (force or "").strip(),
            "failing_checks": [asdict(c) for c in result.forced],
        },
        "env": result.env,
        "changed": bool(result.diff),
    }


def refused_json(refused: DeployRefused, preview: Deployed | None = None) -> dict[str, Any]:
    """`deploy --json` when the gate refuses: the failing checks (and, for a dry run,
    the PM_* values it would have written)."""
    from dataclasses import asdict

    doc = {
        "deployed": False,
        "study": refused.study,
        "trial": refused.trial,
        "error": str(refused),
        "failing_checks": [asdict(c) for c in refused.checks],
    }
    if preview is not None:
        doc["would_write"] = {"env": preview.env, "changed": bool(preview.diff)}
    return doc


def resume_command(config: Path, argv: list[str] | None = None) -> str:
    """The command that resumes this sweep: the one given, every flag included (a
    password in a URL masked)."""
    import shlex
    import sys

    from pk8opt.redact import mask_url

    args = list(sys.argv[1:] if argv is None else argv)
    if "sweep" not in args:  # called from Python, not the command line
        args = ["sweep", str(config)]
    return "pk8opt " + shlex.join(mask_url(a) for a in args)

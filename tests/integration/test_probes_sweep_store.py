"""The sweep's stores as a trader meets them: a file given as `--storage` that is not an
Optuna journal is refused and left byte for byte; a torn last record is cut only by the
sweep that writes next, its bytes kept beside the journal; a bad record in the middle is
one line naming the file and the line; a corrupt or unreachable MLflow store is one line
at once (no retries); a forced deploy checks MLflow before it writes the .env, and a
second one keeps the first's record; a stale journal lock and a full disk are said.
Real commands, real files, a real Optuna journal and a real MLflow sqlite store."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
import yaml
from mlflow import MlflowClient
from support.deploy import CREDS, verdict

from pk8opt.errors import ConfigError
from pk8opt.sweep.storage import clear_stale_lock, open_storage
from pk8opt.sweep.study import make_storage
from pk8opt.sweep.study_meta import StudyMeta, write_meta
from pk8opt.tracking import STUDY, TRIAL, Tracker, tag_runs
from pk8opt.validation import gate, record

PK8 = [sys.executable, "-m", "pk8opt.cli"]
NOTES = "# Notes\n\nA sweep of balanced_arb over the sample.\n\n- edge 0.02 looked best\n- tail"
CONFIG = "study: arb\nstrategy: balanced_arb\ntrials: 10\n"


def pk8(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PK8, *args], capture_output=True, text=True, timeout=900, cwd=cwd, check=False
    )


def _err_lines(r: subprocess.CompletedProcess[str]) -> list[str]:
    return r.stderr.strip().splitlines()


@pytest.fixture(scope="module")
def mlflow_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real MLflow sqlite store with one experiment, a sweep's parent run and its
    trial 1's run (tests copy it)."""
    db = tmp_path_factory.mktemp("mlflow") / "mlflow.db"
    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    exp = client.create_experiment("arb", artifact_location=(db.parent / "art").as_uri())
    parent = client.create_run(exp, tags={STUDY: "arb", "pk8opt.role": "sweep"})
    child = client.create_run(
        exp, tags={STUDY: "arb", TRIAL: "1", "mlflow.parentRunId": parent.info.run_id}
    )
    (db.parent / "ids").write_text(f"{parent.info.run_id} {child.info.run_id}")
    return db


@pytest.fixture
def store(tmp_path: Path, mlflow_template: Path) -> Iterator[tuple[Path, str, str]]:
    """This test's copy of the MLflow store: its path, the parent and the trial run ids."""
    db = tmp_path / "mlflow.db"
    shutil.copyfile(mlflow_template, db)
    parent, child = (mlflow_template.parent / "ids").read_text().split()
    yield db, parent, child


def _corrupt(db: Path) -> None:
    """Cut 16 KB off the end of an sqlite file: `database disk image is malformed`."""
    with open(db, "r+b") as f:
        f.truncate(db.stat().st_size - 16384)


def _study(tmp: Path, failing: tuple[str, ...] = ("dsr",), parent: str | None = None) -> Path:
    """A balanced_arb study as a sweep leaves it, its verdict failing `failing`."""
    journal = tmp / "optuna.journal"
    study = optuna.create_study(study_name="arb", storage=make_storage(str(journal)))
    write_meta(study, StudyMeta("balanced_arb", [("maximize", "pnl_usdc")], n_in_sample=4))
    for value in (1.0, 5.0):
        t = study.ask({"edge": optuna.distributions.FloatDistribution(0.002, 0.08)})
        study.tell(t, value)
    rec = verdict(chosen=1, failing=failing)
    rec["parent_run_id"] = parent
    record.save(make_storage(str(journal)), "arb", rec)
    return journal


def _sweep_config(tmp: Path, sample_dir: Path) -> Path:
    """A sweep config of balanced_arb over the sample recordings."""
    config = tmp / "arb.yaml"
    doc = {
        "study": "arb",
        "strategy": "balanced_arb",
        "space": {"edge": {"low": 0.002, "high": 0.08, "log": True}},
        "data": {"paths": [str(sample_dir)], "symbols": ["BTC", "ETH"]},
        "trials": 1,
        "workers": 1,
    }
    config.write_text(yaml.safe_dump(doc))
    return config


class _Lines(logging.Handler):
    """The messages MLflow logs (its retries among them)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _closed_port() -> socket.socket:
    """A loopback port bound but not listening: every connection to it is refused, and
    no other program can take it while the socket is open."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    return s


# -- a file that is not a journal ---------------------------------------------------------


@pytest.mark.parametrize("kind", ["markdown", "yaml", "mlflow.db"])
def test_a_file_that_is_not_a_journal_is_refused_and_left_byte_for_byte(
    tmp_path: Path, mlflow_template: Path, kind: str
) -> None:
    target = {"markdown": "notes.md", "yaml": "mycfg.yaml", "mlflow.db": "mlflow.db"}[kind]
    path = tmp_path / "experiments" / target
    path.parent.mkdir()
    if kind == "markdown":
        path.write_text(NOTES)  # its last line without a newline, like a torn record
    elif kind == "yaml":
        path.write_text(CONFIG)
    else:
        shutil.copyfile(mlflow_template, path)
    before = path.read_bytes()
    for args in (
        ["sweeps", "--storage", str(path)],
        ["sweeps", "show", "arb", "--storage", str(path)],
        ["deploy", "--best", "--storage", str(path), "--dry-run"],
        ["deploy", "--best", "--storage", str(path), "--force", "paper test"],
    ):
        r = pk8(*args, cwd=tmp_path)
        assert r.returncode == 1, (args, r.stdout, r.stderr)
        lines = _err_lines(r)
        assert len(lines) == 1, (args, r.stderr)
        assert f"{path}: not an Optuna journal" in lines[0], lines
        assert "half-written" not in r.stdout + r.stderr
        assert path.read_bytes() == before, args
    assert sorted(p.name for p in path.parent.iterdir()) == [target]  # no copy, no lock
    if kind == "mlflow.db":
        assert "an SQLite database" in lines[0] and "sqlite:///" in lines[0]


def test_the_sweep_refuses_a_file_that_is_not_a_journal_before_writing(tmp_path: Path) -> None:
    """The opener that repairs (the sweep's main process) refuses it too, untouched."""
    path = tmp_path / "notes.md"
    path.write_text(NOTES)
    notes: list[str] = []
    with pytest.raises(ConfigError) as err:
        open_storage(str(path), notes.append)
    assert str(err.value).startswith(f"{path}: not an Optuna journal (a text file")
    assert notes == [] and path.read_text() == NOTES
    folder = tmp_path / "runs"
    folder.mkdir()
    with pytest.raises(ConfigError, match="is a folder, not an Optuna journal"):
        open_storage(str(folder), notes.append)


# -- a torn last record: cut by the next sweep only, kept beside the journal -------------------


def test_a_torn_last_record_is_left_to_the_sweep_and_kept_when_cut(tmp_path: Path) -> None:
    journal = _study(tmp_path)
    whole = journal.read_bytes()
    torn = b'{"op_code":8,"worker_id":"w","trial_id":1,"user_attr":{"pk8opt.m'
    with open(journal, "ab") as f:
        f.write(torn)
    torn_bytes = journal.read_bytes()
    env_file = tmp_path / ".env"
    env_file.write_text(CREDS)
    none_db = f"sqlite:///{tmp_path / 'none.db'}"
    for args in (
        ["sweeps", "--storage", str(journal), "--tracking-uri", none_db],
        ["sweeps", "show", "arb", "--storage", str(journal), "--tracking-uri", none_db],
        ["deploy", "--best", "--storage", str(journal), "--force", "paper", "--dry-run"]
        + ["--env-file", str(env_file), "--tracking-uri", none_db],
    ):
        r = pk8(*args, cwd=tmp_path)
        assert r.returncode == 0, (args, r.stderr)
        assert "half-written" not in r.stdout + r.stderr
        assert journal.read_bytes() == torn_bytes, args  # a read-only command cuts nothing
    assert "arb" in pk8("sweeps", "--storage", str(journal), cwd=tmp_path).stdout
    assert env_file.read_text() == CREDS
    assert not list(tmp_path.glob("optuna.journal.cut-*"))
    # the sweep's main process (the opener with a `report`) cuts it and keeps the bytes
    notes: list[str] = []
    storage = open_storage(str(journal), notes.append)
    (copy,) = tmp_path.glob("optuna.journal.cut-*")
    assert copy.read_bytes() == torn and journal.read_bytes() == whole
    assert len(notes) == 1 and "half-written" in notes[0] and str(copy) in notes[0]
    records = whole.count(b"\n")
    assert f"the {records} complete records before it are kept" in notes[0]
    assert len(optuna.load_study(study_name="arb", storage=storage).trials) == 2


# -- a bad record in the middle: one line, the file and the line ------------------------------


@pytest.mark.parametrize(
    "bad", [b"\xff\xfe garbage \x00\x01\n", b'{"op_code":4,"worker_id":"ab\n'], ids=["bytes", "cut"]
)
def test_a_bad_record_in_the_middle_is_one_line_naming_the_file_and_line(
    tmp_path: Path, sample_dir: Path, bad: bytes
) -> None:
    journal = _study(tmp_path)
    lines = journal.read_bytes().splitlines(keepends=True)
    journal.write_bytes(b"".join([*lines[:3], bad, *lines[3:]]))
    before = journal.read_bytes()
    r = pk8("sweeps", "--storage", str(journal), cwd=tmp_path)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    (line,) = _err_lines(r)
    assert f"{journal}: line 4 is not an Optuna journal record" in line, line
    assert f"head -n 3 {journal}" in line
    # the sweep (the opener that repairs a torn tail) refuses it the same way
    config = _sweep_config(tmp_path, sample_dir)
    r = pk8("sweep", str(config), "--storage", str(journal), cwd=tmp_path)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr[-3000:]
    assert f"{journal}: line 4 is not an Optuna journal record" in r.stderr
    assert len([x for x in _err_lines(r) if x.startswith("error:")]) == 1
    assert journal.read_bytes() == before
    assert not list(tmp_path.glob("optuna.journal.cut-*"))


# -- the tracking store: corrupt or unreachable, one line at once ------------------------------


def test_a_corrupt_or_unreachable_tracking_store_is_one_line_without_retries(
    tmp_path: Path, store: tuple[Path, str, str]
) -> None:
    db, _, _ = store
    _corrupt(db)
    closed = _closed_port()
    port = closed.getsockname()[1]
    pg = f"postgresql://me:hunter2@127.0.0.1:{port}/mlflow"
    logged = _Lines()
    logging.getLogger("mlflow").addHandler(logged)
    try:
        with pytest.raises(ConfigError) as err:
            Tracker(f"sqlite:///{db}", "arb")
        assert "database disk image is malformed" in str(err.value)
        with pytest.raises(ConfigError) as err:
            Tracker(pg, "arb")
        assert f"127.0.0.1:{port}" in str(err.value) and "hunter2" not in str(err.value)
        assert "\n" not in str(err.value)
        assert not [x for x in logged.lines if "retried" in x]  # none on a first contact
        journal = _study(tmp_path)
        for uri in (f"sqlite:///{db}", pg, f"http://127.0.0.1:{port}"):
            r = pk8("sweeps", "--storage", str(journal), "--tracking-uri", uri, cwd=tmp_path)
            assert r.returncode == 0, r.stderr
            (line,) = _err_lines(r)  # one warning, no retries; the listing goes on
            assert line.startswith("warning: MLflow store") and "retried" not in r.stderr
            assert "hunter2" not in r.stderr
            assert "arb" in r.stdout
    finally:
        logging.getLogger("mlflow").removeHandler(logged)
        closed.close()


def test_the_sweep_on_an_unreachable_tracking_store_stops_at_once(
    tmp_path: Path, sample_dir: Path
) -> None:
    closed = _closed_port()
    try:
        uri = f"postgresql://me:hunter2@127.0.0.1:{closed.getsockname()[1]}/mlflow"
        config = _sweep_config(tmp_path, sample_dir)
        journal = tmp_path / "optuna.journal"
        r = pk8(
            "sweep", str(config), "--storage", str(journal), "--tracking-uri", uri, cwd=tmp_path
        )
    finally:
        closed.close()
    assert r.returncode == 1 and "retried" not in r.stderr, r.stderr[-3000:]
    errors = [x for x in _err_lines(r) if x.startswith("error:")]
    assert len(errors) == 1 and "mlflow.tracking_uri postgresql://me:***@127.0.0.1" in errors[0]


# -- deploy --force: MLflow checked before the .env is written; every override kept ----------


def test_a_forced_deploy_on_a_corrupt_tracking_store_writes_nothing(
    tmp_path: Path, store: tuple[Path, str, str]
) -> None:
    db, parent, _ = store
    journal = _study(tmp_path, parent=parent)
    _corrupt(db)
    env_file = tmp_path / ".env"
    env_file.write_text(CREDS)
    args = ["deploy", "--best", "--force", "paper test", "--storage", str(journal)]
    args += ["--tracking-uri", f"sqlite:///{db}", "--env-file", str(env_file)]
    r = pk8(*args, cwd=tmp_path)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    (line,) = _err_lines(r)
    assert f"MLflow store sqlite:///{db}: database disk image is malformed" in line
    assert "nothing was written" in line
    assert env_file.read_text() == CREDS and not list(tmp_path.glob(".env.bak-*"))
    # a dry run writes nothing and tags nothing: it goes on, the store unread
    r = pk8(*args, "--dry-run", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert env_file.read_text() == CREDS


def test_a_second_forced_deploy_keeps_the_first_override(
    tmp_path: Path, store: tuple[Path, str, str]
) -> None:
    db, parent, child = store
    journal = _study(tmp_path, parent=parent)
    uri = f"sqlite:///{db}"
    env_file = tmp_path / ".env"
    for reason in ("paper test one", "paper test two", "paper test two"):
        r = pk8(
            "deploy", "--best", "--force", reason, "--storage", str(journal),
            "--tracking-uri", uri, "--env-file", str(env_file), cwd=tmp_path,
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
    client = MlflowClient(tracking_uri=uri)
    for run_id in (parent, child):
        tags = client.get_run(run_id).data.tags
        overrides = {k: v for k, v in tags.items() if k.startswith(gate.OVERRIDE_TAG)}
        assert sorted(overrides) == [gate.OVERRIDE_TAG, f"{gate.OVERRIDE_TAG}.2"], overrides
        assert overrides[gate.OVERRIDE_TAG].startswith("paper test one | failing: dsr")
        assert overrides[f"{gate.OVERRIDE_TAG}.2"].startswith("paper test two | failing: dsr")


def test_tagging_an_unreadable_store_is_one_line(store: tuple[Path, str, str]) -> None:
    db, parent, _ = store
    _corrupt(db)
    with pytest.raises(ConfigError) as err:
        tag_runs(f"sqlite:///{db}", [parent], {"k": "v"})
    assert "database disk image is malformed" in str(err.value) and parent in str(err.value)


# -- the journal's lock and a full disk -------------------------------------------------------


def test_a_stale_journal_lock_is_not_waited_on(tmp_path: Path) -> None:
    journal = _study(tmp_path)
    lock = Path(f"{journal}.lock")
    os.symlink(journal, lock)  # what Optuna leaves when its writer dies mid-write
    r = pk8("sweeps", "--storage", str(journal), cwd=tmp_path)
    assert r.returncode == 0 and "arb" in r.stdout, r.stderr
    # never taken, so never waited on: Optuna would have forced it away after its grace
    assert lock.is_symlink() and "lock" not in r.stderr
    assert clear_stale_lock(journal) is None and lock.is_symlink()  # a fresh lock is held
    old = time.time() - 120
    os.utime(lock, (old, old), follow_symlinks=False)
    notes: list[str] = []
    open_storage(str(journal), notes.append)  # the sweep's main process
    assert not lock.is_symlink()
    assert len(notes) == 1 and f"{lock}: removed a stale lock" in notes[0], notes


FILL = """
import resource, signal, sys
sys.path.insert(0, {tests!r})
import optuna
from pk8opt.errors import os_error_line
from pk8opt.sweep.storage import open_storage
path = {journal!r}
storage = open_storage(path)
study = optuna.load_study(study_name="arb", storage=storage)
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails, as on a full disk
resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, resource.RLIM_INFINITY))
try:
    study.set_user_attr("big", "x" * 100000)
except OSError as exc:
    print(os_error_line(exc))
"""


def test_a_journal_on_a_full_disk_is_named_and_its_torn_record_kept(tmp_path: Path) -> None:
    journal = _study(tmp_path)
    whole = journal.read_bytes()
    tests = str(Path(__file__).resolve().parents[1])
    code = FILL.format(tests=tests, journal=str(journal), limit=len(whole) + 4096)
    r = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"{journal}: File too large"), r.stdout
    assert journal.stat().st_size == len(whole) + 4096  # a record cut short by the limit
    notes: list[str] = []
    open_storage(str(journal), notes.append)
    (copy,) = tmp_path.glob("optuna.journal.cut-*")
    assert journal.read_bytes() == whole and copy.stat().st_size == 4096
    assert len(notes) == 1 and "half-written" in notes[0]

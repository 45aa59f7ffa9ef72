from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# tests/ on the path, here and in every process a test starts (the CLI, sweep scripts, loky
# workers): they import the helpers of tests/support (e.g. support.fake_sweep by name)
TESTS = str(Path(__file__).resolve().parent)
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)
_paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != TESTS]
os.environ["PYTHONPATH"] = os.pathsep.join([TESTS, *_paths])
pytest.register_assert_rewrite("support")  # their asserts explain themselves as the tests' do

from support.paths import FIXTURES, SAMPLE  # noqa: E402


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return SAMPLE


@pytest.fixture(scope="session")
def pg_cluster():
    """A throwaway PostgreSQL cluster on a free 127.0.0.1 port (see tests/support/pgcluster.py).
    Skips only where no server can be installed; CI sets PK8OPT_REQUIRE_PG=1 so that a
    missing server fails instead."""
    from support.pgcluster import cluster, server_bin

    if server_bin() is None:
        reason = (
            "no PostgreSQL server here (initdb/pg_ctl not found); `make test` installs "
            "Debian's postgresql package when it can (as root with apt-get)"
        )
        if os.environ.get("PK8OPT_REQUIRE_PG"):
            pytest.fail(reason)
        pytest.skip(reason)
    with cluster() as c:
        yield c


@pytest.fixture
def pg_database(pg_cluster, request) -> str:
    """A fresh, empty database in the test cluster: its URL."""
    import re
    import uuid

    name = re.sub(r"[^a-z0-9_]", "_", request.node.name.lower())[:40] + uuid.uuid4().hex[:6]
    return pg_cluster.create_database(name)


@pytest.fixture(scope="session")
def pg_mlflow_template(pg_cluster) -> str:
    """A database holding MLflow's tables (its migrations take ~20 s on PostgreSQL):
    copied for each test that needs an MLflow store, instead of migrating again."""
    from pk8opt.tracking import Tracker

    url = pg_cluster.create_database("mlflow_template")
    Tracker(url, "template", "file:///nonexistent")
    return "mlflow_template"


@pytest.fixture
def pg_mlflow(pg_cluster, pg_mlflow_template, request) -> str:
    """A fresh MLflow store on PostgreSQL: its URL."""
    import re
    import uuid

    name = re.sub(r"[^a-z0-9_]", "_", request.node.name.lower())[:40] + uuid.uuid4().hex[:6]
    return pg_cluster.create_database(name, template=pg_mlflow_template)


@pytest.fixture(scope="session", autouse=True)
def compiled_replay() -> None:
    """Compile the replay once, before any test starts a process that replays: numba
    keeps it on disk, so CLI runs and sweep workers load it instead of each compiling it
    (on a fresh clone the first compile takes tens of seconds on a loaded machine)."""
    from pk8opt.backtest.warmup import warm_up

    warm_up("noop")

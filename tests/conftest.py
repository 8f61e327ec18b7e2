"""Shared fixtures. With CALLWATCH_FAIL_ON_SKIP=1 (CI) a skipped test fails the session."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from callwatch import stack

REPO = Path(__file__).resolve().parent.parent
POLICY_PATH = REPO / "deploy" / "policy.yaml"

_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _skipped and os.environ.get("CALLWATCH_FAIL_ON_SKIP") == "1":
        print(f"\nCALLWATCH_FAIL_ON_SKIP: {len(_skipped)} test(s) skipped: {', '.join(_skipped)}")
        session.exitstatus = 1


def find_binary(name: str) -> str:
    """The binary (see ``callwatch.stack.BINARIES``); fails (never skips) when missing."""
    try:
        return stack.find_binary(name)
    except stack.MissingBinary as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def promtool() -> str:
    return find_binary("promtool")


@pytest.fixture(scope="session")
def amtool() -> str:
    return find_binary("amtool")


@pytest.fixture(scope="session")
def prometheus_bin() -> str:
    return find_binary("prometheus")


@pytest.fixture(scope="session")
def alertmanager_bin() -> str:
    return find_binary("alertmanager")


@pytest.fixture(scope="session")
def chromium_bin() -> str:
    """Debian's chromium, for the console's browser test (scripts/ensure-tools installs it)."""
    return find_binary("chromium")


@pytest.fixture(scope="session")
def policy():
    from policy import load_policy

    return load_policy(POLICY_PATH)


def on_call(policy, now: float):
    """The Contact the shipped policy's first level pages at ``now``: whoever its ``primary``
    schedule has on call then (tests whose clocks sit in different weeks meet different people)."""
    from receiver.domain import oncall

    [person] = oncall.first_level(policy, now).people
    return policy.contacts[person.contact]


def named(*keys: str):
    """People paged by name (no schedule), for the row builders' ``people``."""
    from receiver.domain.oncall import Paged

    return tuple(Paged(key) for key in keys)


# --- PostgreSQL: a throwaway cluster from Debian's binaries, shared by the session ------------

def _pg_bin_dir() -> str:
    """PG_BIN_DIR (scripts/tool-env.sh), else Debian's /usr/lib/postgresql/*/bin; fails if none."""
    import glob

    candidates = [os.environ.get("PG_BIN_DIR", "")]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for directory in candidates:
        if directory and os.access(os.path.join(directory, "initdb"), os.X_OK):
            return directory
    pytest.fail("PostgreSQL initdb not found: run scripts/ensure-tools or set PG_BIN_DIR")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_server():
    """A running PostgreSQL cluster on 127.0.0.1 (trust auth, user ``postgres``).

    Yields its base URL ``postgresql://postgres@127.0.0.1:PORT``. As root the cluster runs as
    the ``postgres`` OS user (PostgreSQL refuses root) in a directory that user owns.
    Stopped (immediate mode) and deleted at the end of the session.
    """
    import subprocess
    import tempfile

    bin_dir = _pg_bin_dir()
    base = tempfile.mkdtemp(prefix="callwatch-pg-")
    data = os.path.join(base, "data")
    prefix: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    port = _free_port()

    def run(*args: str) -> None:
        result = subprocess.run(prefix + list(args), capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            pytest.fail(f"{args[0]} failed: {result.stderr or result.stdout}")

    run(f"{bin_dir}/initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync")
    options = (f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off "
               "-c max_connections=200")
    run(f"{bin_dir}/pg_ctl", "-D", data, "-o", options, "-l", os.path.join(base, "log"), "-w",
        "start")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run([*prefix, f"{bin_dir}/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server):
    """A fresh, empty database on the session cluster for one test; dropped afterwards."""
    import uuid

    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{postgres_server}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield f"{postgres_server}/{name}"
    with psycopg.connect(f"{postgres_server}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

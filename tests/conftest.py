"""Shared fixtures. With CALLWATCH_FAIL_ON_SKIP=1 (CI) a skipped test fails the session."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

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


def find_binary(env_var: str, *names: str) -> str:
    """The binary named by ``env_var`` or found on PATH; fails (never skips) when missing."""
    path = os.environ.get(env_var)
    if path and os.access(path, os.X_OK):
        return path
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(f"{names[0]} not found: run scripts/ensure-tools or set {env_var}")


@pytest.fixture(scope="session")
def promtool() -> str:
    return find_binary("PROMTOOL_BIN", "promtool")


@pytest.fixture(scope="session")
def amtool() -> str:
    return find_binary("AMTOOL_BIN", "amtool")


@pytest.fixture(scope="session")
def prometheus_bin() -> str:
    return find_binary("PROMETHEUS_BIN", "prometheus")


@pytest.fixture(scope="session")
def alertmanager_bin() -> str:
    return find_binary("ALERTMANAGER_BIN", "prometheus-alertmanager", "alertmanager")


@pytest.fixture(scope="session")
def policy():
    from policy import load_policy

    return load_policy(POLICY_PATH)

"""Golden files for every generated artifact.

``tests/testdata/policy-golden.yaml`` is a frozen policy, so these files change only when a
renderer changes. Refresh them with ``make golden`` (sets CALLWATCH_UPDATE_GOLDEN=1) and review
the diff. The files under deploy/ are checked against deploy/policy.yaml by ``render --check``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from policy import load_policy
from policy.render import RenderOptions, render_all

REPO = Path(__file__).resolve().parent.parent
GOLDEN = REPO / "tests" / "golden"
UPDATE = os.environ.get("CALLWATCH_UPDATE_GOLDEN") == "1"

CASES = {
    "default": RenderOptions(),
    # What the demo and the end-to-end tests run: a minute of policy time per second.
    "scaled-60-loopback": RenderOptions(
        time_scale=60, receiver_url="http://127.0.0.1:9120/alerts",
        token_file="/tmp/callwatch/receiver-token", callwatch_targets=("127.0.0.1:9120",),
        alertmanagers=("127.0.0.1:9093",)),
}


def _golden_cases():
    policy = load_policy(REPO / "tests" / "testdata" / "policy-golden.yaml")
    for case, options in CASES.items():
        for relative, text in render_all(policy, options).items():
            yield pytest.param(case, relative, text, id=f"{case}:{relative}")


@pytest.mark.parametrize(("case", "relative", "text"), list(_golden_cases()))
def test_generated_file_matches_its_golden_file(case: str, relative: str, text: str) -> None:
    golden = GOLDEN / case / relative.removeprefix("deploy/")
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert golden.exists(), f"no golden file {golden}: run `make golden`"
    assert text == golden.read_text(encoding="utf-8"), f"{relative} changed: run `make golden`"


def test_every_generated_file_starts_with_the_do_not_edit_header() -> None:
    policy = load_policy(REPO / "tests" / "testdata" / "policy-golden.yaml")
    for relative, text in render_all(policy).items():
        assert ("DO NOT EDIT" in text.splitlines()[0]
                or '"description": "Generated' in text), relative


def test_render_check_passes_on_the_committed_tree() -> None:
    result = subprocess.run([sys.executable, "-m", "callwatch", "render", "--check"],
                            capture_output=True, text=True, cwd=REPO, timeout=60)
    assert result.returncode == 0, result.stderr


def test_render_check_names_a_stale_file(tmp_path: Path) -> None:
    out = tmp_path / "tree"
    subprocess.run([sys.executable, "-m", "callwatch", "render", "--out", str(out)],
                   check=True, capture_output=True, cwd=REPO, timeout=60)
    rules = out / "deploy/prometheus/rules/telephony.rules.yml"
    rules.write_text(rules.read_text() + "# edited by hand\n")
    result = subprocess.run([sys.executable, "-m", "callwatch", "render", "--check",
                             "--out", str(out)], capture_output=True, text=True, cwd=REPO,
                            timeout=60)
    assert result.returncode == 1
    assert "stale: deploy/prometheus/rules/telephony.rules.yml" in result.stderr
    assert "alertmanager.yml" not in result.stderr

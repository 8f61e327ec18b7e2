"""One fixture per validation rule: the default policy with one edit, and the exact error line.

Each ``tests/testdata/invalid-*.yml`` holds ``replace`` (text that occurs once in
deploy/policy.yaml), ``with`` (its replacement) and ``error`` (the exact message expected).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from policy import PolicyError, parse_policy

REPO = Path(__file__).resolve().parent.parent
# A frozen copy of the default policy, so editing deploy/policy.yaml never moves these lines.
DEFAULT_POLICY = (REPO / "tests" / "testdata" / "policy-golden.yaml").read_text(encoding="utf-8")
FIXTURES = sorted((REPO / "tests" / "testdata").glob("invalid-*.yml"))


def _invalid_text(fixture: Path) -> tuple[str, dict]:
    case = yaml.safe_load(fixture.read_text(encoding="utf-8"))
    assert DEFAULT_POLICY.count(case["replace"]) == 1, f"{fixture.name}: `replace` must occur once"
    return DEFAULT_POLICY.replace(case["replace"], case["with"]), case


def test_the_default_policy_is_valid() -> None:
    policy = parse_policy(DEFAULT_POLICY, "deploy/policy.yaml")
    assert policy.thresholds["call_drop_rate"].critical == 0.05
    assert policy.priorities["P0"].response_seconds == 15 * 60


def test_there_is_a_fixture_for_each_rule() -> None:
    assert len(FIXTURES) >= 14


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda path: path.stem)
def test_an_invalid_policy_gives_its_exact_error(fixture: Path) -> None:
    text, case = _invalid_text(fixture)
    with pytest.raises(PolicyError) as raised:
        parse_policy(text, "deploy/policy.yaml")
    assert str(raised.value) == case["error"], case["description"]
    assert "\n" not in str(raised.value)


def test_the_command_line_prints_one_line_and_no_traceback(tmp_path: Path) -> None:
    text, case = _invalid_text(REPO / "tests" / "testdata" / "invalid-warning-above-critical.yml")
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(text, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "callwatch", "render", "--check", "--policy", str(policy_file)],
        capture_output=True, text=True, cwd=REPO, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert lines[0].endswith(case["error"].removeprefix("deploy/policy.yaml"))
    assert "thresholds.call_drop_rate.warning" in lines[0]


def test_a_missing_policy_file_is_a_clear_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "callwatch", "render", "--check",
         "--policy", str(tmp_path / "nope.yaml")],
        capture_output=True, text=True, cwd=REPO, timeout=60)
    assert result.returncode == 2
    assert "cannot read policy file" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_slack_contact_that_notifies_nobody_loads_with_a_warning_naming_its_line() -> None:
    text = DEFAULT_POLICY.replace("slack: '@ana'", "slack: U024BE7LH", 1)
    warnings = parse_policy(text, "deploy/policy.yaml").warnings
    assert not any("contacts.eng_a.slack" in w for w in warnings)
    assert "deploy/policy.yaml:217: contacts.team_lead.slack: '@team-lead' is not a Slack user " \
           "id (U...) or user group id (S...); it is shown in messages but notifies nobody" \
           in warnings

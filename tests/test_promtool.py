"""promtool against the generated Prometheus files, and the promtool unit tests that pin the rules.

- ``promtool check rules`` on the generated rules file and ``promtool check config`` on
  prometheus.yml (which also loads the rule files it names);
- ``promtool test rules`` on every file in deploy/prometheus/tests/, one case per file;
- a coverage check: every alert variant (alertname, severity, priority) and every recording rule
  in the rules file is asserted by some unit test;
- boundary mutations: nudging any threshold to either side of the values the unit tests use, or
  the minimum traffic, or a ``for``, makes that row's unit tests fail, so "both sides of each
  boundary" is really pinned.
"""

from __future__ import annotations

import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from policy import catalog
from policy.render import RenderOptions
from policy.render.rules import render_rules_file
from policy.render.rules import rule_groups as rule_groups_for

REPO = Path(__file__).resolve().parent.parent
PROMETHEUS_DIR = REPO / "deploy" / "prometheus"
RULES = PROMETHEUS_DIR / "rules" / "telephony.rules.yml"
CONFIG = PROMETHEUS_DIR / "prometheus.yml"
TEST_DIR = PROMETHEUS_DIR / "tests"
TEST_FILES = sorted(TEST_DIR.glob("*.yml"))

pytestmark = pytest.mark.binaries


def run(args: list[str], cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, check=False)


def output(result: subprocess.CompletedProcess) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def rule_groups() -> list[dict]:
    return yaml.safe_load(RULES.read_text())["groups"]


def test_the_generated_rules_file_passes_promtool_check_rules(promtool):
    result = run([promtool, "check", "rules", RULES])
    count = sum(len(group["rules"]) for group in rule_groups())
    assert result.returncode == 0, output(result)
    assert f"SUCCESS: {count} rules found" in result.stdout, output(result)


def test_the_generated_prometheus_config_passes_promtool_check_config(promtool):
    result = run([promtool, "check", "config", CONFIG])
    assert result.returncode == 0, output(result)
    # The config's rule_files glob must find the generated rules, not nothing.
    assert "SUCCESS: 1 rule files found" in result.stdout, output(result)


def test_there_is_a_promtool_unit_test_file_for_every_threshold_row_and_service_down():
    names = {path.name for path in TEST_FILES}
    expected = {f"{key}.test.yml" for key in catalog.ROWS} | {
        "service_down.test.yml", "traffic_absent.test.yml", "callwatch_self.test.yml"}
    assert expected <= names, f"missing: {sorted(expected - names)}"


@pytest.mark.parametrize("path", TEST_FILES, ids=[path.name for path in TEST_FILES])
def test_the_promtool_unit_tests_in_this_file_pass(promtool, path):
    # Run from the file's directory, as a user would: rule_files are relative to it.
    result = run([promtool, "test", "rules", path.name], cwd=path.parent)
    assert result.returncode == 0, f"promtool test rules {path.relative_to(REPO)}\n{output(result)}"
    assert "SUCCESS" in result.stdout, output(result)


def _unit_tests() -> list[dict]:
    return [yaml.safe_load(path.read_text()) for path in TEST_FILES]


def test_every_alert_variant_in_the_rules_file_is_asserted_firing_by_a_unit_test():
    rules = {rule["alert"]: rule for group in rule_groups() for rule in group["rules"]
             if "alert" in rule}
    asserted = set()
    for doc in _unit_tests():
        for group in doc["tests"]:
            for check in group.get("alert_rule_test", []):
                for alert in check.get("exp_alerts") or []:
                    labels = alert["exp_labels"]
                    asserted.add((check["alertname"], labels["severity"], labels.get("priority")))
                    # Exact annotations for every asserted alert, not only labels.
                    assert set(alert["exp_annotations"]) == set(
                        rules[check["alertname"]]["annotations"])
    variants = {(rule["alert"], rule["labels"]["severity"], rule["labels"].get("priority"))
                for group in rule_groups() for rule in group["rules"] if "alert" in rule}
    assert variants - asserted == set()


def test_every_recording_rule_in_the_rules_file_is_checked_by_a_unit_test():
    exprs = " ".join(expr["expr"] for doc in _unit_tests() for group in doc["tests"]
                     for expr in group.get("promql_expr_test", []))
    records = {rule["record"] for group in rule_groups() for rule in group["rules"]
               if "record" in rule}
    assert {record for record in records if record not in exprs} == set()


# Per row: the threshold values just past the test values on each side of each boundary. A
# threshold moved there must turn a "no alert" case into an alert or the other way round. The
# API-latency thresholds move to neighbouring bucket bounds (the only values a policy takes).
NUDGES = {
    "call_drop_rate": {"warning": (0.028, 0.032), "critical": (0.048, 0.052)},
    "call_quality": {"warning": (3.35, 3.65), "critical": (2.85, 3.15)},
    "webhook_failure_rate": {"warning": (0.044, 0.056), "critical": (0.094, 0.106)},
    "api_response_time": {"warning": (0.75, 1.5), "critical": (1.5, 3.0)},
    "error_rate": {"warning": (0.0185, 0.0215), "critical": (0.0485, 0.0515)},
    "provider_health": {"warning": (0.785, 0.815), "critical": (0.685, 0.715)},
}


def _mutations(policy) -> list[tuple[str, str, object, float | None, float | None]]:
    """(row, what changed, the policy so changed, moved threshold and its old value or None)."""
    found = []
    for key, levels in NUDGES.items():
        threshold = policy.thresholds[key]
        for level, values in levels.items():
            old = getattr(threshold, level)
            for value in values:
                moved = replace(threshold, **{level: value})
                found.append((key, f"{level} threshold moved to {value:g}", replace(
                    policy, thresholds={**policy.thresholds, key: moved}), value, old))
    traffic = policy.minimum_traffic
    for value in (traffic.answered_calls - 6, traffic.answered_calls + 1):
        found.append(("call_drop_rate", f"minimum traffic moved to {value}", replace(
            policy, minimum_traffic=replace(traffic, answered_calls=value)), None, None))
    drop = policy.thresholds["call_drop_rate"]
    for minutes in (4, 7):  # the drop-rate row's pending/firing cases pin its 5m `for`
        found.append(("call_drop_rate", f"drop-rate `for` moved to {minutes}m", replace(
            policy, thresholds={**policy.thresholds, "call_drop_rate": replace(
                drop, for_seconds=minutes * 60.0)}), None, None))
    return found


def _test_file_for(key: str, threshold: float | None, old: float | None) -> str:
    """The row's unit-test file to run against a mutation. For a moved threshold, only the case
    the move must flip: the one whose recorded twilio value lies between the old and the new
    threshold, nearest the new one (running one case instead of the whole file keeps this test
    to a couple of seconds)."""
    doc = yaml.safe_load((TEST_DIR / f"{key}.test.yml").read_text())
    if threshold is None:
        return yaml.safe_dump(doc, sort_keys=False)
    record = catalog.ROWS[key].record
    between, others = [], []
    for index, group in enumerate(doc["tests"]):
        for check in group.get("promql_expr_test", []):
            scaled = re.fullmatch(rf"round\({re.escape(record)} \* (\d+)\)", check["expr"])
            if scaled and check["eval_time"] == "10m":
                for sample in check["exp_samples"]:
                    if sample["labels"] == '{provider="twilio"}':
                        value = sample["value"] / int(scaled[1])
                        inside = min(old, threshold) < value < max(old, threshold)
                        (between if inside else others).append(
                            (abs(value - threshold), index, group))
    doc["tests"] = [min(between or others, key=lambda item: item[:2])[2]]
    return yaml.safe_dump(doc, sort_keys=False)


def _survives(promtool: str, root: Path, mutation: tuple) -> bool:
    """Whether the row's unit tests still pass on the rules rendered from the mutated policy. A
    failure counts only when promtool reports a mismatch ("exp: ... got: ..."), not a broken
    file."""
    key, _, policy, threshold, old = mutation
    (root / "rules").mkdir(parents=True)
    (root / "tests").mkdir()
    text = render_rules_file(rule_groups_for(policy, RenderOptions()))
    assert text != RULES.read_text().split("\n", 1)[1], "the mutation changed nothing"
    (root / "rules" / RULES.name).write_text(text)
    (root / "tests" / f"{key}.test.yml").write_text(_test_file_for(key, threshold, old))
    result = run([promtool, "test", "rules", f"{key}.test.yml"], cwd=root / "tests")
    return not (result.returncode != 0 and "exp:" in result.stdout + result.stderr)


def test_moving_any_threshold_past_a_tested_value_makes_that_rows_unit_tests_fail(
        promtool, policy, tmp_path):
    mutations = _mutations(policy)
    with ThreadPoolExecutor(max_workers=2) as pool:
        survived = list(pool.map(
            lambda indexed: _survives(promtool, tmp_path / f"m{indexed[0]}", indexed[1]),
            enumerate(mutations)))
    survivors = [f"{key}: {what}"
                 for (key, what, *_), alive in zip(mutations, survived, strict=True) if alive]
    assert len(mutations) == 28
    assert survivors == [], "unit tests still pass after: " + "; ".join(survivors)

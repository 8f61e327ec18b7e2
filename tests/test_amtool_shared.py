"""callwatch's part of a shared Alertmanager, merged into another teams' config.

deploy/alertmanager/callwatch-routes.yml (and its golden twin from a policy with a fallback
receiver) is pasted into tests/testdata/foreign-alertmanager.yml as docs/deploy.md says:
callwatch's route first under ``route.routes``, its receivers and inhibit rules appended. Then:

- ``amtool check-config`` accepts the merged config;
- ``amtool config routes test``: every alert callwatch's rules generate (each alertname and
  priority variant, the heartbeat and the self-monitoring alerts included, with the labels the
  rules give them) reaches exactly callwatch's receivers, also when a shared Prometheus adds
  other teams' labels; other teams' alerts, generic alerts with no team label and alerts
  that merely share callwatch's alert names never reach callwatch;
- pasted last instead of first, callwatch's route loses its alerts to a broader route (why
  docs/deploy.md says first);
- a real Alertmanager on the merged config: callwatch's inhibit rules mute callwatch's alerts
  and no other team's.
"""

from __future__ import annotations

import copy
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from callwatch.stack import free_port, start_alertmanager
from policy import load_policy
from policy.render import RenderOptions
from policy.render.rules import RULE_GROUP, rule_groups
from tests.test_amtool import api, output, run, wait_ready

REPO = Path(__file__).resolve().parent.parent
FOREIGN = REPO / "tests" / "testdata" / "foreign-alertmanager.yml"
# (policy, the snippet rendered from it): the shipped one, and the golden one with a fallback
SNIPPETS = {
    "shipped": (REPO / "deploy" / "policy.yaml",
                REPO / "deploy" / "alertmanager" / "callwatch-routes.yml"),
    "with-fallback": (REPO / "tests" / "testdata" / "policy-golden.yaml",
                      REPO / "tests" / "golden" / "default" / "alertmanager"
                      / "callwatch-routes.yml"),
}
# what a Prometheus shared with other teams may add to every alert (external labels)
SHARED_PROMETHEUS_LABELS = {"cluster": "eu-1", "team": "search"}

pytestmark = pytest.mark.binaries


def merge(foreign: dict, snippet: dict, first: bool = True) -> dict:
    """``foreign`` with ``snippet`` pasted in as docs/deploy.md says: the snippet's route first
    in ``route.routes`` (last with ``first=False``), its receivers and inhibit rules appended.
    Two receivers of one name would make Alertmanager refuse the config: an AssertionError."""
    merged = copy.deepcopy(foreign)
    clash = ({r["name"] for r in merged["receivers"]}
             & {r["name"] for r in snippet["receivers"]})
    assert not clash, f"receiver names in both configs: {sorted(clash)}"
    theirs, ours = merged["route"].get("routes", []), snippet["route"]["routes"]
    merged["route"]["routes"] = [*ours, *theirs] if first else [*theirs, *ours]
    merged["receivers"] = [*merged["receivers"], *snippet["receivers"]]
    merged["inhibit_rules"] = [*merged.get("inhibit_rules", []), *snippet["inhibit_rules"]]
    return merged


def merged_file(tmp_path: Path, which: str, first: bool = True) -> Path:
    snippet = yaml.safe_load(SNIPPETS[which][1].read_text())
    path = tmp_path / f"merged-{which}.yml"
    path.write_text(yaml.safe_dump(merge(yaml.safe_load(FOREIGN.read_text()), snippet, first)))
    return path


def routes_test(amtool: str, config: Path, labels: dict) -> subprocess.CompletedProcess:
    return run([amtool, "config", "routes", "test", f"--config.file={config}",
                *[f"{name}={value}" for name, value in labels.items()]])


def callwatch_alerts(which: str) -> list[tuple[str, dict, str]]:
    """(id, labels, the receivers it must reach) for every alert variant the policy's rules
    generate: the rules' own labels, plus a provider for the per-provider telephony alerts."""
    policy = load_policy(SNIPPETS[which][0])
    fallback = policy.alertmanager.fallback_receiver is not None
    cases = {}
    for group in rule_groups(policy, RenderOptions()):
        for rule in group["rules"]:
            if "alert" not in rule:
                continue
            labels = {"alertname": rule["alert"], **rule["labels"]}
            if group["name"] == RULE_GROUP:
                labels.setdefault("provider", "twilio")
            if rule["alert"] == policy.watchdog.alertname:
                receivers = "callwatch-watchdog"
            else:
                own = fallback and labels.get("component") == "callwatch"
                around = ["callwatch-fallback"] if own else []
                receivers = ",".join([*around, f"callwatch-{labels['priority']}"])
            cases[f"{which}:{rule['alert']}:{labels.get('priority', '-')}"] = (labels, receivers)
    return [(case, labels, receivers) for case, (labels, receivers) in cases.items()]


CALLWATCH_CASES = [case for which in SNIPPETS for case in callwatch_alerts(which)]


def test_the_cases_cover_every_kind_of_alert_callwatch_generates():
    names = {labels["alertname"] for _, labels, _ in CALLWATCH_CASES}
    assert {"CallwatchWatchdog", "CallwatchTargetDown", "CallwatchCertificateExpiring",
            "TelephonyServiceDown", "TelephonyCallDropRateHigh"} <= names
    assert any(r.startswith("callwatch-fallback,") for _, _, r in CALLWATCH_CASES)
    assert all(labels.get("managed_by") == "callwatch" for _, labels, _ in CALLWATCH_CASES)


@pytest.mark.parametrize("which", SNIPPETS)
def test_the_merged_config_passes_amtool_check_config(amtool, tmp_path, which):
    result = run([amtool, "check-config", merged_file(tmp_path, which)])
    assert result.returncode == 0, output(result)
    assert "SUCCESS" in result.stdout, output(result)
    assert "4 inhibit rules" in result.stdout, output(result)  # theirs (2) and callwatch's (2)


@pytest.fixture(scope="module")
def merged(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("merged")
    return {which: merged_file(folder, which) for which in SNIPPETS}


@pytest.mark.parametrize(("case", "labels", "receivers"), CALLWATCH_CASES,
                         ids=[case[0] for case in CALLWATCH_CASES])
def test_every_callwatch_alert_reaches_callwatchs_receivers(amtool, merged, case, labels,
                                                            receivers):
    config = merged[case.partition(":")[0]]
    for extra in ({}, SHARED_PROMETHEUS_LABELS):
        result = routes_test(amtool, config, {**labels, **extra})
        assert result.returncode == 0, output(result)
        assert result.stdout.strip() == receivers, (extra, output(result))


OTHER_TEAMS = [
    ("a payments alert with its own priority label",
     {"alertname": "PaymentsLatencyHigh", "team": "payments", "severity": "critical",
      "priority": "P1"}, "payments-pager"),
    ("a search warning", {"alertname": "SearchIndexLag", "team": "search",
                          "severity": "warning"}, "search-chat"),
    ("a search critical", {"alertname": "SearchIndexLag", "team": "search",
                           "severity": "critical"}, "search-pager"),
    ("a service-labelled alert", {"alertname": "BillingApiErrors", "service": "billing-api",
                                  "severity": "warning", "priority": "P2"}, "billing-api-chat"),
    ("a generic critical with no team label",
     {"alertname": "NodeDown", "severity": "critical", "instance": "node-7"}, "platform-pager"),
    ("a generic warning with no team label",
     {"alertname": "DiskFilling", "severity": "warning"}, "platform-default"),
    ("another rule set's always-firing heartbeat", {"alertname": "Watchdog", "severity": "none"},
     "platform-default"),
    ("an alert named like callwatch's, from another rule set",
     {"alertname": "TelephonyCallDropRateHigh", "severity": "critical", "priority": "P1",
      "provider": "twilio"}, "platform-pager"),
    ("an alert named like callwatch's heartbeat, from another rule set",
     {"alertname": "CallwatchWatchdog", "severity": "none", "component": "callwatch"},
     "platform-default"),
]


@pytest.mark.parametrize("which", SNIPPETS)
@pytest.mark.parametrize(("sentence", "labels", "receiver"), OTHER_TEAMS,
                         ids=[case[0] for case in OTHER_TEAMS])
def test_other_teams_alerts_never_reach_callwatch(amtool, merged, which, sentence, labels,
                                                  receiver):
    result = routes_test(amtool, merged[which], labels)
    assert result.returncode == 0, output(result)
    assert result.stdout.strip() == receiver, output(result)


def test_pasted_last_callwatchs_route_loses_its_alerts_to_a_broader_route(amtool, tmp_path):
    # Why docs/deploy.md says first: the other teams' `severity="critical"` route comes earlier
    # and takes callwatch's critical alerts; Alertmanager stops at the first match.
    [(_, labels, _)] = [c for c in CALLWATCH_CASES if c[0] == "shipped:CallwatchTargetDown:P1"]
    result = routes_test(amtool, merged_file(tmp_path, "shipped", first=False), labels)
    assert result.stdout.strip() == "platform-pager", output(result)


def test_merging_refuses_a_receiver_name_both_configs_use():
    snippet = yaml.safe_load(SNIPPETS["shipped"][1].read_text())
    foreign = yaml.safe_load(FOREIGN.read_text())
    foreign["receivers"].append({"name": "callwatch-P1"})
    with pytest.raises(AssertionError, match="callwatch-P1"):
        merge(foreign, snippet)


# ---- inhibit rules, on a real Alertmanager --------------------------------------------------

@pytest.fixture
def shared_alertmanager(alertmanager_bin, tmp_path):
    """A real Alertmanager on the merged shipped config, every receiver a webhook to a closed
    loopback port (nothing leaves the machine; inhibition does not depend on receivers)."""
    config = yaml.safe_load(merged_file(tmp_path, "shipped").read_text())
    config["receivers"] = [{"name": r["name"], "webhook_configs": [
        {"url": "http://127.0.0.1:9/alerts"}]} for r in config["receivers"]]
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config))
    alertmanager = start_alertmanager(alertmanager_bin, path, tmp_path, free_port())
    try:
        wait_ready(alertmanager.url, alertmanager.process)
        yield alertmanager.url
    finally:
        alertmanager.stop()


def states(base: str) -> dict[tuple[str, str, str], str]:
    """(alertname, severity, team or provider) -> "active" or "suppressed"."""
    return {(a["labels"]["alertname"], a["labels"]["severity"],
             a["labels"].get("team") or a["labels"].get("provider", "")): a["status"]["state"]
            for a in api(base, "/api/v2/alerts")}


def settled(base: str, expected: dict, deadline_s: float = 5.0) -> dict:
    """The states once they equal ``expected`` (the inhibitor learns of a source alert a few
    milliseconds after the POST), or the last ones seen at the deadline."""
    deadline = time.monotonic() + deadline_s
    seen = states(base)
    while seen != expected and time.monotonic() < deadline:
        time.sleep(0.05)
        seen = states(base)
    return seen


def ours(name: str, severity: str, provider: str, priority: str) -> dict:
    return {"alertname": name, "severity": severity, "provider": provider,
            "priority": priority, "managed_by": "callwatch"}


def test_callwatchs_inhibit_rules_mute_callwatchs_alerts_and_no_other_teams(
        shared_alertmanager):
    drop = "TelephonyCallDropRateHigh"
    alerts = [
        ours(drop, "critical", "twilio", "P1"), ours(drop, "warning", "twilio", "P3"),
        # another team's twins: no provider on either side would count as equal, so an
        # unscoped "critical mutes its warning twin" rule would mute this warning
        {"alertname": "SearchIndexLag", "severity": "critical", "team": "search"},
        {"alertname": "SearchIndexLag", "severity": "warning", "team": "search"},
        # another team's alert matching alertname=~"Telephony.+"
        {"alertname": "TelephonyGatewayDown", "severity": "warning", "team": "voice-legacy"},
    ]
    api(shared_alertmanager, "/api/v2/alerts", [{"labels": labels} for labels in alerts])
    expected = {
        (drop, "critical", "twilio"): "active",
        (drop, "warning", "twilio"): "suppressed",
        ("SearchIndexLag", "critical", "search"): "active",
        ("SearchIndexLag", "warning", "search"): "active",
        ("TelephonyGatewayDown", "warning", "voice-legacy"): "active",
    }
    assert settled(shared_alertmanager, expected) == expected
    api(shared_alertmanager, "/api/v2/alerts",
        [{"labels": ours("TelephonyServiceDown", "critical", "all", "P0")}])
    expected |= {(drop, "critical", "twilio"): "suppressed",
                 ("TelephonyServiceDown", "critical", "all"): "active"}
    assert settled(shared_alertmanager, expected) == expected

"""amtool and Alertmanager against the generated deploy/alertmanager/alertmanager.yml.

- ``amtool check-config`` accepts it;
- ``amtool config routes test --verify.receivers=...`` sends each case of
  deploy/alertmanager/tests/routes.yml (every priority P0-P3, and alerts without a usable
  priority) to exactly the receiver it names;
- the inhibit rules do what the policy says (a critical silences its warning twin for the same
  alert and provider; TelephonyServiceDown silences every per-provider alert), checked on the
  parsed YAML and on a real Alertmanager holding those alerts.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from callwatch.stack import free_port, start_alertmanager
from policy import catalog
from policy.matchers import matches_all

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "deploy" / "alertmanager" / "alertmanager.yml"
ROUTES = REPO / "deploy" / "alertmanager" / "tests" / "routes.yml"
ROUTE_CASES = yaml.safe_load(ROUTES.read_text())["cases"]

pytestmark = pytest.mark.binaries


def run(args: list) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], cwd=REPO, capture_output=True, text=True,
                          timeout=60, check=False)


def output(result: subprocess.CompletedProcess) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def config() -> dict:
    return yaml.safe_load(CONFIG.read_text())


def test_the_generated_alertmanager_config_passes_amtool_check_config(amtool):
    result = run([amtool, "check-config", CONFIG])
    assert result.returncode == 0, output(result)
    assert "SUCCESS" in result.stdout, output(result)
    assert "2 inhibit rules" in result.stdout, output(result)


def route_test(amtool: str, labels: dict, receiver: str) -> subprocess.CompletedProcess:
    pairs = [f"{name}={value}" for name, value in labels.items()]
    return run([amtool, "config", "routes", "test", f"--config.file={CONFIG}",
                f"--verify.receivers={receiver}", *pairs])


@pytest.mark.parametrize("case", ROUTE_CASES, ids=[case["case"] for case in ROUTE_CASES])
def test_an_alert_reaches_the_receiver_its_priority_names(amtool, case):
    result = route_test(amtool, case["labels"], case["receiver"])
    assert result.returncode == 0, output(result)
    # Exactly that receiver, not that one among others.
    assert result.stdout.strip() == case["receiver"], output(result)


def test_amtool_route_verification_fails_when_the_receiver_is_wrong(amtool):
    # The routing cases above can fail: a P0 alert checked against the P1 receiver does.
    labels = {"alertname": "TelephonyServiceDown", "severity": "critical", "priority": "P0",
              "provider": "all"}
    result = route_test(amtool, labels, "callwatch-P1")
    assert result.returncode != 0, output(result)


# With alertmanager.fallback_receiver (the golden policy names a webhook), callwatch's own alerts
# reach it straight from Alertmanager and callwatch too; the heartbeat and telephony alerts do not.
AROUND = REPO / "tests" / "golden" / "default" / "alertmanager" / "alertmanager.yml"
AROUND_CASES = [
    ("callwatch being down reaches the fallback receiver and callwatch",
     {"alertname": "CallwatchTargetDown", "severity": "critical", "priority": "P1",
      "component": "callwatch", "job": "callwatch"}, "callwatch-fallback,callwatch-P1"),
    ("a certificate warning (P3) of callwatch's reaches the fallback receiver too",
     {"alertname": "CallwatchCertificateExpiring", "severity": "warning", "priority": "P3",
      "component": "callwatch", "target": "app-api"}, "callwatch-fallback,callwatch-P3"),
    ("the heartbeat reaches the watchdog receiver alone, never the fallback",
     {"alertname": "CallwatchWatchdog", "severity": "none", "component": "callwatch"},
     "callwatch-watchdog"),
    ("a telephony alert reaches callwatch alone",
     {"alertname": "TelephonyCallDropRateHigh", "severity": "critical", "priority": "P2",
      "provider": "twilio"}, "callwatch-P2"),
]


@pytest.mark.parametrize(("sentence", "labels", "receivers"), AROUND_CASES,
                         ids=[case[0] for case in AROUND_CASES])
def test_with_a_fallback_receiver_callwatch_alerts_go_around_callwatch(amtool, sentence, labels,
                                                                        receivers):
    result = run([amtool, "config", "routes", "test", f"--config.file={AROUND}",
                  f"--verify.receivers={receivers}",
                  *[f"{name}={value}" for name, value in labels.items()]])
    assert result.returncode == 0, output(result)
    assert result.stdout.strip() == receivers, output(result)


def test_the_fallback_receiver_is_the_policys_webhook_with_resolved_notices():
    [fallback] = [r for r in yaml.safe_load(AROUND.read_text())["receivers"]
                  if r["name"] == "callwatch-fallback"]
    assert fallback == {"name": "callwatch-fallback", "webhook_configs": [
        {"url": "https://hooks.example.com/callwatch-is-down", "send_resolved": True}]}


def test_the_routing_cases_cover_every_priority_of_the_policy(policy):
    covered = {case["labels"].get("priority") for case in ROUTE_CASES
               if case["receiver"] == f"callwatch-{case['labels'].get('priority')}"}
    assert set(policy.priorities) <= covered
    assert any("priority" not in case["labels"] and case["receiver"] == "callwatch-default"
               for case in ROUTE_CASES)


def test_every_receiver_posts_to_callwatch_with_resolved_notifications_and_a_bearer_file(policy):
    receivers = {receiver["name"]: receiver for receiver in config()["receivers"]}
    assert set(receivers) == {"callwatch-default", "callwatch-watchdog"} | {
        f"callwatch-{p}" for p in policy.priorities}
    for receiver in receivers.values():
        (webhook,) = receiver["webhook_configs"]
        assert webhook["url"].endswith("/alerts")
        assert webhook["send_resolved"] is True
        assert webhook["http_config"]["authorization"]["type"] == "Bearer"
        assert "credentials_file" in webhook["http_config"]["authorization"]


def test_alerts_are_grouped_per_alert_and_provider_so_twins_share_a_group():
    # and per drill label: a drill never joins the real incident of the same alert
    assert config()["route"]["group_by"] == ["alertname", "provider", "drill"]


# ---- inhibit rules, on the parsed YAML ------------------------------------------------------

def inhibits(source: dict, target: dict) -> bool:
    """Whether any inhibit rule in the config lets firing ``source`` mute ``target``
    (Alertmanager semantics: a label missing on both sides counts as equal)."""
    for rule in config()["inhibit_rules"]:
        if (matches_all(tuple(rule["source_matchers"]), source)
                and matches_all(tuple(rule["target_matchers"]), target)
                and all(source.get(name, "") == target.get(name, "")
                        for name in rule.get("equal", []))
                and source != target):
            return True
    return False


def alert(name: str, severity: str, provider: str, priority: str = "P3") -> dict:
    return {"alertname": name, "severity": severity, "provider": provider, "priority": priority}


SERVICE_DOWN = alert(catalog.SERVICE_DOWN_ALERT, "critical", "all", "P0")
ROW_ALERTS = sorted({row.alert for row in catalog.ROWS.values()})


def test_there_are_exactly_the_two_intended_inhibit_rules():
    rules = config()["inhibit_rules"]
    assert rules == [
        {"source_matchers": ['severity="critical"'], "target_matchers": ['severity="warning"'],
         "equal": ["alertname", "provider"]},
        {"source_matchers": ['alertname="TelephonyServiceDown"'],
         "target_matchers": ['alertname=~"Telephony.+"', 'alertname!="TelephonyServiceDown"']},
    ]


@pytest.mark.parametrize("name", ROW_ALERTS)
def test_a_critical_inhibits_its_warning_twin_for_the_same_provider_only(name, policy):
    for provider in policy.providers:
        critical = alert(name, "critical", provider, "P1")
        assert inhibits(critical, alert(name, "warning", provider))
        assert not inhibits(alert(name, "warning", provider), critical)
        for other in set(policy.providers) - {provider}:
            assert not inhibits(critical, alert(name, "warning", other))
        for other_name in set(ROW_ALERTS) - {name}:
            assert not inhibits(critical, alert(other_name, "warning", provider))


@pytest.mark.parametrize("name", ROW_ALERTS)
def test_service_down_inhibits_every_per_provider_alert(name, policy):
    for provider in policy.providers:
        for severity in ("warning", "critical"):
            assert inhibits(SERVICE_DOWN, alert(name, severity, provider))


def test_service_down_does_not_inhibit_itself_or_alerts_from_other_rule_sets():
    assert not inhibits(SERVICE_DOWN, dict(SERVICE_DOWN))
    assert not inhibits(SERVICE_DOWN, {"alertname": "NodeDown", "severity": "warning"})


# ---- inhibit rules, on a real Alertmanager --------------------------------------------------

def api(base: str, path: str, body: object | None = None) -> object:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        text = response.read().decode()
    return json.loads(text) if text.strip() else None


def wait_ready(base: str, process: subprocess.Popen, deadline_s: float = 15.0) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"alertmanager exited with {process.returncode}")
        try:
            api(base, "/api/v2/status")
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("alertmanager did not answer /api/v2/status in time")


@pytest.fixture
def alertmanager(alertmanager_bin, tmp_path):
    """A real Alertmanager on the generated config. Only the webhook URL (to a closed loopback
    port, so nothing leaves the machine) and the token file path differ from the committed file."""
    token = tmp_path / "token"
    token.write_text("test-token")
    cfg = config()
    for receiver in cfg["receivers"]:
        for webhook in receiver["webhook_configs"]:
            webhook["url"] = "http://127.0.0.1:9/alerts"
            webhook["http_config"]["authorization"]["credentials_file"] = str(token)
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(cfg))
    alertmanager = start_alertmanager(alertmanager_bin, path, tmp_path, free_port())
    try:
        wait_ready(alertmanager.url, alertmanager.process)
        yield alertmanager.url
    finally:
        alertmanager.stop()


def states(base: str) -> dict[tuple[str, str, str], str]:
    """(alertname, severity, provider) -> "active" or "suppressed", as Alertmanager sees it."""
    return {(a["labels"]["alertname"], a["labels"]["severity"], a["labels"]["provider"]):
            a["status"]["state"] for a in api(base, "/api/v2/alerts")}


def settles_to(base: str, expected: dict, deadline_s: float = 5.0) -> dict:
    """The alert states once they equal ``expected``, or the last ones seen at the deadline: the
    inhibitor learns of a new source alert asynchronously, a few milliseconds after the POST."""
    deadline = time.monotonic() + deadline_s
    seen = states(base)
    while seen != expected and time.monotonic() < deadline:
        time.sleep(0.05)
        seen = states(base)
    return seen


def post(base: str, *alerts: dict) -> None:
    api(base, "/api/v2/alerts", [{"labels": labels} for labels in alerts])


def test_a_real_alertmanager_suppresses_warning_twins_and_everything_under_service_down(
        alertmanager):
    drop = "TelephonyCallDropRateHigh"
    post(alertmanager, alert(drop, "critical", "twilio", "P1"), alert(drop, "warning", "twilio"),
         alert(drop, "warning", "telnyx"), alert("TelephonyErrorRateHigh", "warning", "twilio"))
    expected = {
        (drop, "critical", "twilio"): "active",
        (drop, "warning", "twilio"): "suppressed",       # its critical twin fires
        (drop, "warning", "telnyx"): "active",           # another provider
        ("TelephonyErrorRateHigh", "warning", "twilio"): "active",  # another alert
    }
    assert settles_to(alertmanager, expected) == expected
    post(alertmanager, SERVICE_DOWN)
    expected = {
        (drop, "critical", "twilio"): "suppressed",
        (drop, "warning", "twilio"): "suppressed",
        (drop, "warning", "telnyx"): "suppressed",
        ("TelephonyErrorRateHigh", "warning", "twilio"): "suppressed",
        (catalog.SERVICE_DOWN_ALERT, "critical", "all"): "active",
    }
    assert settles_to(alertmanager, expected) == expected

"""PagerDuty with the real ``pagerduty`` client over TLS against the simulator's Events API v2."""

from __future__ import annotations

import pytest

from receiver.notify.base import Notification, NotifyError
from receiver.notify.pagerduty import PagerDutyNotifier, PagerDutySettings, trigger_event


def note(kind: str, priority: str = "P1") -> Notification:
    return Notification(
        id=f"n-{kind}", incident_id="inc-42", channel="pagerduty", kind=kind, priority=priority,
        summary="Call drop rate critical on twilio", text="6.2% of answered calls dropped",
        provider="twilio", dedup_key="callwatch-inc-42",
        links={"runbook": "https://runbooks.example/drop", "dashboard": "https://grafana.example/d/1",
               "incident": "https://callwatch.example/incidents/inc-42"},
        details={"alertname": "TelephonyCallDropRateHigh", "value": "6.2%"})


def notifier_for(sim, **overrides) -> PagerDutyNotifier:
    values = {"base_url": sim.pagerduty_url, "ca_file": sim.pagerduty_ca_file,
              "sleep_timer": 0.01}
    values.update(overrides)
    return PagerDutyNotifier(PagerDutySettings(sim.env()["PAGERDUTY_ROUTING_KEY"], **values))


async def test_trigger_acknowledge_resolve_share_one_dedup_key_over_tls(sim):
    notifier = notifier_for(sim)
    try:
        refs = [(await notifier.send(note(kind))).ref
                for kind in ("trigger", "acknowledge", "resolve")]
    finally:
        await notifier.close()
    assert refs == ["callwatch-inc-42"] * 3
    alert = sim.pagerduty.alerts["callwatch-inc-42"]
    assert alert.status == "resolved" and sim.pagerduty.opened == 1
    trigger = sim.pagerduty.events[0]
    actions = [e["event_action"] for e in sim.pagerduty.events]
    assert actions == ["trigger", "acknowledge", "resolve"]
    assert trigger["payload"]["severity"] == "critical"
    assert trigger["payload"]["custom_details"]["incident_id"] == "inc-42"
    assert trigger["payload"]["custom_details"]["value"] == "6.2%"
    assert {link["text"] for link in trigger["links"]} == {"Runbook", "Dashboard", "Incident"}


async def test_an_update_retriggers_the_same_alert_instead_of_opening_another(sim):
    notifier = notifier_for(sim)
    await notifier.send(note("trigger"))
    await notifier.send(note("update", priority="P0"))
    await notifier.close()
    assert sim.pagerduty.opened == 1 and len(sim.pagerduty.alerts) == 1


@pytest.mark.parametrize(("priority", "severity"), [
    ("P0", "critical"), ("P1", "critical"), ("P2", "error"), ("P3", "warning")])
def test_our_priority_maps_to_the_pagerduty_severity(priority, severity):
    assert trigger_event(note("trigger", priority), "k", "callwatch")["severity"] == severity


async def test_an_untrusted_certificate_is_a_config_error_not_a_retry(sim):
    notifier = notifier_for(sim, ca_file=None)
    with pytest.raises(NotifyError) as caught:
        await notifier.send(note("trigger"))
    await notifier.close()
    assert (caught.value.reason, caught.value.retryable) == ("config", False)


def test_a_plain_http_base_url_is_refused_at_construction():
    with pytest.raises(ValueError, match="https"):
        PagerDutyNotifier(PagerDutySettings("key-1234", base_url="http://127.0.0.1:1"))


async def test_rate_limit_retries_are_capped_and_the_send_ends_retryable(sim):
    sim.fail("pagerduty", 429, count=10)
    notifier = notifier_for(sim, rate_limit_retries=2)
    with pytest.raises(NotifyError) as caught:
        await notifier.send(note("trigger"))
    await notifier.close()
    assert (caught.value.reason, caught.value.retryable) == ("rate_limited", True)
    assert len(sim.requests("pagerduty")) == 3  # the first try and two retries, then we give up


async def test_the_notifier_outage_scenario_is_a_retryable_server_error(sim):
    sim.set_scenario("notifier-outage")
    notifier = notifier_for(sim)
    with pytest.raises(NotifyError) as caught:
        await notifier.send(note("trigger"))
    await notifier.close()
    assert (caught.value.reason, caught.value.retryable) == ("server_error", True)

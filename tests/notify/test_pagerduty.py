"""PagerDuty over TLS with the real ``pagerduty`` client: trigger then resolve on one dedup_key."""

from __future__ import annotations

import pytest

from receiver.notify.base import Notification, NotifyError
from receiver.notify.pagerduty import PagerDutyNotifier, trigger_event
from tests.notify.standins import StandIn, pagerduty_app

ROUTING_KEY = "R0UTINGKEY-pd-secret-0123456789"


def note(kind: str, priority: str = "P1", **extra) -> Notification:
    return Notification(
        id=f"n-{kind}", incident_id="inc-42", channel="pagerduty", kind=kind, priority=priority,
        summary="Call drop rate critical on twilio", text="6.2% of answered calls dropped",
        provider="twilio", dedup_key="callwatch-inc-42",
        links={"runbook": "https://runbooks.example/drop", "dashboard": "https://grafana.example/d/1",
               "incident": "https://callwatch.example/incidents/inc-42"},
        details={"alertname": "TelephonyCallDropRateHigh", "value": "6.2%"}, **extra)


async def test_trigger_then_resolve_share_one_dedup_key_over_tls(serve, tls, certs):
    stand = StandIn()
    url = await serve(pagerduty_app(stand), tls)
    notifier = PagerDutyNotifier(ROUTING_KEY, base_url=url, ca_file=certs[0])
    try:
        first = await notifier.send(note("trigger"))
        second = await notifier.send(note("resolve"))
    finally:
        await notifier.close()
    assert first.ref == second.ref == "callwatch-inc-42"
    assert first.via == "pagerduty"
    trigger, resolve = (r.body for r in stand.requests)
    assert trigger["event_action"] == "trigger" and resolve["event_action"] == "resolve"
    assert trigger["dedup_key"] == resolve["dedup_key"] == "callwatch-inc-42"
    assert trigger["routing_key"] == resolve["routing_key"] == ROUTING_KEY
    assert trigger["payload"]["severity"] == "critical"
    assert trigger["payload"]["custom_details"]["incident_id"] == "inc-42"
    assert trigger["payload"]["custom_details"]["value"] == "6.2%"
    assert {link["text"] for link in trigger["links"]} == {"Runbook", "Dashboard", "Incident"}


@pytest.mark.parametrize(("priority", "severity"), [
    ("P0", "critical"), ("P1", "critical"), ("P2", "error"), ("P3", "warning")])
def test_our_priority_maps_to_the_pagerduty_severity(priority, severity):
    assert trigger_event(note("trigger", priority), "k", "callwatch")["severity"] == severity


async def test_an_untrusted_certificate_is_a_config_error_not_a_retry(serve, tls):
    url = await serve(pagerduty_app(StandIn()), tls)
    notifier = PagerDutyNotifier(ROUTING_KEY, base_url=url, sleep_timer=0.01)
    try:
        with pytest.raises(NotifyError) as caught:
            await notifier.send(note("trigger"))
    finally:
        await notifier.close()
    assert (caught.value.reason, caught.value.retryable) == ("config", False)


def test_a_plain_http_base_url_is_refused_at_construction():
    with pytest.raises(ValueError, match="https"):
        PagerDutyNotifier(ROUTING_KEY, base_url="http://127.0.0.1:1")


async def test_rate_limit_retries_are_capped_and_the_send_ends_retryable(serve, tls, certs):
    stand = StandIn(failures=[(429, {"status": "throttled"})] * 10)
    url = await serve(pagerduty_app(stand), tls)
    notifier = PagerDutyNotifier(ROUTING_KEY, base_url=url, ca_file=certs[0],
                                 rate_limit_retries=2, sleep_timer=0.01)
    try:
        with pytest.raises(NotifyError) as caught:
            await notifier.send(note("trigger"))
    finally:
        await notifier.close()
    assert (caught.value.reason, caught.value.retryable) == ("rate_limited", True)
    assert len(stand.requests) == 3  # the first try and two retries, then we give up

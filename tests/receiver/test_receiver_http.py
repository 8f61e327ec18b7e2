"""Receiver metrics, readiness and the read-only incident API."""

from __future__ import annotations

import asyncio
import json

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from callwatch.web import create_app
from receiver.app import setup_receiver
from receiver.http.common import RECEIVER
from tests.receiver.conftest import auth
from tests.receiver.standins import alert, payload
from tests.receiver.test_dispatcher import BlockedNotifier


def samples(text: str) -> dict[tuple, float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def metrics(client) -> dict[tuple, float]:
    return samples(await (await client.get("/metrics")).text())


async def settle(client, condition, timeout=5.0):
    for _ in range(int(timeout / 0.05)):
        current = await metrics(client)
        if condition(current):
            return current
        await asyncio.sleep(0.05)
    shown = {k: v for k, v in current.items()
             if k[0].startswith(("callwatch_notif", "callwatch_outbox", "callwatch_incidents"))}
    raise AssertionError(f"metrics never reached the expected state: {shown}")


async def test_metrics_follow_an_incident_from_opening_to_resolution(make_client, clock):
    client = await make_client()
    first = await metrics(client)
    assert first[("callwatch_policy_load_success", ())] == 1
    assert first[("callwatch_incidents_open", (("priority", "P1"),))] == 0
    assert first[("callwatch_response_sla_breaches_total", (("priority", "P0"),))] == 0
    await client.post("/alerts", data=json.dumps(payload(alert("TelephonyProviderHealthLow"))),
                      headers=auth())
    opened = await settle(client, lambda m: m.get(
        ("callwatch_notifications_total", (("channel", "email"), ("outcome", "sent")))) == 1
        and m.get(("callwatch_notifications_total", (("channel", "slack"),
                                                     ("outcome", "sent")))) == 1
        and m[("callwatch_incidents_open", (("priority", "P1"),))] == 1
        and m[("callwatch_outbox_pending", ())] == 0)
    assert opened[("callwatch_alertmanager_deliveries_total", (("result", "accepted"),))] == 1
    clock.advance(600)  # resolved after 10 minutes, before the team lead's 15-minute step
    await client.post("/alerts", data=json.dumps(payload(
        alert("TelephonyProviderHealthLow", status="resolved"))), headers=auth())
    done = await settle(client, lambda m: m[("callwatch_incidents_open", (("priority", "P1"),))]
                        == 0 and m[("callwatch_outbox_pending", ())] == 0
                        and m[("callwatch_notifications_total",
                               (("channel", "email"), ("outcome", "sent")))] == 2)
    assert done[("callwatch_incident_resolve_seconds_count", (("priority", "P1"),))] == 1
    assert done[("callwatch_incident_resolve_seconds_sum", (("priority", "P1"),))] == 600
    assert done[("callwatch_incident_resolve_seconds_bucket",
                 (("le", "600.0"), ("priority", "P1")))] == 1
    assert done[("callwatch_incident_resolve_seconds_bucket",
                 (("le", "300.0"), ("priority", "P1")))] == 0
    assert done[("callwatch_notifications_total",
                 (("channel", "slack"), ("outcome", "sent")))] == 2


async def test_the_waiting_gauges_show_a_page_and_an_escalation_step_left_waiting(
        make_client, recorders, clock):
    slack = BlockedNotifier("slack")                     # the Slack page hangs in flight
    client = await make_client(notifiers={**recorders, "slack": slack})
    state = client.app[RECEIVER]
    state.escalation.stop()                              # and nothing fires the steps
    await asyncio.sleep(0.1)
    await client.post("/alerts", data=json.dumps(payload(alert("TelephonyProviderHealthLow"))),
                      headers=auth())                    # P1: its first step is due at once
    async with asyncio.timeout(5):
        await slack.started.wait()
    await state.dispatcher.refresh_gauges()
    waiting = ("callwatch_outbox_oldest_pending_age_seconds", ())
    overdue = ("callwatch_escalation_overdue_seconds", ())
    first = await metrics(client)
    assert (first[waiting], first[overdue]) == (0, 0)
    clock.advance(42)
    await state.dispatcher.refresh_gauges()
    stuck = await metrics(client)
    assert (stuck[waiting], stuck[overdue]) == (42, 42)
    slack.release.set()
    assert await state.escalation.run_once() == 1        # the step fires: PagerDuty is paged
    await settle(client, lambda m: m[("callwatch_outbox_pending", ())] == 0)
    await state.dispatcher.refresh_gauges()
    done = await metrics(client)
    assert (done[waiting], done[overdue]) == (0, 0)


async def test_readiness_reports_the_store_and_the_policy(make_client):
    client = await make_client()
    response = await client.get("/readyz")
    body = await response.json()
    assert response.status == 200
    assert body["checks"]["store"] == {"ok": True, "detail": "sqlite"}
    assert body["checks"]["policy"]["ok"] is True
    await client.app[RECEIVER].store.close()             # the store goes away
    response = await client.get("/readyz")
    body = await response.json()
    assert response.status == 503 and body["checks"]["store"]["ok"] is False


def broken_factory(policy, environ):
    """A notifier factory that fails (CALLWATCH_NOTIFIER_FACTORY points here in a test)."""
    raise RuntimeError("the SMTP relay's certificate is missing")


def not_a_mapping_factory(policy, environ):
    return ["slack"]


@pytest.mark.parametrize(("factory", "detail"), [
    ("receiver.notify.registri:build_notifiers", "ModuleNotFoundError"),
    ("receiver.notify.registry:build_notifier", "AttributeError"),
    ("tests.receiver.test_receiver_http:broken_factory", "certificate is missing"),
    ("tests.receiver.test_receiver_http:not_a_mapping_factory", "not a mapping"),
])
async def test_a_notifier_set_that_could_not_be_built_is_not_ready(
        aiohttp_client, policy, receiver_env, factory, detail):
    app = create_app(policy, CollectorRegistry())
    setup_receiver(app, {**receiver_env, "CALLWATCH_NOTIFIER_FACTORY": factory})
    client = await aiohttp_client(app)
    response = await client.get("/readyz")
    body = await response.json()
    assert response.status == 503
    assert body["checks"]["notifiers"]["ok"] is False
    assert factory in body["checks"]["notifiers"]["detail"]
    assert detail in body["checks"]["notifiers"]["detail"]
    assert body["checks"]["store"]["ok"] is True


async def test_the_default_notifier_set_is_ready_and_names_channels_without_secrets(
        aiohttp_client, policy, receiver_env):
    app = create_app(policy, CollectorRegistry())
    setup_receiver(app, receiver_env)  # no notifier secrets in the environment
    client = await aiohttp_client(app)
    response = await client.get("/readyz")
    checks = (await response.json())["checks"]
    assert response.status == 200 and checks["notifiers"]["ok"] is True
    assert checks["notifiers"]["detail"] == "5 channel(s); not configured: pagerduty, slack, phone"


async def test_a_channel_without_a_notifier_is_not_ready(make_client, recorders):
    client = await make_client(notifiers={k: v for k, v in recorders.items() if k != "phone"})
    response = await client.get("/readyz")
    checks = (await response.json())["checks"]
    assert response.status == 503
    assert checks["notifiers"] == {"ok": False, "detail": "no notifier for channel(s): phone"}


async def test_the_incident_api_lists_and_shows_incidents(make_client):
    client = await make_client()
    for name in ("A", "B"):
        await client.post("/alerts", data=json.dumps(payload(alert(name), group=name)),
                          headers=auth())
    listed = (await (await client.get("/incidents")).json())["incidents"]
    assert len(listed) == 2
    for field in ("id", "priority", "state", "summary", "group_key", "opened_at"):
        assert all(field in item for item in listed)
    # the group key without its Alertmanager route (one incident across priority routes)
    assert {i["group_key"] for i in listed} == {'{alertname="A"}', '{alertname="B"}'}
    assert listed[0]["opened_at"].endswith("Z") and listed[0]["state"] == "triggered"
    detail = await (await client.get(f"/incidents/{listed[0]['id']}")).json()
    assert detail["id"] == listed[0]["id"] and detail["timeline"][0]["kind"] == "opened"
    assert {n["channel"] for n in detail["notifications"]} == {"slack", "email"}
    filtered = await (await client.get("/incidents?state=resolved")).json()
    assert filtered == {"incidents": [], "next": None}


async def test_the_incident_api_answers_bad_requests_with_json(make_client):
    client = await make_client()
    missing = await client.get("/incidents/nope")
    assert missing.status == 404
    assert await missing.json() == {"error": "not_found", "detail": "no incident with id 'nope'"}
    for query, words in (("state=open", "state: must be one of"), ("limit=0", "limit: must be"),
                         ("limit=abc", "limit: must be")):
        response = await client.get(f"/incidents?{query}")
        body = await response.json()
        assert response.status == 400 and words in body["detail"], query
        assert body["error"] == "invalid_request" and body["field"] == query.split("=")[0]


async def test_an_unreadable_secret_file_stops_setup_with_a_clear_message(make_client, tmp_path):
    with pytest.raises(SystemExit) as stopped:
        await make_client(env={"CALLWATCH_RECEIVER_TOKEN": "",
                               "CALLWATCH_RECEIVER_TOKEN_FILE": str(tmp_path / "missing")})
    assert "CALLWATCH_RECEIVER_TOKEN" in str(stopped.value) and "missing" in str(stopped.value)


async def test_a_bad_setting_stops_setup_naming_the_variable(make_client):
    with pytest.raises(SystemExit) as stopped:
        await make_client(env={"CALLWATCH_OUTBOX_LEASE_SECONDS": "soon"})
    assert "CALLWATCH_OUTBOX_LEASE_SECONDS" in str(stopped.value)

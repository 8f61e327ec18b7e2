"""Escalation running in the receiver: durable timers in the store, an injected clock."""

from __future__ import annotations

import asyncio
import dataclasses
import json

from prometheus_client import CollectorRegistry

from callwatch.web import create_app
from receiver.app import setup_receiver
from receiver.http.common import RECEIVER
from receiver.services.escalation import EscalationWorker
from receiver.services.metrics import ReceiverMetrics
from tests.receiver.conftest import auth
from tests.receiver.standins import alert, payload

MINUTE = 60.0


async def _open(client, name="TelephonyProviderHealthLow", **labels) -> str:
    body = payload(alert(name, **labels), group=name)
    response = await client.post("/alerts", data=json.dumps(body), headers=auth())
    assert response.status == 200
    incidents = await (await client.get("/incidents")).json()
    return incidents["incidents"][0]["id"]


async def _sent(recorders, channel: str, kind: str, timeout: float = 5.0, count: int = 1):
    """The notifications of ``kind`` on ``channel``, once at least ``count`` arrived."""
    for _ in range(int(timeout / 0.05)):
        found = [n for n in recorders[channel].sent if n.kind == kind]
        if len(found) >= count:
            return found
        await asyncio.sleep(0.05)
    return [n for n in recorders[channel].sent if n.kind == kind]


async def _timeline_kinds(client, incident_id: str) -> list[str]:
    body = await (await client.get(f"/incidents/{incident_id}")).json()
    return [event["kind"] for event in body["timeline"]]


async def test_a_p1_pages_pagerduty_at_once_besides_its_route(make_client, recorders, clock):
    client = await make_client()
    await _open(client)
    assert len(await _sent(recorders, "pagerduty", "escalate")) == 1
    assert len(await _sent(recorders, "slack", "trigger")) == 1
    # The route already posted to Slack for the on-call: the first level adds no second post.
    assert await _sent(recorders, "slack", "escalate", timeout=0.3) == []


async def test_a_p1_nobody_acknowledges_for_16_minutes_reaches_the_team_lead(
        make_client, recorders, clock):
    client = await make_client()
    incident_id = await _open(client)
    await _sent(recorders, "pagerduty", "escalate")
    clock.advance(16 * MINUTE)
    (slack,) = await _sent(recorders, "slack", "escalate")
    (phone,) = await _sent(recorders, "phone", "escalate")
    assert slack.recipients == ("@team-lead",)
    assert phone.recipients == ("+15005550002",)
    assert "Escalated to L2 (Team Lead)" in phone.text
    assert (await _timeline_kinds(client, incident_id)).count("escalated") == 2


async def test_the_response_sla_breach_is_counted_when_the_deadline_passes(
        make_client, recorders, clock):
    client = await make_client()
    incident_id = await _open(client)
    clock.advance(31 * MINUTE)
    for _ in range(100):
        if "sla_breached" in await _timeline_kinds(client, incident_id):
            break
        await asyncio.sleep(0.05)
    metrics = await (await client.get("/metrics")).text()
    assert 'callwatch_response_sla_breaches_total{priority="P1"} 1.0' in metrics


async def test_a_resolved_incident_escalates_no_further(make_client, recorders, clock):
    client = await make_client()
    incident_id = await _open(client)
    await _sent(recorders, "pagerduty", "escalate")
    body = payload(alert("TelephonyProviderHealthLow", status="resolved"),
                   group="TelephonyProviderHealthLow")
    assert (await client.post("/alerts", data=json.dumps(body), headers=auth())).status == 200
    clock.advance(120 * MINUTE)
    await asyncio.sleep(0.5)  # several worker passes at the fake clock's new time
    assert await _sent(recorders, "phone", "escalate", timeout=0.2) == []
    assert "escalated" in await _timeline_kinds(client, incident_id)
    assert "sla_breached" not in await _timeline_kinds(client, incident_id)


async def test_a_restart_at_minute_14_still_escalates_at_minute_15(
        aiohttp_client, policy, receiver_env, recorders, clock):
    async def start():
        app = create_app(policy, CollectorRegistry())
        setup_receiver(app, receiver_env, notifiers=recorders, clock=clock)
        return await aiohttp_client(app, headers=auth())

    first = await start()
    await _open(first)
    await _sent(recorders, "pagerduty", "escalate")
    clock.advance(14 * MINUTE)
    await first.close()                      # the process goes away at minute 14
    await start()                            # a new one on the same store
    clock.advance(1 * MINUTE)
    assert len(await _sent(recorders, "phone", "escalate")) == 1


async def test_two_workers_on_one_store_fire_a_step_once(make_client, recorders, clock, policy):
    client = await make_client()
    await _open(client)
    await _sent(recorders, "pagerduty", "escalate")
    state = client.app[RECEIVER]
    workers = [EscalationWorker(state.store, policy, ReceiverMetrics(CollectorRegistry()),
                                worker=f"w{n}", clock=clock) for n in (1, 2)]
    clock.advance(16 * MINUTE)
    incident_id = (await state.store.list_incidents())[0].id

    async def l2_events() -> int:
        timeline = await state.store.timeline(incident_id)
        return sum(1 for e in timeline if e.detail.get("key") == "engineering:L2")

    # Three workers race for the step: the app's own and two more on the same store.
    for _ in range(100):
        await asyncio.gather(*(w.run_once() for w in workers))
        if await l2_events():
            break
        await asyncio.sleep(0.05)
    await asyncio.gather(*(w.run_once() for w in workers))
    assert await l2_events() == 1


async def test_a_twilio_outage_lasting_30_minutes_drafts_the_vendor_email(
        make_client, recorders, clock):
    client = await make_client()
    incident_id = await _open(client)           # TelephonyProviderHealthLow on twilio
    await _sent(recorders, "pagerduty", "escalate")
    clock.advance(29 * MINUTE)
    await asyncio.sleep(0.3)
    drafts = [n for n in recorders["email"].sent if "URGENT" in n.text]
    assert drafts == []                          # not yet: Twilio's criterion is 30 minutes
    clock.advance(2 * MINUTE)
    for _ in range(100):
        drafts = [n for n in recorders["email"].sent if "URGENT" in n.text]
        if drafts:
            break
        await asyncio.sleep(0.05)
    (draft,) = drafts
    assert "Twilio" in draft.text and draft.recipients == ("oncall@example.com",)
    assert "vendor_escalation" in await _timeline_kinds(client, incident_id)


def test_an_incident_that_fires_again_pages_its_people_again() -> None:
    from receiver.domain.escalation import done_keys
    from receiver.domain.model import Event

    timeline = [Event("i", 1.0, "opened", "alertmanager"),
                Event("i", 2.0, "escalated", "escalation", {"key": "engineering:L1"}),
                Event("i", 3.0, "resolved", "alertmanager"),
                Event("i", 4.0, "reopened", "alertmanager")]
    assert done_keys(timeline[:2]) == {"engineering:L1"}
    assert done_keys(timeline) == set()


async def test_with_pagerduty_owning_escalation_a_p1_is_handed_to_pagerduty_once(
        make_client, recorders, clock, policy):
    owned = dataclasses.replace(policy, escalation=dataclasses.replace(
        policy.escalation, owner="pagerduty"))
    client = await make_client(policy=owned)
    incident_id = await _open(client)
    assert len(await _sent(recorders, "pagerduty", "trigger")) == 1
    clock.advance(61 * MINUTE)          # past L2 (15m) and the P1 deadline's L3 (1h)
    # the business chain still runs: the operations manager hears after an hour
    emails = await _sent(recorders, "email", "escalate", count=2)
    assert any("Business escalation L1" in n.details.get("note", "") for n in emails)
    await asyncio.sleep(0.3)
    pagerduty = [n.kind for n in recorders["pagerduty"].sent]
    assert pagerduty == ["trigger"]                                  # paged once, by PagerDuty
    assert await _sent(recorders, "phone", "escalate", timeout=0.2) == []   # no L2/L3 calls
    body = await (await client.get(f"/incidents/{incident_id}")).json()
    chains = [e["detail"]["chain"] for e in body["timeline"] if e["kind"] == "escalated"]
    assert chains == ["business"]
    await client.post(f"/incidents/{incident_id}/ack", json={"by": "Ada"}, headers=auth())
    assert len(await _sent(recorders, "pagerduty", "acknowledge")) == 1

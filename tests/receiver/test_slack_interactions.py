"""Slack both ways at the wire: pages carry buttons, a signed click acts as the Slack user,
forged, stale and replayed clicks change nothing, and mentions notify."""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import urlencode

import pytest
from slack_sdk.signature import SignatureVerifier

from tests.receiver.conftest import auth
from tests.receiver.standins import alert, payload

SECRET = "slack-signing-secret-1234"


def click(action_id: str, incident_id: str, *, trigger="T1", user=("U0ADA", "ada"),
          response_url: str | None = None) -> bytes:
    body = {"type": "block_actions", "trigger_id": trigger,
            **({"response_url": response_url} if response_url else {}),
            "user": {"id": user[0], "username": user[1], "name": user[1]},
            "container": {"type": "message", "message_ts": "1.000100", "channel_id": "C0INC"},
            "channel": {"id": "C0INC", "name": "incidents"},
            "actions": [{"action_id": action_id, "value": incident_id, "type": "button",
                         "block_id": "callwatch_actions", "action_ts": "2.000200"}]}
    return urlencode({"payload": json.dumps(body)}).encode()


def signed(body: bytes, at: float, secret: str = SECRET) -> dict[str, str]:
    stamp = str(int(at))
    return {"X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": SignatureVerifier(secret).generate_signature(
                timestamp=stamp, body=body),
            "Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
async def client(make_client):
    return await make_client(env={"SLACK_SIGNING_SECRET": SECRET})


async def opened(client, priority="P1") -> str:
    response = await client.post("/alerts", json=payload(alert(priority=priority)),
                                 headers=auth())
    return (await response.json())["incident"]


async def detail(client, incident_id) -> dict:
    return await (await client.get(f"/incidents/{incident_id}")).json()


async def test_clicking_acknowledge_acts_as_the_slack_user_and_tells_the_other_channels(
        client, clock, recorders):
    incident_id = await opened(client)
    response = await client.post("/slack/interactions", data=click("callwatch_ack", incident_id),
                                 headers=signed(click("callwatch_ack", incident_id), clock()))
    assert (response.status, (await response.json())["status"]) == (200, "acknowledged")
    body = await detail(client, incident_id)
    assert (body["state"], body["acked_by"]) == ("acknowledged", "ada (Slack U0ADA)")
    acked = next(e for e in body["timeline"] if e["kind"] == "acknowledged")
    assert acked["detail"]["via"] == "slack"
    for _ in range(100):
        if any(n.kind == "acknowledge" for n in recorders["slack"].sent):
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("Slack was not told of the acknowledgement")


async def test_clicking_escalate_pages_the_next_level_and_resolve_resolves(client, clock):
    incident_id = await opened(client)
    body = click("callwatch_escalate", incident_id, trigger="T2")
    response = await client.post("/slack/interactions", data=body, headers=signed(body, clock()))
    assert (await response.json())["status"] == "escalated"
    timeline = (await detail(client, incident_id))["timeline"]
    assert any(e["kind"] == "escalation_requested" and e["detail"]["level"] == "L2"
               for e in timeline)
    body = click("callwatch_resolve", incident_id, trigger="T3")
    response = await client.post("/slack/interactions", data=body, headers=signed(body, clock()))
    assert (await response.json())["status"] == "resolved"
    assert (await detail(client, incident_id))["state"] == "resolved"


@pytest.mark.parametrize(("sentence", "age", "secret"), [
    ("a click signed with another secret", 0, "another-secret-9999"),
    ("a click signed five minutes and one second ago", 301, SECRET),
])
async def test_a_forged_or_stale_click_is_401_and_changes_nothing(client, clock, sentence, age,
                                                                  secret):
    incident_id = await opened(client)
    body = click("callwatch_ack", incident_id)
    response = await client.post("/slack/interactions", data=body,
                                 headers=signed(body, clock() - age, secret))
    assert response.status == 401, sentence
    assert (await response.json())["error"] == "unauthorized"
    assert (await detail(client, incident_id))["state"] == "triggered"
    metrics = await (await client.get("/metrics")).text()
    assert 'callwatch_callback_signature_failures_total{source="slack"} 1.0' in metrics


async def test_a_replayed_click_is_409(client, clock):
    incident_id = await opened(client)
    body = click("callwatch_ack", incident_id)
    first = await client.post("/slack/interactions", data=body, headers=signed(body, clock()))
    again = await client.post("/slack/interactions", data=body, headers=signed(body, clock()))
    assert (first.status, again.status, (await again.json())["error"]) == (200, 409, "replayed")


async def test_a_click_on_an_incident_already_acknowledged_says_so(client, clock):
    incident_id = await opened(client)
    await client.post(f"/incidents/{incident_id}/ack", json={"by": "Bob"}, headers=auth())
    body = click("callwatch_ack", incident_id)
    response = await client.post("/slack/interactions", data=body, headers=signed(body, clock()))
    assert (await response.json())["status"] == "conflict"
    assert (await detail(client, incident_id))["acked_by"] == "Bob"


async def test_clicks_without_a_signing_secret_are_503(make_client):
    client = await make_client()
    response = await client.post("/slack/interactions", data=click("callwatch_ack", "x"),
                                 headers=signed(click("callwatch_ack", "x"), time.time()))
    assert (response.status, (await response.json())["error"]) == (503, "not_configured")

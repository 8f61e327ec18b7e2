"""POST /webhooks/pagerduty: a signed acknowledgement acts like ours, minus the echo back."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from tests.receiver.test_actions import call, detail, open_incident, rows

SECRET = "pd-webhook-secret-91"
ROTATED = "pd-webhook-secret-new"


def event(incident_key: str | None, event_type: str = "incident.acknowledged") -> bytes:
    data = {"id": "PGR0VU2", "type": "incident", "status": "acknowledged",
            "title": "TelephonyServiceDown on twilio"}
    if incident_key is not None:
        data["incident_key"] = incident_key
    return json.dumps({"event": {
        "id": "5ac64822-4adc-4fda-ade0-410becf0de4f", "event_type": event_type,
        "resource_type": "incident", "occurred_at": "2026-11-27T03:10:22.169Z",
        "agent": {"id": "PLH1HKV", "summary": "Tenex Engineer", "type": "user_reference"},
        "client": {"name": "PagerDuty"}, "data": data}}).encode()


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-PagerDuty-Signature": f"v1={digest}", "Content-Type": "application/json"}


async def deliver(client, body: bytes, headers: dict[str, str]):
    response = await client.post("/webhooks/pagerduty", data=body, headers=headers)
    return response.status, await response.json()


@pytest.fixture
async def pd_client(make_client):
    return await make_client(env={"PAGERDUTY_WEBHOOK_SECRET": f"{SECRET}, {ROTATED}"})


async def test_a_signed_acknowledgement_acks_without_echoing_to_pagerduty(pd_client):
    incident_id = await open_incident(pd_client)  # P0: pagerduty, slack, phone
    status, body = await deliver(pd_client, event(incident_id), signed(event(incident_id)))
    assert (status, body["status"], body["incident"]) == (200, "acknowledged", incident_id)
    found = await detail(pd_client, incident_id)
    assert (found["state"], found["acked_by"]) == ("acknowledged", "Tenex Engineer (PagerDuty)")
    assert rows(found, "acknowledge") == ["slack"]


async def test_a_signature_made_with_the_rotated_secret_is_accepted(pd_client):
    incident_id = await open_incident(pd_client)
    body = event(incident_id)
    status, _ = await deliver(pd_client, body, signed(body, ROTATED))
    assert status == 200 and (await detail(pd_client, incident_id))["state"] == "acknowledged"


async def test_a_signed_resolution_resolves_without_echoing_to_pagerduty(pd_client):
    incident_id = await open_incident(pd_client)
    body = event(incident_id, "incident.resolved")
    status, answer = await deliver(pd_client, body, signed(body))
    assert (status, answer["status"]) == (200, "resolved")
    found = await detail(pd_client, incident_id)
    assert found["state"] == "resolved" and rows(found, "resolve") == ["phone", "slack"]


@pytest.mark.parametrize("headers", [
    pytest.param(lambda b: signed(b, "forged-secret"), id="a signature under another secret"),
    pytest.param(lambda b: signed(b + b" "), id="a signature over another body"),
    pytest.param(lambda b: {"Content-Type": "application/json"}, id="no signature at all"),
    pytest.param(lambda b: {"X-PagerDuty-Signature": "v1=zz"}, id="a garbage signature"),
])
async def test_a_forged_or_missing_signature_is_401_and_changes_nothing(pd_client, headers):
    incident_id = await open_incident(pd_client)
    body = event(incident_id)
    status, answer = await deliver(pd_client, body, headers(body))
    assert (status, answer["error"]) == (401, "unauthorized")
    assert "X-PagerDuty-Signature" in answer["detail"]
    assert (await detail(pd_client, incident_id))["state"] == "triggered"


async def test_without_a_configured_secret_every_delivery_is_401_with_a_hint(make_client):
    client = await make_client()
    incident_id = await open_incident(client)
    body = event(incident_id)
    status, answer = await deliver(client, body, signed(body))
    assert status == 401 and "PAGERDUTY_WEBHOOK_SECRET" in answer["detail"]


async def test_the_secret_can_come_from_a_file(make_client, tmp_path):
    secret_file = tmp_path / "pd"
    secret_file.write_text(SECRET + "\n")
    client = await make_client(env={"PAGERDUTY_WEBHOOK_SECRET_FILE": str(secret_file)})
    incident_id = await open_incident(client)
    body = event(incident_id)
    assert (await deliver(client, body, signed(body)))[0] == 200


@pytest.mark.parametrize("body,status_word", [
    pytest.param(event("no-such-incident"), "ignored", id="an unknown incident key is ignored"),
    pytest.param(event(None), "ignored", id="an event without incident key is ignored"),
    pytest.param(event("x", "incident.annotated"), "ignored",
                 id="an event type we do not act on is ignored"),
])
async def test_deliveries_we_cannot_use_are_200_so_pagerduty_stops_retrying(pd_client, body,
                                                                            status_word):
    status, answer = await deliver(pd_client, body, signed(body))
    assert (status, answer["status"]) == (200, status_word)


async def test_an_acknowledgement_of_an_acknowledged_incident_is_a_200_no_op(pd_client):
    incident_id = await open_incident(pd_client)
    await call(pd_client, f"/incidents/{incident_id}/ack", {"by": "Ada"})
    body = event(incident_id)
    status, answer = await deliver(pd_client, body, signed(body))
    assert (status, answer["status"]) == (200, "no-op")
    found = await detail(pd_client, incident_id)
    assert found["acked_by"] == "Ada" and rows(found, "acknowledge") == ["pagerduty", "slack"]


async def test_a_signed_but_malformed_delivery_is_400_naming_the_field(pd_client):
    body = json.dumps({"event": {"event_type": "incident.acknowledged"}}).encode()
    status, answer = await deliver(pd_client, body, signed(body))
    assert (status, answer["error"]) == (400, "missing_field")
    assert "event.id" in answer["detail"]

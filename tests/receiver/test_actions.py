"""POST /incidents/{id}/ack, /resolve and POST /incidents: state, outbox rows, timers, 4xx."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from receiver.domain.model import Changes, Timer
from receiver.http.common import RECEIVER
from tests.receiver.conftest import TOKEN, auth

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"alertmanager-{name}.json").read_text())


async def open_incident(client, name: str = "firing") -> str:
    response = await client.post("/alerts", data=json.dumps(fixture(name)), headers=auth())
    assert response.status == 200
    return (await response.json())["incident"]


async def call(client, path: str, body=None, *, headers=None, raw: bytes | None = None):
    response = await client.post(path, data=raw if raw is not None else json.dumps(body),
                                 headers=auth() if headers is None else headers)
    return response.status, await response.json()


async def detail(client, incident_id: str) -> dict:
    return await (await client.get(f"/incidents/{incident_id}")).json()


def rows(body: dict, kind: str) -> list[str]:
    return sorted(n["channel"] for n in body["notifications"] if n["kind"] == kind)


def registry_of(client) -> CollectorRegistry:
    from callwatch.web import REGISTRY

    return client.app[REGISTRY]


async def test_acknowledging_records_the_actor_and_tells_every_paged_channel(make_client, clock):
    client = await make_client()
    incident_id = await open_incident(client)  # P0 TelephonyServiceDown: pagerduty, slack, phone
    clock.advance(240)
    status, body = await call(client, f"/incidents/{incident_id}/ack", {"by": "Ada"})
    assert status == 200
    assert (body["id"], body["state"], body["acked_by"]) == (incident_id, "acknowledged", "Ada")
    assert body["acked_at"] is not None
    found = await detail(client, incident_id)
    assert rows(found, "trigger") == ["pagerduty", "phone", "slack"]
    assert rows(found, "acknowledge") == ["pagerduty", "slack"]  # nobody is rung to hear it
    event = [e for e in found["timeline"] if e["kind"] == "acknowledged"]
    assert len(event) == 1 and event[0]["actor"] == "Ada"
    assert event[0]["detail"]["after_seconds"] == 240


async def test_acknowledging_reschedules_the_escalation_timer_due_now(make_client, clock):
    client = await make_client()
    incident_id = await open_incident(client)
    store = client.app[RECEIVER].store
    # the escalation worker's pending timer for L2 at minute 15
    await store.apply_incident(incident_id, clock.now, lambda snap: Changes(
        incident=snap.incident, timers=[Timer("l2-timer", incident_id, "escalation",
                                              clock.now + 900)]))
    clock.advance(60)
    assert (await call(client, f"/incidents/{incident_id}/ack", {"by": "Ada"}))[0] == 200
    timers = [t for t in await store.timers_for(incident_id) if t.id != "l2-timer"]
    # (the timer started at opening is there too, fired or cancelled by now)
    assert ("escalation", clock.now) in [(t.kind, t.due_at) for t in timers]
    claimed = await store.claim_timers("test", clock.now + 1000, 60, 10)
    assert "l2-timer" not in [t.id for t in claimed]  # the L2 timer was cancelled


async def test_the_mtta_histogram_is_observed_once_per_acknowledgement(make_client, clock):
    client = await make_client()
    incident_id = await open_incident(client)
    clock.advance(120)
    await call(client, f"/incidents/{incident_id}/ack", {"by": "Ada"})
    await call(client, f"/incidents/{incident_id}/ack", {"by": "Bob"})  # 409, not observed
    registry = registry_of(client)
    count = registry.get_sample_value("callwatch_incident_ack_seconds_count", {"priority": "P0"})
    total = registry.get_sample_value("callwatch_incident_ack_seconds_sum", {"priority": "P0"})
    assert (count, total) == (1.0, 120.0)


async def test_acknowledging_twice_is_409_naming_who_and_when(make_client):
    client = await make_client()
    incident_id = await open_incident(client)
    first = await call(client, f"/incidents/{incident_id}/ack", {"by": "Ada"})
    status, body = await call(client, f"/incidents/{incident_id}/ack", {"by": "Bob"})
    assert (status, body["error"]) == (409, "conflict")
    assert body["detail"] == (f"incident {incident_id} was already acknowledged by Ada at "
                              f"{first[1]['acked_at']}")
    assert rows(await detail(client, incident_id), "acknowledge") == ["pagerduty", "slack"]


async def test_resolving_by_hand_tells_every_paged_channel_and_cancels_timers(make_client, clock):
    client = await make_client()
    incident_id = await open_incident(client)
    await call(client, f"/incidents/{incident_id}/ack", {"by": "Ada"})  # leaves a pending timer
    clock.advance(600)
    status, body = await call(client, f"/incidents/{incident_id}/resolve", {"by": "Ada"})
    assert (status, body["state"]) == (200, "resolved")
    found = await detail(client, incident_id)
    assert rows(found, "resolve") == ["pagerduty", "phone", "slack"]
    store = client.app[RECEIVER].store
    assert await store.claim_timers("test", clock.now + 1, 60, 10) == []
    registry = registry_of(client)
    assert registry.get_sample_value("callwatch_incident_resolve_seconds_sum",
                                     {"priority": "P0"}) == 600.0


async def test_an_acknowledged_incident_can_still_be_resolved(make_client):
    client = await make_client()
    incident_id = await open_incident(client)
    await call(client, f"/incidents/{incident_id}/ack", {"by": "Ada"})
    status, body = await call(client, f"/incidents/{incident_id}/resolve", {"by": "Ada"})
    assert (status, body["state"], body["acked_by"]) == (200, "resolved", "Ada")


@pytest.mark.parametrize("action", ["ack", "resolve"])
async def test_acting_on_a_resolved_incident_is_409_naming_who_resolved_it(make_client, action):
    client = await make_client()
    incident_id = await open_incident(client)
    resolved = await call(client, f"/incidents/{incident_id}/resolve", {"by": "Grace"})
    status, body = await call(client, f"/incidents/{incident_id}/{action}", {"by": "Bob"})
    assert (status, body["error"]) == (409, "conflict")
    assert body["detail"].startswith(f"incident {incident_id} was already resolved by Grace at "
                                     f"{resolved[1]['resolved_at']}")
    if action == "ack":
        assert "cannot be acknowledged" in body["detail"]


async def test_an_incident_resolved_by_alertmanager_names_alertmanager_in_the_409(make_client):
    client = await make_client()
    incident_id = await open_incident(client, "grouped")
    await client.post("/alerts", data=json.dumps(fixture("grouped-resolved")), headers=auth())
    status, body = await call(client, f"/incidents/{incident_id}/ack", {"by": "Bob"})
    assert status == 409 and "already resolved by alertmanager" in body["detail"]


@pytest.mark.parametrize("action", ["ack", "resolve"])
async def test_an_unknown_incident_is_404_naming_the_id(make_client, action):
    client = await make_client()
    status, body = await call(client, f"/incidents/nope-123/{action}", {"by": "Ada"})
    assert (status, body["error"]) == (404, "not_found")
    assert "nope-123" in body["detail"]


@pytest.mark.parametrize("path", ["/incidents/x/ack", "/incidents/x/resolve", "/incidents"])
@pytest.mark.parametrize("headers", [
    pytest.param({}, id="no credentials"),
    pytest.param({"Authorization": "Bearer wrong"}, id="a wrong token"),
    pytest.param({"Authorization": f"Token {TOKEN}"}, id="another scheme"),
])
async def test_every_action_without_the_right_credentials_is_401(make_client, path, headers):
    client = await make_client(anonymous=True)
    status, body = await call(client, path, {"by": "Ada"}, headers=headers)
    assert (status, body["error"]) == (401, "unauthorized")
    assert body["detail"] == ("invalid credentials" if headers else "missing credentials: send "
                              "Authorization: Bearer <CALLWATCH_RECEIVER_TOKEN>")


@pytest.mark.parametrize("body,field,message", [
    pytest.param({}, "by", "required field missing", id="a missing by is refused"),
    pytest.param({"by": ""}, "by", "non-empty string", id="an empty by is refused"),
    pytest.param({"by": "   "}, "by", "non-empty string", id="a blank by is refused"),
    pytest.param({"by": 7}, "by", "non-empty string", id="a numeric by is refused"),
    pytest.param({"by": "x" * 101}, "by", "at most 100", id="a 101-character by is refused"),
    pytest.param(["Ada"], "$", "JSON object", id="a JSON array is refused"),
])
async def test_a_bad_action_body_is_400_naming_the_field(make_client, body, field, message):
    client = await make_client()
    incident_id = await open_incident(client)
    status, answer = await call(client, f"/incidents/{incident_id}/ack", body)
    assert (status, answer["error"], answer["field"]) == (400, "invalid_request", field)
    assert message in answer["detail"]
    assert (await detail(client, incident_id))["state"] == "triggered"


async def test_malformed_json_is_400(make_client):
    client = await make_client()
    incident_id = await open_incident(client)
    status, body = await call(client, f"/incidents/{incident_id}/ack", raw=b"{by: Ada")
    assert (status, body["error"]) == (400, "invalid_json")


async def test_a_100_character_name_is_accepted(make_client):
    client = await make_client()
    incident_id = await open_incident(client)
    status, body = await call(client, f"/incidents/{incident_id}/ack", {"by": "n" * 100})
    assert status == 200 and body["acked_by"] == "n" * 100


DECLARED = {"summary": "Customer data exposed through a call recording link",
            "priority": "P0", "description": "Recording URLs were public for two hours",
            "by": "Grace"}


async def test_declaring_an_incident_routes_it_and_schedules_escalation(make_client, clock):
    client = await make_client()
    status, body = await call(client, "/incidents", DECLARED)
    assert status == 201
    assert (body["priority"], body["state"], body["summary"]) == (
        "P0", "triggered", DECLARED["summary"])
    assert body["group_key"] == f"manual:{body['id']}"
    found = await detail(client, body["id"])
    assert rows(found, "trigger") == ["pagerduty", "phone", "slack"]  # the P0 route
    opened = found["timeline"][0]
    assert (opened["kind"], opened["actor"]) == ("opened", "Grace")
    assert opened["detail"]["description"] == DECLARED["description"]
    timers = await client.app[RECEIVER].store.timers_for(body["id"])
    # the one started at opening (fired at once by the escalation worker), then its successor
    assert (timers[0].kind, timers[0].due_at) == ("escalation", clock.now)
    listed = (await (await client.get("/incidents")).json())["incidents"]
    assert [i["id"] for i in listed] == [body["id"]]


async def test_a_declared_p2_goes_to_the_p2_route_and_carries_its_provider(make_client):
    client = await make_client()
    status, body = await call(client, "/incidents", {**DECLARED, "priority": "P2",
                                                     "provider": "telnyx"})
    assert (status, body["provider"]) == (201, "telnyx")
    assert rows(await detail(client, body["id"]), "trigger") == ["email", "slack"]


@pytest.mark.parametrize("change,field", [
    pytest.param({"summary": None}, "summary", id="a missing summary is refused"),
    pytest.param({"summary": ""}, "summary", id="an empty summary is refused"),
    pytest.param({"priority": "P5"}, "priority", id="priority P5 is refused"),
    pytest.param({"priority": None}, "priority", id="a missing priority is refused"),
    pytest.param({"priority": 0}, "priority", id="a numeric priority is refused"),
    pytest.param({"description": None}, "description", id="a missing description is refused"),
    pytest.param({"provider": "vonage"}, "provider", id="an unknown provider is refused"),
    pytest.param({"by": "x" * 101}, "by", id="a 101-character by is refused"),
])
async def test_a_bad_declaration_is_400_naming_the_field(make_client, change, field):
    client = await make_client()
    body = {k: v for k, v in {**DECLARED, **change}.items() if v is not None}
    status, answer = await call(client, "/incidents", body)
    assert (status, answer["error"], answer["field"]) == (400, "invalid_request", field)
    assert answer["detail"].startswith(f"{field}: ")
    assert (await (await client.get("/incidents")).json())["incidents"] == []


@pytest.mark.parametrize("path", ["/incidents/x/ack", "/incidents", "/webhooks/pagerduty"])
async def test_a_body_over_the_size_limit_is_413(make_client, path):
    client = await make_client(max_body=2048, env={"PAGERDUTY_WEBHOOK_SECRET": "s"})
    status, body = await call(client, path, {"by": "A" * 4000, "summary": "x"})
    assert (status, body["error"]) == (413, "payload_too_large")
    assert "2048 bytes" in body["detail"]

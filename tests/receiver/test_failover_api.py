"""POST /incidents/{id}/failover against a local aiohttp server playing the team's failover
endpoint: it checks the HMAC signature and the idempotency key of what it receives. The
approval rule, dry runs, rollback, retries, the timeline, and the secret kept out of answers
and logs."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import logging

import pytest
from aiohttp import web

from policy.model import Failover, Remediation
from receiver.services import failover as service

SECRET = "team-failover-secret-0042"


class TeamEndpoint:
    """The team's endpoint: records every request, answers ``statuses`` in turn (then 200)."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.statuses: list[int] = []

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        expected = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
        body = json.loads(raw)
        self.received.append({"body": body, "key": request.headers.get("Idempotency-Key"),
                              "signed": hmac.compare_digest(
                                  request.headers.get("X-Callwatch-Signature", ""), expected)})
        if self.statuses:
            return web.Response(status=self.statuses.pop(0))
        return web.json_response({"ok": True})


@pytest.fixture
async def team(aiohttp_server):
    endpoint = TeamEndpoint()
    app = web.Application()
    app.router.add_post("/failover", endpoint.handle)
    server = await aiohttp_server(app)
    endpoint.url = str(server.make_url("/failover"))
    return endpoint


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch):
    monkeypatch.setattr(service, "BACKOFF", 0.0)


async def start(make_client, policy, team, approval=True, secret=SECRET):
    spec = Failover(webhook=team.url, requires_approval=approval,
                    secret_env="TEAM_FAILOVER_SECRET")
    env = {"TEAM_FAILOVER_SECRET": secret} if secret else {}
    client = await make_client(
        policy=dataclasses.replace(policy, remediation=Remediation(failover=spec)), env=env)
    answer = await client.post("/incidents", json={
        "summary": "calls failing", "priority": "P1", "provider": "twilio",
        "description": "Outbound calls fail", "by": "Ada"})
    assert answer.status == 201, await answer.text()
    return client, (await answer.json())["id"]


async def kinds(client, incident: str) -> list[tuple[str, str]]:
    detail = await (await client.get(f"/incidents/{incident}")).json()
    return [(e["kind"], e["actor"]) for e in detail["timeline"] if e["kind"].startswith("failover")]


ASK = {"from": "twilio", "to": "telnyx"}


async def test_a_failover_waits_for_a_second_person_then_calls_the_signed_webhook_once(
        make_client, policy, team, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    client, incident = await start(make_client, policy, team)
    first = await client.post(f"/incidents/{incident}/failover", json={**ASK, "by": "Ada"})
    assert first.status == 202 and (await first.json())["state"] == "pending"
    assert team.received == []
    again = await client.post(f"/incidents/{incident}/failover", json={**ASK, "by": " ada"})
    assert again.status == 409 and (await again.json())["error"] == "conflict"
    team.statuses = [503]                           # the first call meets an outage: retried
    approved = await client.post(f"/incidents/{incident}/failover", json={**ASK, "by": "Bob"})
    body = await approved.json()
    assert approved.status == 200, body
    assert body["state"] == "sent" and body["attempts"] == 2 and body["approved_by"] == "Bob"
    assert len(team.received) == 2 and all(r["signed"] for r in team.received)
    key = body["idempotency_key"]
    assert {r["key"] for r in team.received} == {key}
    assert team.received[0]["body"] == {"incident": incident, "from": "twilio", "to": "telnyx",
                                        "by": "Ada", "approved_by": "Bob", "rollback": False,
                                        "idempotency_key": key}
    assert await kinds(client, incident) == [
        ("failover_requested", "Ada"), ("failover_approved", "Bob"),
        ("failover_sent", "callwatch")]
    assert caplog.records and not any(SECRET in str(r.__dict__) for r in caplog.records)


async def test_a_dry_run_shows_what_would_be_sent_and_sends_and_records_nothing(
        make_client, policy, team) -> None:
    client, incident = await start(make_client, policy, team, approval=False)
    answer = await client.post(f"/incidents/{incident}/failover",
                               json={**ASK, "by": "Ada", "dry_run": True})
    body = await answer.json()
    assert answer.status == 200 and body["state"] == "dry_run" and body["action"] == "send"
    sent = body["would_send"]
    assert sent["url"] == team.url and sent["body"]["from"] == "twilio"
    assert sent["headers"]["X-Callwatch-Signature"] == "sha256=[redacted]"
    assert sent["headers"]["Idempotency-Key"] == sent["body"]["idempotency_key"]
    assert SECRET not in json.dumps(body)
    assert team.received == [] and await kinds(client, incident) == []


async def test_without_approval_a_failover_and_its_rollback_are_sent_at_once(
        make_client, policy, team) -> None:
    client, incident = await start(make_client, policy, team, approval=False)
    out = await client.post(f"/incidents/{incident}/failover", json={**ASK, "by": "Ada"})
    back = await client.post(f"/incidents/{incident}/failover", json={
        "from": "telnyx", "to": "twilio", "by": "Ada", "rollback": True})
    assert out.status == 200 and back.status == 200
    first, second = (r["body"] for r in team.received)
    assert (first["rollback"], second["rollback"]) == (False, True)
    assert (second["from"], second["to"], second["approved_by"]) == ("telnyx", "twilio", None)
    assert first["idempotency_key"] != second["idempotency_key"]


async def test_a_refused_webhook_is_recorded_failed_and_a_retry_keeps_the_key(
        make_client, policy, team) -> None:
    client, incident = await start(make_client, policy, team, approval=False)
    team.statuses = [400]                            # a 4xx is not retried
    failed = await client.post(f"/incidents/{incident}/failover", json={**ASK, "by": "Ada"})
    assert failed.status == 502 and (await failed.json())["error"] == "webhook_failed"
    retried = await client.post(f"/incidents/{incident}/failover", json={**ASK, "by": "Ada"})
    assert retried.status == 200
    assert len(team.received) == 2 and team.received[0]["key"] == team.received[1]["key"]
    assert [k for k, _ in await kinds(client, incident)] == [
        "failover_requested", "failover_failed", "failover_sent"]


async def test_a_missing_secret_is_named_never_shown_and_nothing_is_sent(
        make_client, policy, team, caplog) -> None:
    client, incident = await start(make_client, policy, team, approval=False, secret=None)
    answer = await client.post(f"/incidents/{incident}/failover", json={**ASK, "by": "Ada"})
    body = await answer.json()
    assert answer.status == 503 and body["error"] == "secret_missing"
    assert "TEAM_FAILOVER_SECRET" in body["detail"] and team.received == []
    assert [k for k, _ in await kinds(client, incident)] == [
        "failover_requested", "failover_failed"]


BAD = {
    "an unknown provider": {"from": "twilio", "to": "vonage", "by": "Ada"},
    "the same provider twice": {"from": "twilio", "to": "twilio", "by": "Ada"},
    "no one named": {"from": "twilio", "to": "telnyx"},
    "a string for a flag": {"from": "twilio", "to": "telnyx", "by": "Ada", "dry_run": "yes"},
    "an unknown field": {"from": "twilio", "to": "telnyx", "by": "Ada", "force": True},
}


@pytest.mark.parametrize("body", BAD.values(), ids=BAD)
async def test_bad_input_is_a_400_naming_the_field(make_client, policy, team, body) -> None:
    client, incident = await start(make_client, policy, team)
    answer = await client.post(f"/incidents/{incident}/failover", json=body)
    assert answer.status == 400 and (await answer.json())["error"] == "invalid_request"


async def test_unknown_incident_404_and_no_policy_section_409(make_client, policy, team) -> None:
    client, _ = await start(make_client, policy, team)
    missing = await client.post("/incidents/nope/failover", json={**ASK, "by": "Ada"})
    assert missing.status == 404
    bare = await make_client()
    answer = await bare.post("/incidents/nope/failover", json={**ASK, "by": "Ada"})
    assert answer.status == 409 and (await answer.json())["error"] == "not_configured"

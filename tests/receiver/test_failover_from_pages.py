"""The guarded provider failover offered where the on-call person is: a "Fail over to telnyx"
button on the Slack page and "press 3" on the call, only for an incident about one provider
and only with the policy's remediation.failover. A signed click requests it, a second person's
click approves it and the team's endpoint (a local aiohttp server, tests/receiver/
test_failover_api.py) receives one signed call; pressing 3 requests it as the called person."""

from __future__ import annotations

import dataclasses

import pytest
from aiohttp import web

from policy.model import Failover, Remediation
from receiver.domain import failover, pages, render
from receiver.domain.communications import Communications
from receiver.services import failover as service
from tests.receiver.conftest import ON_CALL, eventually
from tests.receiver.test_failover_api import SECRET, team  # noqa: F401  (the fixture)
from tests.receiver.test_page_words import POLICY, buttons, facts
from tests.receiver.test_slack_interactions import click, signed
from tests.receiver.test_voice_callbacks import PUBLIC, TOKEN, CallPlacer, paged, twilio

SPEC = Failover(webhook="https://calls.example/failover", requires_approval=True)
WITH = dataclasses.replace(POLICY, remediation=Remediation(failover=SPEC))
MENU_3 = ("Press 1 to acknowledge. Press 2 to escalate to the next level. Press 3 to fail "
          "over from twilio to telnyx. Press 9 to hear this again.")


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch):
    monkeypatch.setattr(service, "BACKOFF", 0.0)


def page(policy, provider, channel="slack", kind="trigger") -> render.Rendered:
    return render.render_page(Communications(), {**facts(kind, channel), "provider": provider},
                              policy, channel, kind, interactive=True)


# --- when it is offered ------------------------------------------------------------------------

@pytest.mark.parametrize(("sentence", "policy", "provider", "expected"), [
    ("one provider, with remediation.failover", WITH, "twilio", ("twilio", "telnyx")),
    ("the other provider, with remediation.failover", WITH, "telnyx", ("telnyx", "twilio")),
    ("all providers", WITH, "all", None),
    ("no provider", WITH, None, None),
    ("a provider the policy does not list", WITH, "vonage", None),
    ("one provider, without remediation.failover", POLICY, "twilio", None),
])
def test_a_failover_is_offered_only_for_one_provider_of_a_policy_with_remediation_failover(
        sentence, policy, provider, expected):
    assert failover.offered(policy, provider) == expected, sentence


def test_the_slack_page_carries_a_fail_over_button_naming_the_other_provider_when_offered():
    blocks = page(WITH, "twilio").blocks
    assert buttons(blocks) == [
        ("callwatch_ack", "01J0ABCDEF"), ("callwatch_escalate", "01J0ABCDEF"),
        ("callwatch_failover", "01J0ABCDEF"), ("callwatch_resolve", "01J0ABCDEF")]
    [label] = [e["text"]["text"] for b in blocks if b["type"] == "actions"
               for e in b["elements"] if e["action_id"] == "callwatch_failover"]
    assert label == "Fail over to telnyx"
    for policy, provider in ((WITH, "all"), (WITH, None), (POLICY, "twilio")):
        assert "callwatch_failover" not in [a for a, _ in buttons(page(policy, provider).blocks)]


def test_the_acknowledged_slack_message_keeps_the_fail_over_button_so_a_second_person_can_approve():
    edited = page(WITH, "twilio", kind="acknowledge").edit_blocks
    assert buttons(edited) == [("callwatch_failover", "01J0ABCDEF"),
                               ("callwatch_resolve", "01J0ABCDEF")]


def test_the_call_menu_offers_key_3_only_when_a_failover_is_offered():
    assert page(WITH, "twilio", "phone").menu == MENU_3
    assert page(WITH, "all", "phone").menu == pages.MENU
    assert page(POLICY, "twilio", "phone").menu == pages.MENU
    assert page(WITH, "twilio", "email").menu == ""
    assert pages.key_action("3", failover=True) == "failover"
    assert pages.key_action("3") == "repeat"


# --- Slack: request, then a second person approves ---------------------------------------------

async def twilio_incident_with_failover(make_client, policy, endpoint):
    """A receiver whose policy fails over through ``endpoint``, and a P1 about Twilio on it."""
    spec = Failover(webhook=endpoint.url, requires_approval=True, secret_env="TEAM_FAILOVER_SECRET")
    client = await make_client(
        policy=dataclasses.replace(policy, remediation=Remediation(failover=spec)),
        env={"SLACK_SIGNING_SECRET": "slack-signing-secret-1234",
             "TEAM_FAILOVER_SECRET": SECRET})
    answer = await client.post("/incidents", json={
        "summary": "calls failing", "priority": "P1", "provider": "twilio",
        "description": "Outbound calls fail", "by": "Ada"})
    return client, (await answer.json())["id"]


async def test_a_slack_click_requests_the_failover_and_a_second_persons_click_sends_it_once(
        make_client, policy, team, clock):  # noqa: F811
    client, incident = await twilio_incident_with_failover(make_client, policy, team)

    async def clicked(trigger, user) -> dict:
        body = click("callwatch_failover", incident, trigger=trigger, user=user)
        response = await client.post("/slack/interactions", data=body,
                                     headers=signed(body, clock()))
        assert response.status == 200
        return await response.json()

    first = await clicked("T1", ("U0ADA", "ada"))
    assert (first["status"], first["response_type"]) == ("pending", "ephemeral")
    assert "twilio to telnyx" in first["text"] and team.received == []
    again = await clicked("T2", ("U0ADA", "ada"))      # the requester cannot approve it
    assert again["status"] == "refused" and "different person" in again["text"]
    second = await clicked("T3", ("U0BOB", "bob"))
    assert second["status"] == "sent"
    [call] = team.received
    assert call["signed"] and call["body"]["by"] == "ada (Slack U0ADA)"
    assert (call["body"]["from"], call["body"]["to"], call["body"]["approved_by"]) == (
        "twilio", "telnyx", "bob (Slack U0BOB)")
    timeline = (await (await client.get(f"/incidents/{incident}")).json())["timeline"]
    assert [(e["kind"], e["actor"]) for e in timeline if e["kind"].startswith("failover")] == [
        ("failover_requested", "ada (Slack U0ADA)"), ("failover_approved", "bob (Slack U0BOB)"),
        ("failover_sent", "callwatch")]


async def test_a_fail_over_click_on_an_incident_about_no_one_provider_is_not_offered(
        make_client, policy, clock):
    client = await make_client(
        policy=dataclasses.replace(policy, remediation=Remediation(failover=SPEC)),
        env={"SLACK_SIGNING_SECRET": "slack-signing-secret-1234"})
    answer = await client.post("/incidents", json={
        "summary": "calls failing", "priority": "P1", "description": "everything",
        "by": "Ada"})
    incident = (await answer.json())["id"]
    body = click("callwatch_failover", incident)
    response = await client.post("/slack/interactions", data=body, headers=signed(body, clock()))
    assert (await response.json())["status"] == "not_offered"


# --- Phone: pressing 3 -------------------------------------------------------------------------

async def test_pressing_3_on_the_call_requests_the_failover_as_the_person_who_was_called(
        make_client, policy, recorders, team):  # noqa: F811
    recorders["phone"] = CallPlacer("phone")
    spec = Failover(webhook=team.url, requires_approval=True, secret_env="TEAM_FAILOVER_SECRET")
    client = await make_client(
        policy=dataclasses.replace(policy, remediation=Remediation(failover=spec)),
        env={"CALLWATCH_PUBLIC_URL": PUBLIC, "TWILIO_AUTH_TOKEN": TOKEN,
             "TEAM_FAILOVER_SECRET": SECRET})
    incident, call = await paged(client, recorders)
    assert call.menu == MENU_3                      # the call is placed saying it
    path = f"/voice/twilio/gather?page={call.page}&attempt=1&round=1"
    status, twiml = await twilio(client, path, {"CallSid": "CA1", "Digits": "3"})
    assert status == 200
    assert "Failover from twilio to telnyx requested" in twiml and "Press 3" in twiml
    timeline = (await (await client.get(f"/incidents/{incident}")).json())["timeline"]
    assert [(e["kind"], e["actor"], e["detail"]["from"], e["detail"]["to"]) for e in timeline
            if e["kind"].startswith("failover")] == [
        ("failover_requested", ON_CALL.name, "twilio", "telnyx")]
    assert team.received == []


async def test_pressing_3_without_remediation_failover_repeats_the_page(make_client, recorders):
    recorders["phone"] = CallPlacer("phone")
    client = await make_client(env={"CALLWATCH_PUBLIC_URL": PUBLIC, "TWILIO_AUTH_TOKEN": TOKEN})
    incident, call = await paged(client, recorders)
    assert call.menu == pages.MENU
    path = f"/voice/twilio/gather?page={call.page}&attempt=1&round=1"
    status, twiml = await twilio(client, path, {"CallSid": "CA1", "Digits": "3"})
    assert status == 200 and "Press 3" not in twiml and "<Gather" in twiml
    timeline = (await (await client.get(f"/incidents/{incident}")).json())["timeline"]
    assert not [e for e in timeline if e["kind"].startswith("failover")]


# --- Slack: answered at once, the outcome posted to the click's response_url ------------------

@pytest.fixture
async def slack_responses(aiohttp_server):
    """A stand-in for Slack's response_url: records what the receiver posts there."""
    posted: list[dict] = []

    async def respond(request: web.Request) -> web.Response:
        posted.append(await request.json())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/response/{id}", respond)
    server = await aiohttp_server(app)
    return posted, str(server.make_url("/response/r1"))


async def test_a_slack_click_is_answered_at_once_and_the_outcome_goes_to_its_response_url(
        make_client, policy, team, clock, slack_responses):  # noqa: F811
    posted, response_url = slack_responses
    client, incident = await twilio_incident_with_failover(make_client, policy, team)

    async def clicked(trigger, user) -> dict:
        body = click("callwatch_failover", incident, trigger=trigger, user=user,
                     response_url=response_url)
        response = await client.post("/slack/interactions", data=body,
                                     headers=signed(body, clock()))
        assert response.status == 200
        return await response.json()

    assert await clicked("T1", ("U0ADA", "ada")) == {"status": "accepted"}
    [pending] = await eventually(lambda: posted[:1])
    assert (pending["status"], pending["response_type"], pending["replace_original"]) == (
        "pending", "ephemeral", False)
    assert "twilio to telnyx" in pending["text"] and team.received == []
    assert await clicked("T2", ("U0BOB", "bob")) == {"status": "accepted"}
    await eventually(lambda: len(posted) == 2)
    assert posted[1]["status"] == "sent" and len(team.received) == 1

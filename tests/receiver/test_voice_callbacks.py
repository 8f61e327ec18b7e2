"""The providers' call callbacks at the wire: real signatures, each keypress, forged, stale and
replayed callbacks, and unanswered calls rung again then failed over.

The phone notifier is a stand-in that "places" calls (it hears nothing itself); the callbacks
are signed exactly as Twilio and Telnyx sign them, and Telnyx's Call Control commands reach a
small server speaking its API, through the real telnyx SDK.
"""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from callwatch.signatures import telnyx_public_key_b64, telnyx_sign, twilio_sign
from receiver.http.common import RECEIVER
from receiver.notify.base import Delivery
from receiver.notify.phone import encode_page_state
from tests.receiver.conftest import ON_CALL, auth
from tests.receiver.standins import RecordingNotifier, alert, payload

PUBLIC = "https://callwatch.example"
TOKEN = "twilio-auth-token-1234"
KEY = Ed25519PrivateKey.generate()


class CallPlacer(RecordingNotifier):
    """Places calls a person may answer: the providers' callbacks say what happened."""

    tracks_answers = True

    async def send(self, notification):
        self.sent.append(notification)
        return Delivery(ref=f"CA{len(self.sent)}", via="twilio", awaiting=True)


def refused(client, source: str) -> float:
    """callwatch_callback_signature_failures_total{source}."""
    return client.app[RECEIVER].metrics.signature_failures.labels(source)._value.get()


@pytest.fixture
async def telnyx_api(aiohttp_server):
    """Telnyx's Call Control command endpoint: records every command."""
    commands: list[tuple[str, str, dict]] = []

    async def action(request: web.Request) -> web.Response:
        commands.append((request.match_info["id"], request.match_info["action"],
                         await request.json()))
        return web.json_response({"data": {"result": "ok"}})

    app = web.Application()
    app.router.add_post("/v2/calls/{id}/actions/{action}", action)
    server = await aiohttp_server(app)
    return str(server.make_url("/v2")), commands


@pytest.fixture
async def phone(make_client, recorders, telnyx_api):
    base_url, _ = telnyx_api
    recorders["phone"] = CallPlacer("phone")
    return await make_client(env={
        "CALLWATCH_PUBLIC_URL": PUBLIC, "TWILIO_AUTH_TOKEN": TOKEN,
        "TELNYX_PUBLIC_KEY": telnyx_public_key_b64(KEY), "TELNYX_API_KEY": "KEY-telnyx-1234",
        "TELNYX_BASE_URL": base_url})


async def paged(client, recorders) -> tuple[str, object]:
    """Open a P0 incident; its id and the on-call's phone page (the route's trigger; the VP
    Engineering is called at once too, as an escalation)."""
    response = await client.post("/alerts", json=payload(alert(severity="critical",
                                                               priority="P0")), headers=auth())
    incident_id = (await response.json())["incident"]
    for _ in range(100):
        triggers = [n for n in recorders["phone"].sent if n.kind == "trigger"]
        if triggers:
            return incident_id, triggers[0]
        await asyncio.sleep(0.02)
    raise AssertionError("no phone page placed")


async def twilio(client, path: str, form: dict, token: str = TOKEN, signed: bool = True):
    headers = {"X-Twilio-Signature": twilio_sign(token, PUBLIC + path, form)} if signed else {}
    response = await client.post(path, data=form, headers=headers)
    return response.status, await response.text()


async def telnyx(client, clock, event: str, page: str, attempt: int = 1, event_id=None,
                 at=None, **payload):
    state = payload.pop("state", None) or encode_page_state(page, attempt)
    body = json.dumps({"data": {"record_type": "event", "event_type": event,
                                "id": event_id or str(uuid.uuid4()),
                                "occurred_at": "2027-01-15T08:00:00Z",
                                "payload": {"call_control_id": "v3:call-1",
                                            "client_state": state, **payload}}}).encode()
    stamp = int(clock() if at is None else at)
    response = await client.post("/voice/telnyx", data=body,
                                 headers={**telnyx_sign(KEY, body, stamp),
                                          "Content-Type": "application/json"})
    return response.status, await response.json()


async def incident_of(client, incident_id):
    return await (await client.get(f"/incidents/{incident_id}")).json()


async def test_pressing_1_on_twilio_acknowledges_as_the_person_who_was_called(
        phone, recorders):
    incident_id, call = await paged(phone, recorders)
    assert (call.page is not None, call.attempt, call.recipients) == (True, 1, (ON_CALL.phone,))
    path = f"/voice/twilio/gather?page={call.page}&attempt=1&round=1"
    status, twiml = await twilio(phone, path, {"CallSid": "CA1", "Digits": "1"})
    assert status == 200
    assert f"Acknowledged. Thank you, {ON_CALL.name}." in twiml and "<Hangup/>" in twiml
    body = await incident_of(phone, incident_id)
    assert (body["state"], body["acked_by"]) == ("acknowledged", ON_CALL.name)
    acked = next(e for e in body["timeline"] if e["kind"] == "acknowledged")
    assert acked["detail"]["via"] == "phone"
    [row] = [n for n in body["notifications"] if n["channel"] == "phone"
             and n["kind"] == "trigger"]
    assert row["state"] == "sent"                     # a person answered
    # the other channels hear of it (PagerDuty and Slack got the trigger)
    kinds = {(n["channel"], n["kind"]) for n in body["notifications"]}
    assert {("pagerduty", "acknowledge"), ("slack", "acknowledge")} <= kinds


@pytest.mark.parametrize(("sentence", "form", "token", "signed"), [
    ("a callback signed with another auth token", {"CallSid": "CA1", "Digits": "1"},
     "some-other-token-99", True),
    ("a callback with no signature", {"CallSid": "CA1", "Digits": "1"}, TOKEN, False),
])
async def test_a_forged_twilio_callback_is_403_and_changes_nothing(
        phone, recorders, sentence, form, token, signed):
    incident_id, call = await paged(phone, recorders)
    path = f"/voice/twilio/gather?page={call.page}&attempt=1&round=1"
    status, body = await twilio(phone, path, form, token=token, signed=signed)
    assert status == 403 and json.loads(body)["error"] == "invalid_signature", sentence
    assert (await incident_of(phone, incident_id))["state"] == "triggered"
    assert refused(phone, "twilio") == 1          # counted for CallwatchWebhookSignaturesFailing


async def test_a_replayed_twilio_keypress_is_409_and_acts_once(phone, recorders):
    _, call = await paged(phone, recorders)
    path = f"/voice/twilio/gather?page={call.page}&attempt=1&round=1"
    assert (await twilio(phone, path, {"CallSid": "CA1", "Digits": "9"}))[0] == 200
    status, body = await twilio(phone, path, {"CallSid": "CA1", "Digits": "9"})
    assert status == 409 and json.loads(body)["error"] == "replayed"


async def test_any_other_key_repeats_the_page_and_the_menu(phone, recorders):
    _, call = await paged(phone, recorders)
    path = f"/voice/twilio/gather?page={call.page}&attempt=1&round=1"
    status, twiml = await twilio(phone, path, {"CallSid": "CA1", "Digits": "7"})
    assert status == 200 and "Press 1 to acknowledge" in twiml
    assert f"page={call.page}&amp;attempt=1&amp;round=2" in twiml   # the next round's Gather
    assert "This is callwatch with a critical priority page, priority 0." in twiml


async def test_a_late_keypress_hears_who_acknowledged(phone, recorders):
    incident_id, call = await paged(phone, recorders)
    ack = await phone.post(f"/incidents/{incident_id}/ack", json={"by": "Ada"}, headers=auth())
    assert ack.status == 200
    path = f"/voice/twilio/gather?page={call.page}&attempt=1&round=1"
    _, twiml = await twilio(phone, path, {"CallSid": "CA1", "Digits": "1"})
    assert "already acknowledged by Ada" in twiml


async def test_telnyx_speaks_the_page_on_answer_and_pressing_2_escalates_now(
        phone, recorders, telnyx_api, clock):
    _, commands = telnyx_api
    incident_id, call = await paged(phone, recorders)
    status, _ = await telnyx(phone, clock, "call.answered", call.page)
    assert status == 200
    [(call_id, action, body)] = commands
    assert (call_id, action) == ("v3:call-1", "gather_using_speak")
    assert "This is callwatch" in body["payload"] and "Press 2 to escalate" in body["payload"]
    assert (body["maximum_digits"], body["voice"]) == (1, "female")
    state = body["client_state"]
    status, _ = await telnyx(phone, clock, "call.gather.ended", call.page, digits="2",
                             status="valid", state=state)
    assert status == 200
    assert commands[-1][1] == "speak"
    assert commands[-1][2]["payload"] == "Escalating to L2, Team Lead, now. Goodbye."
    timeline = (await incident_of(phone, incident_id))["timeline"]
    asked = next(e for e in timeline if e["kind"] == "escalation_requested")
    assert (asked["actor"], asked["detail"]) == (ON_CALL.name,
                                                 {"level": "L2", "via": "phone"})
    # the escalation worker pages the team lead at once
    for _ in range(100):
        if any("+15005550002" in n.recipients for n in recorders["phone"].sent):
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the team lead was not called")
    status, _ = await telnyx(phone, clock, "call.speak.ended", call.page,
                             state=commands[-1][2]["client_state"])
    assert commands[-1][1] == "hangup"


@pytest.mark.parametrize(("sentence", "change"), [
    ("a signature five minutes and one second old", {"at_offset": -301}),
    ("a signature from another key", {"key": Ed25519PrivateKey.generate()}),
])
async def test_a_forged_or_stale_telnyx_event_is_403_and_changes_nothing(
        phone, recorders, telnyx_api, clock, sentence, change):
    _, commands = telnyx_api
    _, call = await paged(phone, recorders)
    body = json.dumps({"data": {"event_type": "call.answered", "id": "ev-1", "payload": {
        "call_control_id": "v3:call-1",
        "client_state": encode_page_state(call.page, 1)}}}).encode()
    stamp = int(clock() + change.get("at_offset", 0))
    headers = telnyx_sign(change.get("key", KEY), body, stamp)
    response = await phone.post("/voice/telnyx", data=body, headers=headers)
    assert response.status == 403, sentence
    assert commands == [] and refused(phone, "telnyx") == 1
    row = await phone.app[RECEIVER].store.page_row(call.page)
    assert row.state == "awaiting"


async def test_a_replayed_telnyx_event_is_409(phone, recorders, clock):
    _, call = await paged(phone, recorders)
    assert (await telnyx(phone, clock, "call.answered", call.page, event_id="ev-7"))[0] == 200
    status, body = await telnyx(phone, clock, "call.answered", call.page, event_id="ev-7")
    assert (status, body["error"]) == (409, "replayed")


async def test_an_unanswered_call_rings_again_then_falls_back_to_email(phone, recorders, clock):
    incident_id, call = await paged(phone, recorders)
    for attempt in (1, 2, 3):
        calls = [n for n in recorders["phone"].sent if n.page == call.page]
        assert [n.attempt for n in calls] == list(range(1, attempt + 1))
        path = f"/voice/twilio/status?page={call.page}&attempt={attempt}"
        status, _ = await twilio(phone, path, {"CallSid": f"CA-{attempt}",
                                               "CallStatus": "no-answer"})
        assert status == 200
        clock.advance(121)
        for _ in range(100):
            if len([n for n in recorders["phone"].sent if n.page == call.page]) > attempt \
                    or attempt == 3:
                break
            await asyncio.sleep(0.02)
    body = await incident_of(phone, incident_id)
    [row] = [n for n in body["notifications"] if n["channel"] == "phone"
             and n["kind"] == "trigger"]
    assert (row["state"], row["attempts"]) == ("failed", 3)
    unanswered = [e for e in body["timeline"] if e["kind"] == "page_unanswered"]
    assert [e["detail"]["attempt"] for e in unanswered] == [1, 2, 3]
    assert any(n["channel"] == "email" and n["fallback_of"] == row["id"]
               for n in body["notifications"])


async def test_a_call_with_no_report_counts_unanswered_after_outcome_within(
        phone, recorders, clock):
    incident_id, _ = await paged(phone, recorders)
    clock.advance(601)        # the policy's outcome_within is 10 minutes
    for _ in range(100):
        body = await incident_of(phone, incident_id)
        if any(e["kind"] == "page_unanswered" for e in body["timeline"]):
            break
        await asyncio.sleep(0.02)
    unanswered = next(e for e in body["timeline"] if e["kind"] == "page_unanswered")
    assert (unanswered["detail"]["status"], unanswered["detail"]["via"]) == (
        "no-report", "deadline")


async def test_callbacks_without_the_providers_keys_are_503(make_client):
    client = await make_client(env={"CALLWATCH_PUBLIC_URL": PUBLIC})
    for path in ("/voice/twilio/gather?page=p&attempt=1", "/voice/telnyx"):
        response = await client.post(path, data=b"x=1")
        assert (response.status, (await response.json())["error"]) == (503, "not_configured")

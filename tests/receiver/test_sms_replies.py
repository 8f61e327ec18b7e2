"""Text-message pages and their replies at the wire: the text names its incident by a short
code, ACK/RES replies act as the contact whose number sent them, and anything else, or an
unknown number, changes nothing and gets a polite answer."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid

import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from callwatch.signatures import telnyx_public_key_b64, telnyx_sign, twilio_sign
from policy.model import Channel
from receiver.domain.pages import incident_code, text_reply
from tests.receiver.conftest import ON_CALL, auth
from tests.receiver.standins import RecordingNotifier, alert, payload

PUBLIC = "https://callwatch.example"
TOKEN = "twilio-auth-token-1234"
KEY = Ed25519PrivateKey.generate()
ONCALL, STRANGER = ON_CALL.phone, "+15559999999"


@pytest.fixture
def texting(policy):
    """The default policy with an sms channel on the P1 route."""
    sms = Channel("sms", "sms", {"from_number": "+15005550099"})
    p1 = dataclasses.replace(policy.routing["P1"], channels=(*policy.routing["P1"].channels,
                                                             "sms"))
    return dataclasses.replace(policy, channels={**policy.channels, "sms": sms},
                               routing={**policy.routing, "P1": p1})


@pytest.fixture
async def telnyx_api(aiohttp_server):
    sent: list[dict] = []

    async def message(request: web.Request) -> web.Response:
        sent.append(await request.json())
        return web.json_response({"data": {"record_type": "message", "id": str(uuid.uuid4())}})

    app = web.Application()
    app.router.add_post("/v2/messages", message)
    server = await aiohttp_server(app)
    return str(server.make_url("/v2")), sent


@pytest.fixture
async def client(make_client, texting, recorders, telnyx_api):
    recorders["sms"] = RecordingNotifier("sms")
    return await make_client(policy=texting, env={
        "CALLWATCH_PUBLIC_URL": PUBLIC, "TWILIO_AUTH_TOKEN": TOKEN,
        "TELNYX_PUBLIC_KEY": telnyx_public_key_b64(KEY), "TELNYX_API_KEY": "KEY-telnyx-1234",
        "TELNYX_BASE_URL": telnyx_api[0]})


async def opened(client) -> str:
    response = await client.post("/alerts", json=payload(alert(priority="P1")), headers=auth())
    return (await response.json())["incident"]


async def twilio_reply(client, sender: str, text: str, sid: str = "SM1", token: str = TOKEN):
    form = {"MessageSid": sid, "From": sender, "To": "+15005550099", "Body": text}
    headers = {"X-Twilio-Signature": twilio_sign(token, PUBLIC + "/sms/twilio", form)}
    response = await client.post("/sms/twilio", data=form, headers=headers)
    return response.status, await response.text()


async def detail(client, incident_id) -> dict:
    return await (await client.get(f"/incidents/{incident_id}")).json()


def test_an_incident_code_is_three_characters_derived_from_the_id():
    code = incident_code("01J0ABCDEF")
    assert len(code) == 3 and incident_code("01J0ABCDEF") == code != incident_code("01J0ABCDEG")


@pytest.mark.parametrize(("text", "parsed"), [
    ("ACK K7Q", ("acknowledge", "K7Q")), ("res k7q", ("resolve", "K7Q")),
    (" ack #K7Q ", ("acknowledge", "K7Q")), ("ok", None), ("ACK", None), ("ACK K7QQ", None),
])
def test_a_reply_is_ack_or_res_and_a_code(text, parsed):
    assert text_reply(text) == parsed


async def test_the_on_call_replies_ack_and_the_incident_is_acknowledged_by_them(client,
                                                                                recorders):
    incident_id = await opened(client)
    code = incident_code(incident_id)
    status, twiml = await twilio_reply(client, ONCALL, f"ACK {code}")
    assert status == 200
    assert f"<Message>#{code} acknowledged. Thank you, {ON_CALL.name}.</Message>" in twiml
    body = await detail(client, incident_id)
    assert (body["state"], body["acked_by"]) == ("acknowledged", ON_CALL.name)
    acked = next(e for e in body["timeline"] if e["kind"] == "acknowledged")
    assert acked["detail"]["via"] == "sms"


async def test_res_resolves_and_a_second_res_is_told_it_is_already_resolved(client):
    incident_id = await opened(client)
    code = incident_code(incident_id)
    await twilio_reply(client, ONCALL, f"RES {code}", sid="SM1")
    _, again = await twilio_reply(client, ONCALL, f"RES {code}", sid="SM2")
    assert (await detail(client, incident_id))["state"] == "resolved"
    assert f"already resolved by {ON_CALL.name}" in again


@pytest.mark.parametrize(("sentence", "sender", "text", "answer"), [
    ("a reply from a number that is no contact's", STRANGER, "ACK {code}",
     "not one of callwatch's contacts"),
    ("a reply naming no incident", ONCALL, "ACK ZZZ", "No open incident has the code ZZZ"),
    ("a reply that is neither ACK nor RES", ONCALL, "on it", "Reply ACK &lt;code&gt;"),
])
async def test_anything_else_changes_nothing_and_gets_a_polite_answer(
        client, sentence, sender, text, answer):
    incident_id = await opened(client)
    status, twiml = await twilio_reply(client, sender, text.format(code=incident_code(
        incident_id)))
    assert status == 200 and answer in twiml, sentence
    assert (await detail(client, incident_id))["state"] == "triggered"


async def test_a_forged_or_replayed_twilio_reply_changes_nothing(client):
    incident_id = await opened(client)
    code = incident_code(incident_id)
    status, _ = await twilio_reply(client, ONCALL, f"ACK {code}", token="not-the-token-999")
    assert status == 403
    assert (await detail(client, incident_id))["state"] == "triggered"
    assert (await twilio_reply(client, ONCALL, f"RES {code}", sid="SM5"))[0] == 200
    status, body = await twilio_reply(client, ONCALL, f"RES {code}", sid="SM5")
    assert (status, json.loads(body)["error"]) == (409, "replayed")


async def test_a_telnyx_reply_acknowledges_and_is_answered_by_text(client, clock, telnyx_api):
    _, sent = telnyx_api
    incident_id = await opened(client)
    code = incident_code(incident_id)
    body = json.dumps({"data": {"event_type": "message.received", "id": str(uuid.uuid4()),
                                "record_type": "event", "payload": {
                                    "from": {"phone_number": ONCALL},
                                    "to": [{"phone_number": "+15005550099"}],
                                    "text": f"ack {code}", "direction": "inbound"}}}).encode()
    response = await client.post("/sms/telnyx", data=body,
                                 headers=telnyx_sign(KEY, body, int(clock())))
    assert response.status == 200
    assert (await detail(client, incident_id))["acked_by"] == ON_CALL.name
    assert sent == [{"to": ONCALL, "from": "+15005550099",
                     "text": f"#{code} acknowledged. Thank you, {ON_CALL.name}."}]
    stale = await client.post("/sms/telnyx", data=body,
                              headers=telnyx_sign(KEY, body, int(clock()) - 400))
    assert stale.status == 403


async def test_a_text_page_goes_to_each_person_of_the_route(client, recorders):
    await opened(client)
    for _ in range(100):
        if recorders["sms"].sent:
            break
        await asyncio.sleep(0.02)
    assert [n.recipients for n in recorders["sms"].sent] == [(ONCALL,)]

"""SMS over the wire: the real twilio and telnyx SDKs send messages through the simulated
providers, and people reply: the providers deliver the replies, signed, to a tiny app
(``SmsApp``) that verifies them as callwatch's receiver must (twilio's ``RequestValidator``,
callwatch's ``TelnyxVerifier``)."""

from __future__ import annotations

import json
import time

import aiohttp
import pytest
import telnyx
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from callwatch.signatures import SignatureError, TelnyxVerifier, load_telnyx_public_key
from simulator import Simulator
from simulator.sms import BadSms

PERSON, TEAM_TWILIO, TEAM_TELNYX = "+15550001", "+15559001", "+15559002"


class SmsApp:
    """``/sms/twilio`` and ``/sms/telnyx``: 401 unless the signature verifies; otherwise keeps
    the fields (Twilio) or the event's ``data`` (Telnyx) and answers ``thanks``."""

    def __init__(self, sim: Simulator) -> None:
        env = sim.env()
        self.twilio = RequestValidator(env["TWILIO_AUTH_TOKEN"])
        self.telnyx = TelnyxVerifier(load_telnyx_public_key(env["TELNYX_PUBLIC_KEY"]))
        self.received: list[tuple[str, dict]] = []
        self.refused = 0
        self.base = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/sms/twilio", self.twilio_hook)
        app.router.add_post("/sms/telnyx", self.telnyx_hook)
        return app

    def url(self, provider: str) -> str:
        return f"{self.base}/sms/{provider}"

    async def twilio_hook(self, request: web.Request) -> web.Response:
        params = {k: str(v) for k, v in (await request.post()).items()}
        if not self.twilio.validate(str(request.url), params,
                                    request.headers.get("X-Twilio-Signature", "")):
            self.refused += 1
            return web.Response(status=401, text="forged")
        self.received.append(("twilio", params))
        return web.Response(text="<Response/>", content_type="application/xml")

    async def telnyx_hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            self.telnyx.verify(body, request.headers)
        except SignatureError:
            self.refused += 1
            return web.Response(status=401, text="forged")
        self.received.append(("telnyx", json.loads(body)))
        return web.json_response({"thanks": True})


@pytest.fixture
async def sim():
    async with Simulator(traffic=False) as running:
        yield running


@pytest.fixture
async def app(sim, aiohttp_server):
    sms_app = SmsApp(sim)
    server = await aiohttp_server(sms_app.app())
    sms_app.base = str(server.make_url("")).rstrip("/")
    return sms_app


@pytest.fixture
async def twilio(sim):
    env, http = sim.env(), AsyncTwilioHttpClient()
    client = Client(env["TWILIO_ACCOUNT_SID"], env["TWILIO_AUTH_TOKEN"], http_client=http,
                    environment={})
    client.api.base_url = env["TWILIO_BASE_URL"]
    yield client
    await http.close()


@pytest.fixture
async def telnyx_client(sim):
    env = sim.env()
    client = telnyx.AsyncTelnyx(api_key=env["TELNYX_API_KEY"], base_url=env["TELNYX_BASE_URL"],
                                max_retries=0)
    yield client
    await client.close()


# --- sending ----------------------------------------------------------------------------------

async def test_twilio_sends_through_the_sdk_and_the_message_is_recorded(sim, twilio):
    message = await twilio.messages.create_async(to=PERSON, from_=TEAM_TWILIO, body="inc-1",
                                                 status_callback="http://127.0.0.1:9/s")
    assert message.sid.startswith("SM") and len(message.sid) == 34
    assert (message.status, message.direction, message.to, message.from_, message.body) == (
        "queued", "outbound-api", PERSON, TEAM_TWILIO, "inc-1")
    assert message.num_segments == "1" and message.date_sent is None
    assert message.date_created.timestamp() == pytest.approx(time.time(), abs=5)
    [sent] = sim.sms_messages("twilio")
    assert (sent.provider, sent.id, sent.to, sent.from_, sent.text, sent.callback) == (
        "twilio", message.sid, PERSON, TEAM_TWILIO, "inc-1", "http://127.0.0.1:9/s")
    assert sim.sms_messages("telnyx") == []


@pytest.mark.parametrize("fields, code", [
    pytest.param({"to": "", "from_": TEAM_TWILIO, "body": "x"}, 21604,
                 id="a message without To is refused with 21604"),
    pytest.param({"to": PERSON, "body": "x"}, 21603,
                 id="a message without From is refused with 21603"),
    pytest.param({"to": PERSON, "from_": TEAM_TWILIO}, 21602,
                 id="a message without Body is refused with 21602"),
])
async def test_twilio_refuses_an_incomplete_message(sim, twilio, fields, code):
    with pytest.raises(TwilioRestException) as caught:
        await twilio.messages.create_async(**fields)
    assert (caught.value.status, caught.value.code) == (400, code)
    assert sim.sms_messages() == []


async def test_twilio_faults_and_bad_credentials_apply_to_messages(sim, twilio):
    sim.fail("twilio", 503)
    with pytest.raises(TwilioRestException) as caught:
        await twilio.messages.create_async(to=PERSON, from_=TEAM_TWILIO, body="x")
    assert caught.value.status == 503
    http = AsyncTwilioHttpClient()
    wrong = Client(sim.twilio_account_sid, "wrong-token", http_client=http, environment={})
    wrong.api.base_url = sim.url
    try:
        with pytest.raises(TwilioRestException) as caught:
            await wrong.messages.create_async(to=PERSON, from_=TEAM_TWILIO, body="x")
    finally:
        await http.close()
    assert (caught.value.status, caught.value.code) == (401, 20003)
    assert sim.sms_messages() == []


async def test_telnyx_sends_through_the_sdk_and_the_message_is_recorded(sim, telnyx_client):
    response = await telnyx_client.messages.send(
        from_=TEAM_TELNYX, to=PERSON, text="inc-1", messaging_profile_id="mp-1",
        webhook_url="http://127.0.0.1:9/dlr")
    data = response.data
    assert data.id and data.direction == "outbound" and data.type == "SMS"
    assert data.from_.phone_number == TEAM_TELNYX
    assert [(t.phone_number, t.status) for t in data.to] == [(PERSON, "queued")]
    assert (data.text, data.messaging_profile_id, data.parts) == ("inc-1", "mp-1", 1)
    [sent] = sim.sms_messages("telnyx")
    assert (sent.id, sent.to, sent.from_, sent.text, sent.callback) == (
        data.id, PERSON, TEAM_TELNYX, "inc-1", "http://127.0.0.1:9/dlr")
    [request] = [r for r in sim.requests("telnyx") if r.path == "/v2/messages"]
    assert request.json["from"] == TEAM_TELNYX  # the SDK's from_ goes out as "from"


@pytest.mark.parametrize("fields, missing", [
    pytest.param({"from_": TEAM_TELNYX, "text": "x", "to": ""}, "to",
                 id="a message without to is refused naming to"),
    pytest.param({"to": PERSON, "text": "x"}, "from",
                 id="a message without from is refused naming from"),
    pytest.param({"to": PERSON, "from_": TEAM_TELNYX}, "text",
                 id="a message without text is refused naming text"),
])
async def test_telnyx_refuses_an_incomplete_message_with_422(
        sim, telnyx_client, fields, missing):
    with pytest.raises(telnyx.UnprocessableEntityError) as caught:
        await telnyx_client.messages.send(**fields)
    [error] = caught.value.body["errors"]
    assert error["source"]["pointer"] == f"/{missing}" and missing in error["detail"]
    assert sim.sms_messages() == []


async def test_telnyx_faults_apply_to_messages(sim, telnyx_client):
    sim.fail("telnyx", 503)
    with pytest.raises(telnyx.InternalServerError):
        await telnyx_client.messages.send(from_=TEAM_TELNYX, to=PERSON, text="x")
    assert sim.sms_messages() == []


# --- replies ----------------------------------------------------------------------------------

async def test_a_twilio_reply_arrives_signed_to_the_number_that_texted_the_person(
        sim, app, twilio):
    await twilio.messages.create_async(to="+15550002", from_="+15559998", body="other")
    await twilio.messages.create_async(to=PERSON, from_=TEAM_TWILIO, body="inc-1: reply 1")
    status, body = await sim.sms_reply("twilio", PERSON, "1", url=app.url("twilio"))
    assert (status, body) == (200, "<Response/>")
    [(provider, fields)] = app.received
    sid = fields.pop("MessageSid")
    assert provider == "twilio"
    assert sid.startswith("SM") and fields == {
        "SmsSid": sid, "SmsMessageSid": sid, "AccountSid": sim.twilio_account_sid,
        "From": PERSON, "To": TEAM_TWILIO, "Body": "1", "NumMedia": "0", "NumSegments": "1",
        "SmsStatus": "received", "ApiVersion": "2010-04-01"}
    [reply] = sim.sms_replies()
    assert (reply.provider, reply.id, reply.to, reply.from_, reply.status) == (
        "twilio", sid, TEAM_TWILIO, PERSON, 200)


async def test_a_telnyx_reply_arrives_signed_as_a_message_received_event(
        sim, app, telnyx_client):
    await telnyx_client.messages.send(from_=TEAM_TELNYX, to=PERSON, text="inc-1: reply 1")
    status, body = await sim.sms_reply("telnyx", PERSON, "ack", url=app.url("telnyx"))
    assert (status, json.loads(body)) == (200, {"thanks": True})
    [(provider, event)] = app.received
    assert provider == "telnyx"
    data, payload = event["data"], event["data"]["payload"]
    assert (data["event_type"], data["record_type"]) == ("message.received", "event")
    assert event["meta"] == {"attempt": 1, "delivered_to": app.url("telnyx")}
    assert {k: payload[k] for k in ("record_type", "direction", "type", "from", "to",
                                    "text")} == {
        "record_type": "message", "direction": "inbound", "type": "SMS",
        "from": {"phone_number": PERSON}, "to": [{"phone_number": TEAM_TELNYX}], "text": "ack"}
    assert payload["id"] != data["id"] and payload["received_at"].endswith("Z")
    assert sim.sms_replies("telnyx")[0].id == payload["id"]


async def test_a_reply_may_name_the_number_it_goes_to(sim, app):
    await sim.sms_reply("twilio", PERSON, "hi", url=app.url("twilio"), to="+15550999")
    assert app.received[0][1]["To"] == "+15550999"


@pytest.mark.parametrize("provider, forgery", [
    pytest.param("twilio", {"secret_or_key": "not-the-auth-token"},
                 id="a Twilio reply signed with another auth token fails the app's check"),
    pytest.param("telnyx", {"secret_or_key": Ed25519PrivateKey.generate()},
                 id="a Telnyx reply signed with another key fails the app's check"),
    pytest.param("telnyx", {"timestamp": int(time.time()) - 600},
                 id="a Telnyx reply stamped ten minutes ago fails the app's check"),
])
async def test_stale_or_forged_replies_are_refused_by_the_app(sim, app, provider, forgery):
    status, _ = await sim.sms_reply(provider, PERSON, "1", url=app.url(provider),
                                    to=TEAM_TWILIO, **forgery)
    assert status == 401 and app.refused == 1 and app.received == []
    assert sim.sms_replies()[0].status == 401


@pytest.mark.parametrize("provider, kwargs, code", [
    pytest.param("twilio", {}, "nothing_to_reply_to",
                 id="a reply to nobody who texted the person is refused"),
    pytest.param("sinch", {"to": TEAM_TWILIO}, "unknown_provider",
                 id="a reply through an unknown provider is refused"),
    pytest.param("twilio", {"to": TEAM_TWILIO, "secret_or_key": Ed25519PrivateKey.generate()},
                 "invalid_key", id="a Twilio reply forged with a Telnyx key is refused"),
])
async def test_replies_that_cannot_be_sent_are_value_errors(sim, app, provider, kwargs, code):
    with pytest.raises(ValueError) as caught:
        await sim.sms_reply(provider, PERSON, "1", url=app.url("twilio"), **kwargs)
    assert isinstance(caught.value, BadSms) and caught.value.code == code
    assert sim.sms_replies() == [] and app.received == []


# --- control ----------------------------------------------------------------------------------

async def test_the_sms_control_endpoints_reply_list_and_reset(sim, app, telnyx_client):
    await telnyx_client.messages.send(from_=TEAM_TELNYX, to=PERSON, text="inc-1")
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{sim.url}/control/sms/reply", json={
                "provider": "telnyx", "from": PERSON, "text": "2",
                "url": app.url("telnyx")}) as answer:
            assert answer.status == 200
            assert await answer.json() == {"status": 200, "body": '{"thanks": true}'}
        async with session.get(f"{sim.url}/control/sms?provider=telnyx") as answer:
            listing = await answer.json()
        [sent], [reply] = listing["messages"], listing["replies"]
        assert (sent["from"], sent["to"], sent["text"]) == (TEAM_TELNYX, PERSON, "inc-1")
        assert (reply["from"], reply["to"], reply["text"], reply["status"]) == (
            PERSON, TEAM_TELNYX, "2", 200)
        async with session.get(f"{sim.url}/control/notifications") as answer:
            assert [m["id"] for m in (await answer.json())["sms"]] == [sent["id"]]
        await session.post(f"{sim.url}/control/reset")
        async with session.get(f"{sim.url}/control/sms") as answer:
            assert await answer.json() == {"messages": [], "replies": []}


@pytest.mark.parametrize("body, error", [
    pytest.param({"provider": "sinch", "from": PERSON, "text": "1", "url": "http://x/"},
                 "unknown_provider", id="an unknown provider is refused"),
    pytest.param({"provider": "twilio", "text": "1", "url": "http://x/"}, "missing_field",
                 id="a reply without from is refused"),
    pytest.param({"provider": "twilio", "from": PERSON, "url": "http://x/"}, "missing_field",
                 id="a reply without text is refused"),
    pytest.param({"provider": "twilio", "from": PERSON, "text": "1"}, "missing_field",
                 id="a reply without url is refused"),
    pytest.param({"provider": "twilio", "from": PERSON, "text": "1", "url": "http://x/"},
                 "nothing_to_reply_to", id="a reply to a person nobody texted is refused"),
])
async def test_the_reply_control_endpoint_refuses_bad_input_with_400_json(sim, body, error):
    async with aiohttp.ClientSession() as session, session.post(
            f"{sim.url}/control/sms/reply", json=body) as answer:
        assert answer.status == 400
        assert (await answer.json())["error"] == error

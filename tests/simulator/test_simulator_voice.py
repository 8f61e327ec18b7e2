"""Outbound calls played out by the simulated Twilio and Telnyx, over the wire: the real SDKs
place and drive the calls, and a tiny receiver (``voicehelpers.Receiver``) takes every callback
and checks its signature as callwatch's receiver must."""

from __future__ import annotations

import aiohttp
import pytest
import telnyx
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client
from voicehelpers import Receiver

from simulator import Simulator

CALLEE, CALLER = "+15550001", "+15559999"


@pytest.fixture
async def sim():
    async with Simulator(traffic=False) as running:
        yield running


@pytest.fixture
async def receiver(sim, aiohttp_server):
    receiver = Receiver(sim)
    server = await aiohttp_server(receiver.app())
    receiver.base = str(server.make_url("")).rstrip("/")
    yield receiver
    assert receiver.forged == 0, "a callback was not signed as the provider signs"


@pytest.fixture
async def twilio(sim):
    http = AsyncTwilioHttpClient()
    client = Client(sim.twilio_account_sid, sim.twilio_auth_token, http_client=http)
    client.api.base_url = sim.url
    yield client
    await http.close()


@pytest.fixture
async def telnyx_client(sim):
    client = telnyx.AsyncTelnyx(api_key=sim.telnyx_api_key, base_url=f"{sim.url}/v2",
                                max_retries=0)
    yield client
    await client.close()


def gather_twiml(action: str, method: str = "POST") -> str:
    return (f'<Response><Gather action="{action}" method="{method}" numDigits="1">'
            "<Say>Incident inc-1. Press 1 to acknowledge.</Say></Gather></Response>")


# --- Twilio -----------------------------------------------------------------------------------

STATUS, GATHER, NEXT = "/twilio/status", "/twilio/gather", "/twilio/next"


@pytest.mark.parametrize("behaviour, digits, detect, answers, expected", [
    pytest.param("answer", "1", None, {}, [(GATHER, "1"), (STATUS, "completed")],
                 id="a person who answers and presses 1 reaches the Gather action, then the "
                    "status callback says completed"),
    pytest.param("answer", "91", None, {"gather": [gather_twiml("{base}/twilio/next")]},
                 [(GATHER, "9"), (NEXT, "1"), (STATUS, "completed")],
                 id="a Gather answered with another Gather gets the next digit there, in order"),
    pytest.param("answer", "12", None, {"gather": ["<Response><Say>Thanks</Say></Response>"]},
                 [(GATHER, "1"), (STATUS, "completed")],
                 id="digits left when the answer holds no Gather are not pressed"),
    pytest.param("answer", "", None, {}, [(STATUS, "completed")],
                 id="a person who answers and presses nothing gives only the status callback"),
    pytest.param("no-answer", "1", None, {}, [(STATUS, "no-answer")],
                 id="nobody answering gives only a no-answer status callback"),
    pytest.param("busy", "", None, {}, [(STATUS, "busy")],
                 id="a busy line gives only a busy status callback"),
    pytest.param("failed", "", None, {}, [(STATUS, "failed")],
                 id="a failed call gives only a failed status callback"),
    pytest.param("canceled", "", None, {}, [(STATUS, "canceled")],
                 id="a canceled call gives only a canceled status callback"),
    pytest.param("machine", "", "Enable", {}, [(STATUS, "completed")],
                 id="a machine with detection on is completed with AnsweredBy machine_start"),
    pytest.param("machine", "1", None, {}, [(STATUS, "completed")],
                 id="a machine without detection is answered and presses nothing"),
])
async def test_twilio_plays_the_call_as_the_callee_behaves(
        sim, receiver, twilio, behaviour, digits, detect, answers, expected):
    for name, bodies in answers.items():
        receiver.twiml[name] = [b.replace("{base}", receiver.base) for b in bodies]
    sim.phone_behaviour(CALLEE, behaviour, digits)
    action = receiver.url(GATHER + "?incident=inc-1&amp;n=1")  # XML-escaped, as TwiML has it
    call = await twilio.calls.create_async(
        to=CALLEE, from_=CALLER, twiml=gather_twiml(action),
        status_callback=receiver.url(STATUS), status_callback_method="POST",
        machine_detection=detect, timeout=25)
    [played] = await sim.calls_settled()
    assert receiver.twilio_hits() == expected
    assert all(h.fields["CallSid"] == call.sid and h.fields["To"] == CALLEE
               and h.fields["From"] == CALLER and h.fields["Direction"] == "outbound-api"
               for h in receiver.hits)
    status = receiver.hits[-1].fields
    assert status["CallDuration"] == ("20" if status["CallStatus"] == "completed" else "0")
    assert status.get("AnsweredBy") == ("machine_start" if detect else None)
    assert status["SequenceNumber"] == "0" and status["Timestamp"].endswith("+0000")
    assert played.status == "ended" and played.outcome == expected[-1][1]
    assert [c.status for c in played.callbacks] == [200] * len(expected)
    assert (await twilio.calls(call.sid).fetch_async()).status == expected[-1][1]


async def test_the_gather_action_gets_the_exact_url_and_answered_by_human_with_detection(
        sim, receiver, twilio):
    sim.phone_behaviour(None, "answer", "1")
    await twilio.calls.create_async(
        to=CALLEE, from_=CALLER, twiml=gather_twiml(receiver.url(GATHER + "?a=1&amp;b=2")),
        status_callback=receiver.url(STATUS), machine_detection="DetectMessageEnd")
    await sim.calls_settled()
    gather, status = receiver.hits
    assert gather.path == GATHER + "?a=1&b=2" and gather.method == "POST"
    assert gather.fields == {"AccountSid": sim.twilio_account_sid, "CallSid": status.fields[
        "CallSid"], "From": CALLER, "To": CALLEE, "CallStatus": "in-progress",
        "Direction": "outbound-api", "Digits": "1", "AnsweredBy": "human"}
    assert status.fields["AnsweredBy"] == "human"


async def test_a_get_gather_carries_its_fields_in_the_signed_query(sim, receiver, twilio):
    sim.phone_behaviour(CALLEE, "answer", "7")
    await twilio.calls.create_async(to=CALLEE, from_=CALLER,
                                    twiml=gather_twiml(receiver.url(GATHER), method="GET"))
    await sim.calls_settled()
    [gather] = receiver.hits  # no StatusCallback: nothing after the Gather
    assert gather.method == "GET" and gather.fields["Digits"] == "7"


async def test_a_call_with_neither_status_callback_nor_gather_is_only_recorded(
        sim, receiver, twilio):
    call = await twilio.calls.create_async(to=CALLEE, from_=CALLER,
                                           twiml="<Response><Say>P0</Say></Response>")
    assert await sim.calls_settled() == [] and sim.phone_calls() == []
    assert receiver.hits == [] and sim.state.placed[call.sid]["resource"]["status"] == "queued"


async def test_a_failing_gather_action_is_recorded_not_retried_and_the_call_completes(
        sim, receiver, twilio):
    receiver.fail["gather"] = 500
    sim.phone_behaviour(CALLEE, "answer", "11")
    await twilio.calls.create_async(to=CALLEE, from_=CALLER, twiml=gather_twiml(
        receiver.url(GATHER)), status_callback="http://127.0.0.1:9/unreachable")
    [played] = await sim.calls_settled()
    assert receiver.twilio_hits() == [(GATHER, "1")]
    gather, status = played.callbacks
    assert (gather.kind, gather.status, gather.body) == ("gather", 500, "receiver failed")
    assert status.kind == "status" and status.status is None
    assert status.error.startswith("unreachable") and played.status == "ended"


# --- Telnyx -----------------------------------------------------------------------------------

async def dial(sim, client, receiver, **extra) -> str:
    response = await client.calls.dial(
        connection_id=sim.state.telnyx_connection_id, to=CALLEE, from_=CALLER,
        webhook_url=receiver.url("/telnyx/events"), client_state="c0", timeout_secs=30, **extra)
    return response.data.call_control_id


async def test_telnyx_answer_gather_speak_and_hangup_follow_the_commands(
        sim, receiver, telnyx_client):
    sim.phone_behaviour(CALLEE, "answer", "1")
    call_id = await dial(sim, telnyx_client, receiver)
    answered = await receiver.next_event()
    assert answered["event_type"] == "call.answered" and answered["record_type"] == "event"
    payload = answered["payload"]
    assert (payload["call_control_id"], payload["client_state"], payload["state"]) == (
        call_id, "c0", "answered")
    assert payload["connection_id"] == sim.state.telnyx_connection_id
    assert (payload["from"], payload["to"]) == (CALLER, CALLEE)
    actions = telnyx_client.calls.actions
    await actions.gather_using_speak(call_id, payload="Press 1 to acknowledge", voice="female",
                                     language="en-US", valid_digits="123", minimum_digits=1,
                                     maximum_digits=1, timeout_millis=5000, client_state="c1",
                                     command_id="cmd-1")
    gathered = await receiver.next_event()
    assert gathered["event_type"] == "call.gather.ended"
    assert (gathered["payload"]["digits"], gathered["payload"]["status"]) == ("1", "valid")
    assert gathered["payload"]["client_state"] == "c1"
    await actions.gather_using_speak(call_id, payload="Press 1 again", voice="female")
    again = (await receiver.next_event())["payload"]
    assert (again["digits"], again["status"], again["client_state"]) == ("", "timeout", "c1")
    await actions.speak(call_id, payload="Acknowledged. Goodbye.", voice="female",
                        language="en-US", client_state="c2")
    spoke = await receiver.next_event()
    assert spoke["event_type"] == "call.speak.ended" and spoke["payload"]["status"] == "completed"
    assert spoke["payload"]["client_state"] == "c2"
    await actions.hangup(call_id)
    hangup = (await receiver.next_event())
    assert hangup["event_type"] == "call.hangup"
    assert (hangup["payload"]["hangup_cause"], hangup["payload"]["hangup_source"]) == (
        "normal_clearing", "caller")
    with pytest.raises(telnyx.UnprocessableEntityError) as caught:
        await actions.speak(call_id, payload="anyone there?", voice="female")
    assert caught.value.body["errors"][0]["code"] == "90018"
    [played] = await sim.calls_settled()
    assert played.spoken == ["Press 1 to acknowledge", "Press 1 again", "Acknowledged. Goodbye."]
    assert [(c.action, c.accepted) for c in played.commands] == [
        ("gather_using_speak", True), ("gather_using_speak", True), ("speak", True),
        ("hangup", True), ("speak", False)]
    assert played.outcome == "normal_clearing" and len({h.fields["id"] for h in receiver.hits}) == 5
    assert (await telnyx_client.calls.retrieve_status(call_id)).data.is_alive is False


@pytest.mark.parametrize("behaviour, cause, source", [
    pytest.param("no-answer", "timeout", "unknown", id="nobody answering is a timeout hangup"),
    pytest.param("busy", "user_busy", "callee", id="a busy line is a user_busy hangup"),
    pytest.param("failed", "call_rejected", "unknown", id="a failed call is call_rejected"),
    pytest.param("canceled", "originator_cancel", "caller", id="a canceled call is canceled"),
])
async def test_telnyx_an_unanswered_call_sends_only_its_hangup(
        sim, receiver, telnyx_client, behaviour, cause, source):
    sim.phone_behaviour("*", behaviour)
    call_id = await dial(sim, telnyx_client, receiver)
    [played] = await sim.calls_settled()
    [hangup] = [h.fields for h in receiver.hits]
    assert hangup["event_type"] == "call.hangup" and hangup["payload"]["client_state"] == "c0"
    assert (hangup["payload"]["hangup_cause"], hangup["payload"]["hangup_source"]) == (
        cause, source)
    assert played.outcome == cause
    with pytest.raises(telnyx.UnprocessableEntityError):
        await telnyx_client.calls.actions.hangup(call_id)


@pytest.mark.parametrize("behaviour, result", [
    pytest.param("answer", "human", id="a person answering is detected as human"),
    pytest.param("machine", "machine", id="a machine answering is detected as machine"),
])
async def test_telnyx_machine_detection_follows_the_answer(
        sim, receiver, telnyx_client, behaviour, result):
    sim.phone_behaviour(CALLEE, behaviour)
    call_id = await dial(sim, telnyx_client, receiver, answering_machine_detection="detect")
    assert (await receiver.next_event())["event_type"] == "call.answered"
    detected = await receiver.next_event()
    assert detected["event_type"] == "call.machine.detection.ended"
    assert detected["payload"]["result"] == result
    await telnyx_client.calls.actions.hangup(call_id)
    assert (await receiver.next_event())["event_type"] == "call.hangup"
    await sim.calls_settled()


async def test_telnyx_a_dial_without_webhook_url_is_only_recorded(sim, receiver, telnyx_client):
    response = await telnyx_client.calls.dial(connection_id=sim.state.telnyx_connection_id,
                                              to=CALLEE, from_=CALLER)
    result = await telnyx_client.calls.actions.speak(response.data.call_control_id,
                                                     payload="x", voice="female")
    assert result.data.result == "ok" and sim.phone_calls() == [] and receiver.hits == []


async def test_telnyx_a_callee_left_in_silence_hangs_up(sim, receiver, telnyx_client):
    sim.voice.idle_hangup_seconds = 0.05
    await dial(sim, telnyx_client, receiver)
    [played] = await sim.calls_settled()
    assert [h.fields["event_type"] for h in receiver.hits] == ["call.answered", "call.hangup"]
    assert receiver.hits[-1].fields["payload"]["hangup_source"] == "callee"
    assert played.outcome == "normal_clearing"


async def test_telnyx_an_unreachable_receiver_is_recorded(sim, telnyx_client):
    sim.phone_behaviour(CALLEE, "busy")
    await telnyx_client.calls.dial(connection_id=sim.state.telnyx_connection_id, to=CALLEE,
                                   from_=CALLER, webhook_url="http://127.0.0.1:9/events")
    [played] = await sim.calls_settled()
    [hangup] = played.callbacks
    assert hangup.status is None and hangup.error.startswith("unreachable")
    assert hangup.payload["data"]["event_type"] == "call.hangup"


# --- Control ----------------------------------------------------------------------------------

@pytest.mark.parametrize("body, error", [
    pytest.param({"number": "*", "behaviour": "voicemail"}, "unknown_behaviour",
                 id="an unknown behaviour is refused"),
    pytest.param({"number": "*", "behaviour": "answer", "digits": "1a"}, "invalid_digits",
                 id="digits other than 0-9 * # are refused"),
    pytest.param({"number": "*", "behaviour": "answer", "digits": 1}, "invalid_digits",
                 id="digits that are not a string are refused"),
    pytest.param({"behaviour": "answer"}, "invalid_number", id="a missing number is refused"),
    pytest.param({"number": "", "behaviour": "busy"}, "invalid_number",
                 id="an empty number is refused"),
])
async def test_the_phone_control_refuses_bad_input_with_400_json(sim, body, error):
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{sim.url}/control/phone", json=body) as response:
            answer = await response.json()
    assert response.status == 400 and answer["error"] == error and answer["detail"]


async def test_the_phone_control_sets_behaviours_lists_played_calls_and_resets(
        sim, receiver, twilio):
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{sim.url}/control/phone", json={
                "number": CALLEE, "behaviour": "busy"}) as response:
            assert (await response.json()) == {"number": CALLEE, "behaviour": "busy",
                                               "digits": ""}
        await session.post(f"{sim.url}/control/phone",
                           json={"number": "*", "behaviour": "answer", "digits": "1#"})
        call = await twilio.calls.create_async(to=CALLEE, from_=CALLER, twiml="<Response/>",
                                               status_callback=receiver.url(STATUS))
        await sim.calls_settled()
        async with session.get(f"{sim.url}/control/phone") as response:
            listed = await response.json()
        await session.post(f"{sim.url}/control/reset")
        async with session.get(f"{sim.url}/control/phone") as response:
            after = await response.json()
    assert listed["behaviours"] == {CALLEE: {"name": "busy", "digits": ""},
                                    "*": {"name": "answer", "digits": "1#"}}
    [played] = listed["calls"]
    assert (played["id"], played["provider"], played["to"], played["behaviour"]) == (
        call.sid, "twilio", CALLEE, "busy")
    assert played["callbacks"][0]["payload"]["CallStatus"] == "busy"
    assert played["callbacks"][0]["status"] == 200 and played["status"] == "ended"
    assert sim.twilio_auth_token not in str(listed)
    assert after == {"behaviours": {}, "default": {"name": "answer", "digits": ""}, "calls": []}


async def test_the_python_api_refuses_a_bad_behaviour_and_reset_stops_a_playing_call(
        sim, receiver, telnyx_client):
    with pytest.raises(ValueError, match="one of answer"):
        sim.phone_behaviour(CALLEE, "hold-music")
    await dial(sim, telnyx_client, receiver)
    assert (await receiver.next_event())["event_type"] == "call.answered"
    [played] = sim.phone_calls("telnyx")
    sim.control.reset()
    assert (await played.settled()).status == "stopped" and sim.phone_calls() == []

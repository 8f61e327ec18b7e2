"""The real telnyx SDK (AsyncTelnyx) against the Telnyx stand-in, over HTTP."""

from __future__ import annotations

import pytest
import telnyx
from simhelpers import NOW, add_call


@pytest.fixture
async def client(server, state):
    client = telnyx.AsyncTelnyx(api_key=state.telnyx_api_key, max_retries=0,
                                base_url=str(server.make_url("/v2")))
    yield client
    await client.close()


async def test_active_calls_auto_paginate_over_every_live_call(client, state, clock):
    live = [add_call(state, "telnyx", "completed", NOW - 40 + i, ended=False) for i in range(5)]
    add_call(state, "telnyx", "completed", NOW - 400)  # ended: not active
    seen = [c async for c in client.connections.list_active_calls(
        state.telnyx_connection_id, page_size=2)]
    assert sorted(c.call_control_id for c in seen) == sorted(c.id for c in live)
    assert {c.call_duration for c in seen} == {36, 37, 38, 39, 40}


async def test_an_unknown_connection_is_not_found(client):
    with pytest.raises(telnyx.NotFoundError) as caught:
        await client.connections.list_active_calls("999")
    assert caught.value.body["errors"][0]["title"] == "Resource not found"


async def test_call_status_tells_live_from_ended(client, state):
    ended = add_call(state, "telnyx", "completed", NOW - 300, duration=95)
    live = add_call(state, "telnyx", "completed", NOW - 10, ended=False)
    done = (await client.calls.retrieve_status(ended.id)).data
    assert done.is_alive is False and done.call_duration == 95 and done.end_time
    assert (await client.calls.retrieve_status(live.id)).data.is_alive is True


async def test_dialling_is_recorded_and_missing_to_is_unprocessable(client, state, recorder):
    dialled = await client.calls.dial(connection_id=state.telnyx_connection_id,
                                      from_="+15005550006", to="+15005550001")
    assert dialled.data.call_control_id.startswith("v3:") and dialled.data.is_alive is False
    placed = state.placed_calls("telnyx")
    assert placed[0]["request"]["to"] == "+15005550001"
    assert recorder.requests("telnyx")[-1].json["from"] == "+15005550006"
    with pytest.raises(telnyx.UnprocessableEntityError) as caught:
        await client.calls.dial(connection_id=state.telnyx_connection_id, from_="+1", to="")
    assert caught.value.body["errors"][0]["source"]["pointer"] == "/to"


async def test_speaking_on_a_dialled_call_is_recorded_with_it(client, state):
    dialled = await client.calls.dial(connection_id=state.telnyx_connection_id,
                                      from_="+15005550006", to="+15005550001")
    call_id = dialled.data.call_control_id
    result = await client.calls.actions.speak(call_id, payload="P0: Twilio is down",
                                              voice="female", language="en-US")
    assert result.data.result == "ok"
    [action] = state.placed[call_id]["actions"]
    assert action["action"] == "speak" and action["body"]["payload"] == "P0: Twilio is down"
    with pytest.raises(telnyx.NotFoundError):
        await client.calls.actions.speak("v3:never-dialled", payload="x", voice="female")


async def test_a_texml_call_is_recorded_and_needs_texml_or_url(client, state):
    created = await client.texml.calls.create(
        state.telnyx_connection_id, from_="+15005550006", to="+15005550001",
        texml="<Response><Say>P0</Say></Response>")
    assert created.status == "queued" and created.call_sid.startswith("v3:")
    request = state.placed[created.call_sid]["request"]
    assert request["Texml"] == "<Response><Say>P0</Say></Response>"
    with pytest.raises(telnyx.UnprocessableEntityError):
        await client.texml.calls.create(state.telnyx_connection_id, from_="+1", to="+2")


async def test_detail_records_need_a_record_type(client, state):
    dropped = add_call(state, "telnyx", "dropped", NOW - 300, cause="unspecified", sip=503)
    with pytest.raises(telnyx.UnprocessableEntityError) as caught:
        await client.detail_records.list()
    assert "filter[record_type]" in caught.value.body["errors"][0]["detail"]
    records = [r async for r in client.detail_records.list(
        filter={"record_type": "call-control", "date_range": "today"})]
    assert len(records) == 1
    record = records[0].to_dict()
    assert record["call_control_id"] == dropped.id and record["hangup_cause"] == "unspecified"
    assert record["sip_hangup_cause"] == "503" and record["call_sec"] == 60


async def test_webhook_deliveries_filter_by_status_and_start(client, state, clock, recorder):
    clock.now = NOW - 7200
    state.add_delivery("failed", "call.hangup", "v3:old", "http://app/hook", 500, attempts=3)
    clock.now = NOW
    failed = state.add_delivery("failed", "call.hangup", "v3:new", "http://app/hook", 503,
                                attempts=2)
    state.add_delivery("delivered", "call.hangup", "v3:ok", "http://app/hook", 200)
    found = [d async for d in client.webhook_deliveries.list(filter={
        "status": {"eq": "failed"}, "started_at": {"gte": "2026-11-18T10:00:00Z"}})]
    assert [d.id for d in found] == [failed.id]
    assert len(found[0].attempts) == 2 and found[0].attempts[-1].http.response.status == 503
    assert recorder.requests("telnyx")[-1].query["filter[status][eq]"] == "failed"


async def test_call_events_list_each_calls_webhooks(client, state):
    call = add_call(state, "telnyx", "completed", NOW - 300)
    add_call(state, "telnyx", "busy", NOW - 200, cause="user_busy")
    events = [e async for e in client.call_events.list(filter={"leg_id": call.leg_id})]
    assert [e.name for e in events] == ["call.hangup", "call.answered", "call.initiated"]
    hangups = [e async for e in client.call_events.list(filter={"name": "call.hangup"})]
    assert len(hangups) == 2


async def test_a_wrong_api_key_is_an_authentication_error(server):
    client = telnyx.AsyncTelnyx(api_key="KEYwrong", max_retries=0,
                                base_url=str(server.make_url("/v2")))
    with pytest.raises(telnyx.AuthenticationError) as caught:
        await client.calls.retrieve_status("v3:x")
    assert caught.value.status_code == 401
    assert caught.value.body["errors"][0]["code"] == "10009"
    await client.close()


@pytest.mark.parametrize("status, error", [(429, telnyx.RateLimitError),
                                           (500, telnyx.InternalServerError),
                                           (503, telnyx.InternalServerError)])
async def test_an_injected_failure_surfaces_as_the_sdk_error_then_clears(
        client, state, faults, status, error):
    faults.fail("telnyx", status, count=1)
    with pytest.raises(error) as caught:
        await client.connections.list_active_calls(state.telnyx_connection_id)
    assert caught.value.status_code == status
    page = await client.connections.list_active_calls(state.telnyx_connection_id)
    assert page.data == []


async def test_the_sdk_retries_an_injected_503_and_then_succeeds(server, state, faults, recorder):
    client = telnyx.AsyncTelnyx(api_key=state.telnyx_api_key, max_retries=1,
                                base_url=str(server.make_url("/v2")))
    client = client.with_options(timeout=5)
    faults.fail("telnyx", 503, count=1)
    page = await client.connections.list_active_calls(state.telnyx_connection_id)
    assert page.data == [] and len(recorder.requests("telnyx")) == 2
    await client.close()

"""The real twilio SDK (async HTTP client) against the Twilio stand-in, over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from simhelpers import NOW, add_call
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client


@pytest.fixture
async def client(server, state):
    http = AsyncTwilioHttpClient()
    client = Client(state.twilio_account_sid, state.twilio_auth_token, http_client=http)
    base = str(server.make_url("")).rstrip("/")
    client.api.base_url = base
    client.insights.base_url = base
    client.monitor.base_url = base
    yield client
    await http.close()


def _bad_client(server, state, http):
    client = Client(state.twilio_account_sid, "wrong-token", http_client=http)
    client.api.base_url = str(server.make_url("")).rstrip("/")
    return client


async def test_listing_calls_pages_through_every_call_newest_first(client, state):
    made = [add_call(state, "twilio", "completed", NOW - 600 + i) for i in range(5)]
    calls = await client.calls.list_async(page_size=2)
    assert [c.sid for c in calls] == [c.id for c in reversed(made)]
    assert calls[0].status == "completed" and calls[0].duration == "60"
    assert calls[0].start_time == datetime.fromtimestamp(NOW - 596, UTC)


async def test_the_page_token_survives_calls_arriving_between_pages(client, state):
    for i in range(4):
        add_call(state, "twilio", "completed", NOW - 600 + i)
    page = await client.calls.page_async(page_size=2)
    first = [c.sid for c in page]
    add_call(state, "twilio", "completed", NOW - 10)  # newest: must not shift page 2
    second = [c.sid for c in await page.next_page_async()]
    assert len(set(first + second)) == 4


async def test_status_and_start_time_filters_reach_the_server_and_filter(client, state, recorder):
    add_call(state, "twilio", "completed", NOW - 7200)
    busy = add_call(state, "twilio", "busy", NOW - 60)
    add_call(state, "twilio", "busy", NOW - 7200)
    after = datetime.fromtimestamp(NOW - 3600, UTC)
    calls = await client.calls.list_async(status="busy", start_time_after=after)
    assert [c.sid for c in calls] == [busy.id]
    assert calls[0].duration is None and calls[0].end_time is None
    query = recorder.requests("twilio")[-1].query
    assert query["Status"] == "busy" and query["StartTime>"] == after.strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_a_dropped_call_is_completed_at_twilio_and_active_calls_are_in_progress(
        client, state):
    add_call(state, "twilio", "dropped", NOW - 60, sip=503)
    live = add_call(state, "twilio", "completed", NOW - 30, ended=False)
    statuses = {c.sid: c.status for c in await client.calls.list_async()}
    assert sorted(statuses.values()) == ["completed", "in-progress"]
    assert (await client.calls(live.id).fetch_async()).status == "in-progress"


async def test_fetching_an_unknown_call_raises_twilio_rest_exception_404(client):
    with pytest.raises(TwilioRestException) as caught:
        await client.calls("CA" + "f" * 32).fetch_async()
    assert caught.value.status == 404 and caught.value.code == 20404


async def test_creating_a_call_is_recorded_for_the_phone_notifier(client, state, recorder):
    call = await client.calls.create_async(to="+15005550001", from_="+15005550006",
                                           twiml="<Response><Say>P0 incident</Say></Response>")
    assert call.status == "queued" and call.sid.startswith("CA") and len(call.sid) == 34
    placed = state.placed_calls("twilio")
    assert placed[0]["request"]["Twiml"] == "<Response><Say>P0 incident</Say></Response>"
    assert placed[0]["request"]["To"] == "+15005550001"
    posted = recorder.requests("twilio")[-1]
    assert posted.method == "POST" and posted.form["From"] == "+15005550006"
    assert "Authorization" not in posted.headers and "authorization" not in posted.headers
    assert (await client.calls(call.sid).fetch_async()).sid == call.sid


async def test_creating_a_call_without_a_url_or_twiml_is_twilio_error_21205(client):
    with pytest.raises(TwilioRestException) as caught:
        await client.calls.create_async(to="+15005550001", from_="+15005550006")
    assert caught.value.status == 400 and caught.value.code == 21205


async def test_insights_summaries_carry_state_sip_code_and_mos(client, state):
    good = add_call(state, "twilio", "completed", NOW - 600, mos=4.3)
    poor = add_call(state, "twilio", "dropped", NOW - 300, mos=2.6, sip=503)
    add_call(state, "twilio", "completed", NOW - 20, ended=False)  # no summary while up
    summaries = await client.insights.v1.call_summaries.list_async(page_size=1)
    by_sid = {s.call_sid: s for s in summaries}
    assert set(by_sid) == {good.id, poor.id}
    assert by_sid[poor.id].properties["last_sip_response_num"] == 503
    assert by_sid[poor.id].sdk_edge["metrics"]["inbound"]["mos"]["avg"] == 2.6
    assert "low_mos" in by_sid[poor.id].tags and "low_mos" not in by_sid[good.id].tags
    one = await client.insights.v1.calls(good.id).summary().fetch_async()
    assert one.call_state == "completed" and one.duration == 60


async def test_insights_abnormal_session_filter_keeps_non_200_calls(client, state):
    add_call(state, "twilio", "completed", NOW - 600)
    dropped = add_call(state, "twilio", "dropped", NOW - 300, sip=480)
    summaries = await client.insights.v1.call_summaries.list_async(abnormal_session=True)
    assert [s.call_sid for s in summaries] == [dropped.id]


async def test_monitor_alerts_filter_by_level_and_start_date(client, state, clock):
    clock.now = NOW - 7200
    state.add_alert("11200", "CA" + "1" * 32, "http://app/hook", "HTTP retrieval failure")
    clock.now = NOW
    recent = state.add_alert("11205", "CA" + "2" * 32, "http://app/hook", "connection failure")
    state.add_alert("13227", "CA" + "3" * 32, "http://app/hook", "a warning", log_level="warning")
    start = datetime.fromtimestamp(NOW - 3600, UTC)
    alerts = await client.monitor.v1.alerts.list_async(log_level="error", start_date=start,
                                                       page_size=1)
    assert [(a.sid, a.error_code) for a in alerts] == [(recent.sid, "11205")]
    full = await client.monitor.v1.alerts(recent.sid).fetch_async()
    assert full.resource_sid == "CA" + "2" * 32 and full.request_variables == ""


async def test_a_wrong_auth_token_is_401_with_twilio_error_20003(server, state):
    async with AsyncTwilioHttpClient() as http:
        client = _bad_client(server, state, http)
        with pytest.raises(TwilioException) as listed:
            await client.calls.list_async()
        assert listed.value.args[1].status_code == 401
        with pytest.raises(TwilioRestException) as fetched:
            await client.calls("CA" + "0" * 32).fetch_async()
        assert fetched.value.status == 401 and fetched.value.code == 20003


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_an_injected_failure_surfaces_as_the_sdk_exception_then_clears(
        client, faults, status):
    faults.fail("twilio", status, count=2)
    with pytest.raises(TwilioException) as listed:
        await client.calls.list_async()
    assert listed.value.args[1].status_code == status
    with pytest.raises(TwilioRestException) as created:
        await client.calls.create_async(to="+1", from_="+2", url="http://x/")
    assert created.value.status == status
    assert await client.calls.list_async() == []

"""The real pagerduty EventsApiV2Client against the PagerDuty stand-in over TLS."""

from __future__ import annotations

import asyncio
import warnings

import pagerduty
import pytest

from simulator.pagerduty import PagerDutyState, create_app
from simulator.runner import serve
from simulator.tls import make_certificate


@pytest.fixture
async def pd(tmp_path, state, recorder, faults):
    cert = make_certificate(tmp_path)
    events = PagerDutyState()
    runner, port = await serve(create_app(state, events, recorder, faults),
                               ssl_context=cert.server_context())
    yield f"https://127.0.0.1:{port}", cert, events
    await runner.cleanup()


def _client(state, url, verify, retry=None):
    client = pagerduty.EventsApiV2Client(state.pagerduty_routing_key, base_url=url, verify=verify)
    client.sleep_timer = 0.01  # the client's own backoff; kept tiny so retries take no time
    client.retry.update(retry or {})
    return client


async def test_trigger_acknowledge_resolve_move_one_alert(pd, state, recorder):
    url, cert, events = pd
    client = _client(state, url, cert.client_context())
    key = await asyncio.to_thread(client.trigger, "Twilio drop rate 6%", "callwatch",
                                  dedup_key="inc-1", severity="critical",
                                  links=[{"href": "https://runbooks/x", "text": "runbook"}])
    assert key == "inc-1" and events.alerts["inc-1"].status == "triggered"
    await asyncio.to_thread(client.acknowledge, "inc-1")
    assert events.alerts["inc-1"].status == "acknowledged"
    await asyncio.to_thread(client.resolve, "inc-1")
    assert events.alerts["inc-1"].status == "resolved" and events.opened == 1
    sent = recorder.requests("pagerduty")
    assert [r.json["event_action"] for r in sent] == ["trigger", "acknowledge", "resolve"]
    assert sent[0].json["links"][0]["href"] == "https://runbooks/x"


async def test_a_trigger_without_dedup_key_gets_one_and_retrigger_after_resolve_reopens(pd, state):
    url, cert, events = pd
    client = _client(state, url, cert.client_context())
    key = await asyncio.to_thread(client.trigger, "x", "callwatch")
    assert len(key) == 32 and events.alerts[key].status == "triggered"
    await asyncio.to_thread(client.resolve, key)
    await asyncio.to_thread(client.trigger, "again", "callwatch", dedup_key=key)
    assert events.opened == 2 and events.alerts[key].summary == "again"


async def test_the_ca_file_path_is_accepted_as_verify(pd, state):
    url, cert, events = pd
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # httpx2 prefers an SSLContext
        client = _client(state, url, cert.cert_file)
    await asyncio.to_thread(client.trigger, "via path", "callwatch", dedup_key="p")
    assert "p" in events.alerts


async def test_an_untrusted_certificate_is_refused_by_the_client(pd, state):
    url, _, events = pd
    client = _client(state, url, True)  # system CAs only: our throwaway cert is not among them
    with pytest.raises(pagerduty.Error):
        await asyncio.to_thread(client.trigger, "x", "callwatch")
    assert events.events == []


async def test_an_invalid_event_is_400_with_pagerdutys_body(pd, state):
    url, cert, events = pd
    client = _client(state, url, cert.client_context())
    with pytest.raises(pagerduty.HttpError) as caught:
        await asyncio.to_thread(client.trigger, "x", "callwatch", severity="apocalyptic")
    body = caught.value.response.json()
    assert caught.value.response.status_code == 400 and body["status"] == "invalid event"
    assert any("severity" in e for e in body["errors"]) and events.events == []


async def test_a_wrong_routing_key_is_an_invalid_event(pd, state):
    url, cert, _ = pd
    client = pagerduty.EventsApiV2Client("R0UT1NGKEYWRONG", base_url=url,
                                         verify=cert.client_context())
    with pytest.raises(pagerduty.HttpError) as caught:
        await asyncio.to_thread(client.trigger, "x", "callwatch")
    assert "routing_key" in caught.value.response.json()["errors"][0]


async def test_an_injected_429_is_retried_by_the_client_then_delivered(pd, state, faults):
    url, cert, events = pd
    client = _client(state, url, cert.client_context(), {429: 2})
    faults.fail("pagerduty", 429, count=1)
    await asyncio.to_thread(client.trigger, "x", "callwatch", dedup_key="r")
    assert "r" in events.alerts


async def test_an_injected_503_surfaces_as_server_http_error(pd, state, faults):
    url, cert, events = pd
    client = _client(state, url, cert.client_context(), {503: 0})
    faults.fail("pagerduty", 503, count=1)
    with pytest.raises(pagerduty.ServerHttpError) as caught:
        await asyncio.to_thread(client.trigger, "x", "callwatch")
    assert caught.value.response.status_code == 503 and events.events == []


async def test_malformed_json_and_unknown_paths_are_json_errors(pd):
    import aiohttp
    url, cert, events = pd
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{url}/v2/enqueue", data=b"{nope",
                                ssl=cert.client_context()) as resp:
            assert resp.status == 400 and (await resp.json())["status"] == "invalid event"
        async with session.get(f"{url}/v2/other", ssl=cert.client_context()) as resp:
            assert resp.status == 404 and (await resp.json())["error"] == "not_found"
    assert events.events == []

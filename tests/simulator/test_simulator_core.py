"""Recording and fault injection shared by every simulated service."""

from __future__ import annotations

import random

import pytest

from simulator.core import Faults, Recorder, service_for_path


def test_the_recorder_keeps_requests_but_never_credentials():
    recorder = Recorder(lambda: 5.0)
    item = recorder.add("slack", "POST", "/api/chat.postMessage", {}, {
        "Authorization": "Bearer xoxb-secret", "X-Twilio-Signature": "sig",
        "Content-Type": "application/json"}, '{"channel": "C1"}', "application/json")
    assert item.headers == {"X-Twilio-Signature": "sig", "Content-Type": "application/json"}
    assert item.json == {"channel": "C1"} and item.at == 5.0
    assert recorder.requests("slack") == [item] and recorder.requests("twilio") == []


def test_one_shot_failures_are_used_up_in_order():
    faults = Faults()
    faults.fail("twilio", 429, count=2)
    faults.fail("twilio", 500, count=1)
    assert [faults.take("twilio") for _ in range(4)] == [429, 429, 500, None]
    assert faults.take("telnyx") is None


@pytest.mark.parametrize("service, status, count", [
    ("nonsense", 500, 1), ("twilio", 200, 1), ("twilio", 500, 0)])
def test_bad_failure_requests_are_refused(service, status, count):
    with pytest.raises(ValueError):
        Faults().fail(service, status, count)


def test_an_error_ratio_fails_about_that_share_of_requests_with_a_seeded_rng():
    faults = Faults(rng=random.Random(11))
    faults.set_error_ratio("telnyx", 0.3, 503)
    failed = sum(faults.take("telnyx") == 503 for _ in range(2000))
    assert 540 <= failed <= 660


async def test_latency_goes_through_the_injected_sleep(aiohttp_client):
    from simulator.app import create_app
    from simulator.state import SimState
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    faults = Faults(sleep=sleep)
    faults.set_latency("telnyx", 2.5)
    client = await aiohttp_client(create_app(SimState(), Recorder(), faults))
    response = await client.get("/v2/calls/v3:nothing")
    assert response.status == 401 and slept == [2.5]


@pytest.mark.parametrize("path, service", [
    ("/2010-04-01/Accounts/AC1/Calls.json", "twilio"), ("/v1/Alerts", "twilio"),
    ("/v2/calls", "telnyx"), ("/twilio/api/v2/summary.json", "statuspage"),
    ("/api/chat.postMessage", "slack"), ("/slack/response/abc", "slack"),
    ("/app/webhooks/twilio", "app"),
    ("/control/scenario", "control")])
def test_paths_map_to_their_service(path, service):
    assert service_for_path(path) == service

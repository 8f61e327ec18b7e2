"""The control API and the app stand-in, over HTTP."""

from __future__ import annotations

import random

import aiohttp
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from simulator.app import create_app
from simulator.appsite import AppStats
from simulator.control import Control
from simulator.pagerduty import PagerDutyState
from simulator.scenarios import SCENARIOS
from simulator.traffic import TrafficConfig, TrafficGenerator
from simulator.webhooks import public_key_b64


@pytest.fixture
def key():
    return Ed25519PrivateKey.generate()


@pytest.fixture
def control(state, recorder, faults, slack_state):
    return Control(state, recorder, faults, slack_state, PagerDutyState(), AppStats(),
                   traffic=TrafficConfig())


@pytest.fixture
async def client(aiohttp_client, state, recorder, faults, slack_state, control, key):
    app = create_app(state, recorder, faults, slack_state, telnyx_public_key=public_key_b64(key),
                     app_stats=control.app_stats, control=control)
    return await aiohttp_client(app)


async def test_switching_the_scenario_applies_its_knobs(client, state, faults, clock):
    clock.advance(30)
    response = await client.put("/control/scenario", json={"name": "twilio-outage"})
    body = await response.json()
    assert response.status == 200 and body["name"] == "twilio-outage"
    assert body["since"] == clock.now
    assert body["knobs"]["twilio"]["api_error_ratio"] == 1.0
    assert state.status_indicator == {"twilio": "major", "telnyx": "none"}
    assert faults.take("twilio") == 503 and faults.take("telnyx") is None
    assert (await (await client.get("/control/scenario")).json())["name"] == "twilio-outage"


async def test_slow_api_and_notifier_outage_set_latency_and_notifier_failures(client, faults):
    await client.put("/control/scenario", json={"name": "slow-api"})
    assert faults.latency("twilio") == 2.5 and faults.latency("telnyx") == 2.5
    await client.put("/control/scenario", json={"name": "notifier-outage"})
    assert faults.latency("twilio") == 0.0
    assert faults.take("pagerduty") == 503 and faults.take("slack") == 503
    await client.put("/control/scenario", json={"name": "normal"})
    assert faults.take("pagerduty") is None


async def test_a_fault_after_serving_lets_the_request_act_and_loses_its_answer(client, faults):
    answer = await client.post("/control/fail", json={"service": "statuspage", "status": 504,
                                                      "after_serving": True})
    assert (await answer.json())["after_serving"] is True
    assert faults.take_fault("statuspage") == (504, True)
    assert faults.take_fault("statuspage") is None


@pytest.mark.parametrize("method, path, body, error", [
    ("PUT", "/control/scenario", {"name": "meteor-strike"}, "unknown_scenario"),
    ("PUT", "/control/scenario", {}, "invalid_scenario"),
    ("PUT", "/control/scenario", "not json", "invalid_json"),
    ("PUT", "/control/scenario", [1], "invalid_body"),
    ("POST", "/control/fail", {"service": "fax", "status": 500, "count": 1}, "invalid_fault"),
    ("POST", "/control/fail", {"service": "slack", "status": "500"}, "invalid_fault"),
    ("POST", "/control/fail", {"service": "slack", "status": 200, "count": 1}, "invalid_fault"),
    ("POST", "/control/fail", {"service": "slack", "status": 504, "after_serving": "yes"},
     "invalid_fault"),
    ("GET", "/control/requests?service=fax", None, "unknown_service"),
    ("PUT", "/control/statuspage", {"provider": "twilio", "indicator": "meh"},
     "invalid_statuspage"),
    ("PUT", "/control/statuspage", {"provider": "vonage", "indicator": "major"},
     "invalid_statuspage"),
    ("PUT", "/control/traffic", {"rate": "fast"}, "invalid_traffic"),
    ("PUT", "/control/traffic", {"rate": -1}, "invalid_traffic"),
    ("PUT", "/control/traffic", {}, "invalid_traffic"),
    ("GET", "/control/requests?service=slack&limit=-3", None, "invalid_limit"),
])
async def test_bad_control_input_is_400_json_naming_the_problem(client, method, path, body, error):
    kwargs = {"data": body} if isinstance(body, str) else {"json": body}
    response = await client.request(method, path, **(kwargs if body is not None else {}))
    payload = await response.json()
    assert response.status == 400 and payload["error"] == error and payload["detail"]


async def test_an_unknown_scenario_names_every_allowed_one(client):
    payload = await (await client.put("/control/scenario", json={"name": "x"})).json()
    assert all(name in payload["detail"] for name in SCENARIOS)


async def test_an_unknown_path_is_a_json_404(client):
    response = await client.get("/control/nothing-here")
    assert response.status == 404 and (await response.json())["error"] == "not_found"


async def test_injected_failures_and_the_request_log_through_the_api(client):
    await client.post("/control/fail", json={"service": "slack", "status": 429, "count": 1})
    first = await client.post("/api/chat.postMessage", json={"channel": "#x", "text": "t"})
    assert first.status == 429 and first.headers["Retry-After"] == "1"
    log = await (await client.get("/control/requests?service=slack")).json()
    assert log["count"] == 1 and log["requests"][0]["json"] == {"channel": "#x", "text": "t"}


async def test_reset_forgets_everything_and_returns_to_normal(client, state, control):
    await client.put("/control/scenario", json={"name": "total-outage"})
    control.slack.messages.append({"text": "x"})
    response = await client.post("/control/reset")
    assert (await response.json()) == {"reset": True, "scenario": "normal"}
    assert state.status_indicator["twilio"] == "none" and control.slack.messages == []
    log = await (await client.get("/control/requests?service=slack")).json()
    assert log["count"] == 0


async def _traffic_to_app(client, state, control, key, calls: int):
    base = str(client.make_url("/app/webhooks"))
    generator = TrafficGenerator(state, lambda: control.scenario,
                                 TrafficConfig(f"{base}/twilio", f"{base}/telnyx"), key,
                                 rng=random.Random(8))
    async with aiohttp.ClientSession() as session:
        await generator.send(session, generator.generate(calls))
    return generator


async def test_the_app_accepts_every_signed_webhook_the_generator_sends(
        client, state, control, key):
    generator = await _traffic_to_app(client, state, control, key, 60)
    assert generator.stats.by_status == {200: generator.stats.sent}
    assert control.app_stats.accepted["twilio"] > 0 and control.app_stats.accepted["telnyx"] > 0
    summary = await (await client.get("/control/summary")).json()
    assert sum(summary["ended"]["twilio"].values()) == len(state.provider_calls("twilio"))


async def test_webhook_failures_make_the_app_fail_about_30_percent(client, state, control, key):
    await client.put("/control/scenario", json={"name": "webhook-failures"})
    generator = await _traffic_to_app(client, state, control, key, 200)
    failed = generator.stats.by_status.get(500, 0) / generator.stats.sent
    assert 0.2 <= failed <= 0.4


@pytest.mark.parametrize("provider, headers", [
    ("twilio", {"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"}),
    ("telnyx", {"telnyx-signature-ed25519": "AAAA", "telnyx-timestamp": "1"}),
    ("telnyx", {})])
async def test_the_app_refuses_forged_webhooks_with_403_json(client, provider, headers):
    response = await client.post(f"/app/webhooks/{provider}", data=b"CallSid=CA1",
                                 headers={"Content-Type": "application/x-www-form-urlencoded",
                                          **headers})
    assert response.status == 403 and (await response.json())["error"] == "invalid_signature"


async def test_the_app_api_answers(client):
    assert (await (await client.get("/app/api/health")).json()) == {"status": "ok"}


async def test_an_oversized_body_is_a_413_json_on_any_path(client):
    response = await client.post("/api/chat.postMessage", data=b"x" * (1024 * 1024 + 1),
                                 headers={"Content-Type": "application/json"})
    assert response.status == 413 and (await response.json())["error"] == "payload_too_large"


async def test_a_wrong_method_is_a_405_json(client):
    response = await client.delete("/control/scenario")
    assert response.status == 405 and (await response.json())["error"] == "method_not_allowed"


async def test_one_status_page_and_the_traffic_rate_can_be_set_directly(client, state, control):
    response = await client.put("/control/statuspage", json={"provider": "telnyx",
                                                             "indicator": "critical"})
    assert response.status == 200 and state.status_indicator["telnyx"] == "critical"
    response = await client.put("/control/traffic", json={"rate": 50, "hold_seconds": 1.5})
    assert (await response.json()) == {"rate": 50.0, "hold_seconds": 1.5}
    assert control.traffic.rate == 50.0

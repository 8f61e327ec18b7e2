"""The real twilio and telnyx SDKs polling the simulator over HTTP, through the exporter app."""

from __future__ import annotations

import random

import pytest
from exporter_testkit import API_AUTH, API_TOKEN
from prometheus_client import CollectorRegistry

from callwatch.web import REGISTRY, create_app
from exporter.app import setup_exporter
from exporter.background import POLLER
from simulator.app import create_app as create_sim
from simulator.core import Faults, Recorder
from simulator.state import SimCall, SimState

NOW = 1_795_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def sim_state(clock):
    return SimState(clock=clock, rng=random.Random(3))


@pytest.fixture
def faults():
    return Faults(rng=random.Random(5))


@pytest.fixture
def recorder(clock):
    return Recorder(clock)


@pytest.fixture
async def sim(aiohttp_server, sim_state, recorder, faults):
    return await aiohttp_server(create_sim(sim_state, recorder, faults))


def sim_env(sim, state: SimState, **extra) -> dict[str, str]:
    base = str(sim.make_url("")).rstrip("/")
    env = {"TWILIO_ACCOUNT_SID": state.twilio_account_sid,
           "TWILIO_AUTH_TOKEN": state.twilio_auth_token, "TWILIO_BASE_URL": base,
           "TELNYX_API_KEY": state.telnyx_api_key, "TELNYX_BASE_URL": base + "/v2",
           "TELNYX_CONNECTION_ID": state.telnyx_connection_id,
           "STATUSPAGE_TWILIO_URL": base + "/twilio/api/v2/summary.json",
           "STATUSPAGE_TELNYX_URL": base + "/telnyx/api/v2/summary.json"}
    env.update(extra)
    return env


def add_call(state, provider, outcome, start, *, answered=None, mos=4.2, sip=200,
             cause="normal_clearing", ended=True, duration=60):
    answered = outcome in ("completed", "dropped") if answered is None else answered
    prefix = "CA" if provider == "twilio" else "v3:"
    call = SimCall(provider, state.new_id(prefix, 34 if provider == "twilio" else 25), outcome,
                   "outbound", "+15005550006", "+15005550001", start, answered, sip=sip,
                   hangup_cause=cause, mos=mos if answered else None,
                   session_id=state.new_id("", 32), leg_id=state.new_id("", 32))
    state.add_call(call)
    if ended:
        state.end_call(call, start + (duration if answered else 0))
    return call


async def exporter(aiohttp_client, policy, env, clock):
    app = create_app(policy, CollectorRegistry())
    setup_exporter(app, {"CALLWATCH_RECEIVER_TOKEN": API_TOKEN, **env}, clock=clock)
    client = await aiohttp_client(app, headers=API_AUTH)
    poller = app[POLLER]
    for task in poller._tasks:       # drive polls by hand: deterministic, no sleeps
        task.cancel()
    return client, poller


async def poll_all(poller):
    return {source.name: await poller.run_once(source) for source in poller.sources}


def value(client, name, labels):
    return client.server.app[REGISTRY].get_sample_value(name, labels) or 0.0


async def test_polling_mode_counts_ended_calls_from_both_apis(aiohttp_client, policy, sim,
                                                              sim_state, clock):
    add_call(sim_state, "twilio", "completed", NOW - 100)
    add_call(sim_state, "twilio", "busy", NOW - 90, sip=486)
    add_call(sim_state, "twilio", "completed", NOW - 20, ended=False)
    add_call(sim_state, "telnyx", "completed", NOW - 100)
    add_call(sim_state, "telnyx", "dropped", NOW - 80, cause="unspecified", sip=503)
    add_call(sim_state, "telnyx", "completed", NOW - 10, ended=False)
    client, poller = await exporter(aiohttp_client, policy, sim_env(sim, sim_state), clock)
    delays = await poll_all(poller)
    assert all(d == s.interval
               for s, d in zip(poller.sources, delays.values(), strict=True)), delays
    ended = "telephony_calls_ended_total"
    assert value(client, ended, {"provider": "twilio", "direction": "outbound",
                                 "outcome": "completed"}) == 1
    assert value(client, ended, {"provider": "twilio", "direction": "outbound",
                                 "outcome": "busy"}) == 1
    assert value(client, ended, {"provider": "telnyx", "direction": "outbound",
                                 "outcome": "dropped"}) == 1
    assert value(client, "telephony_calls_active", {"provider": "twilio"}) == 1
    assert value(client, "telephony_calls_active", {"provider": "telnyx"}) == 1
    assert value(client, "telephony_provider_up", {"provider": "twilio"}) == 1
    assert value(client, "telephony_provider_up", {"provider": "telnyx"}) == 1
    assert value(client, "telephony_provider_status", {"provider": "twilio"}) == 0
    # Insights MOS (sdk_edge) and Telnyx CDR MOS were recorded
    assert value(client, "telephony_call_mos_count", {"provider": "twilio"}) >= 1
    assert value(client, "telephony_provider_api_requests_total",
                 {"provider": "twilio", "operation": "calls", "outcome": "success"}) >= 2


async def test_a_second_poll_counts_nothing_twice(aiohttp_client, policy, sim, sim_state, clock):
    add_call(sim_state, "twilio", "completed", NOW - 100)
    add_call(sim_state, "telnyx", "user_busy", NOW - 100, answered=False, cause="user_busy")
    client, poller = await exporter(aiohttp_client, policy, sim_env(sim, sim_state), clock)
    await poll_all(poller)
    clock.now += 30
    add_call(sim_state, "twilio", "failed", NOW + 5, sip=500)
    await poll_all(poller)
    labels = {"provider": "twilio", "direction": "outbound"}
    assert value(client, "telephony_calls_ended_total", {**labels, "outcome": "completed"}) == 1
    assert value(client, "telephony_calls_ended_total", {**labels, "outcome": "failed"}) == 1


async def test_the_second_poll_asks_only_for_what_is_new(aiohttp_client, policy, sim, sim_state,
                                                         clock, recorder):
    _client, poller = await exporter(aiohttp_client, policy, sim_env(sim, sim_state), clock)
    calls = next(s for s in poller.sources if s.name == "twilio.calls")
    await poller.run_once(calls)
    clock.now += 30
    await poller.run_once(calls)
    asked = [r.query.get("EndTime>") for r in recorder.requests("twilio")
             if r.path.endswith("/Calls.json") and r.query.get("EndTime>")]
    # the interval (30 s) before the first poll, then from the last poll on; 60 s overlap each
    assert asked == ["2026-11-18T11:05:10Z", "2026-11-18T11:05:40Z"]


async def test_webhook_mode_leaves_ended_calls_to_the_webhooks(aiohttp_client, policy, sim,
                                                               sim_state, clock):
    add_call(sim_state, "twilio", "completed", NOW - 100)
    env = sim_env(sim, sim_state, CALLWATCH_PUBLIC_URL="https://hooks.example.com")
    client, poller = await exporter(aiohttp_client, policy, env, clock)
    await poll_all(poller)
    assert value(client, "telephony_calls_ended_total", {
        "provider": "twilio", "direction": "outbound", "outcome": "completed"}) == 0


async def test_monitor_webhook_errors_count_as_failed_deliveries_once(aiohttp_client, policy, sim,
                                                                      sim_state, clock):
    sim_state.add_alert("11200", "CA1", "https://app.example.com/hook", "HTTP retrieval failure")
    sim_state.add_alert("13227", "CA2", "https://app.example.com/x", "not a webhook error")
    sim_state.add_delivery("failed", "call.hangup", "v3:1", "https://app/hook", 500)
    sim_state.add_delivery("delivered", "call.hangup", "v3:2", "https://app/hook", 200)
    client, poller = await exporter(aiohttp_client, policy, sim_env(sim, sim_state), clock)
    await poll_all(poller)
    clock.now += 60
    await poll_all(poller)
    failures = {"source": "provider", "outcome": "failure"}
    assert value(client, "telephony_webhook_deliveries_total",
                 {"provider": "twilio", **failures}) == 1
    assert value(client, "telephony_webhook_deliveries_total",
                 {"provider": "telnyx", **failures}) == 1
    assert value(client, "telephony_webhook_deliveries_total",
                 {"provider": "telnyx", "source": "provider", "outcome": "success"}) == 1


async def test_a_5xx_marks_the_provider_down_and_backs_off(aiohttp_client, policy, sim, sim_state,
                                                           clock, faults):
    client, poller = await exporter(aiohttp_client, policy, sim_env(sim, sim_state), clock)
    calls = next(s for s in poller.sources if s.name == "twilio.calls")
    faults.fail("twilio", 503, 1)
    first = await poller.run_once(calls)
    assert first == calls.interval * 2
    assert value(client, "telephony_provider_up", {"provider": "twilio"}) == 0
    assert value(client, "telephony_provider_api_requests_total",
                 {"provider": "twilio", "operation": "calls", "outcome": "error"}) == 1
    health = await (await client.get("/telephony/providers/twilio/health")).json()
    assert health["inputs"]["api"]["up"] is False and health["health_ratio"] == 0
    assert "503" in health["inputs"]["api"]["last_error"]
    assert await poller.run_once(calls) == calls.interval
    assert value(client, "telephony_provider_up", {"provider": "twilio"}) == 1


async def test_a_429_on_telnyx_backs_off_too(aiohttp_client, policy, sim, sim_state, clock,
                                             faults):
    client, poller = await exporter(aiohttp_client, policy, sim_env(sim, sim_state), clock)
    source = next(s for s in poller.sources if s.name == "telnyx.deliveries")
    faults.fail("telnyx", 429, 1)
    assert await poller.run_once(source) > source.interval
    assert value(client, "telephony_provider_up", {"provider": "telnyx"}) == 0


async def test_statuspage_indicator_moves_the_status_metric(aiohttp_client, policy, sim,
                                                            sim_state, clock):
    from simulator.statuspage import set_indicator
    set_indicator(sim_state, "telnyx", "major")
    client, poller = await exporter(aiohttp_client, policy, sim_env(sim, sim_state), clock)
    await poll_all(poller)
    assert value(client, "telephony_provider_status", {"provider": "telnyx"}) == 2
    assert value(client, "telephony_provider_status", {"provider": "twilio"}) == 0


async def test_without_credentials_pollers_stay_off_and_readyz_says_so(aiohttp_client, policy,
                                                                       clock):
    client, poller = await exporter(aiohttp_client, policy, {"CALLWATCH_STATUSPAGE": "off"}, clock)
    assert [s.name for s in poller.sources] == ["tracker.sweep"]
    ready = await client.get("/readyz")
    assert ready.status == 200
    detail = (await ready.json())["checks"]["exporter_pollers"]
    assert detail["ok"] is True and "TELNYX_API_KEY not set" in detail["detail"]


async def test_telnyx_polls_ask_only_for_records_finished_since_the_cursor(
        aiohttp_client, policy, sim, sim_state, clock, recorder):
    _client, poller = await exporter(aiohttp_client, policy, sim_env(sim, sim_state), clock)
    await poll_all(poller)
    clock.now += 60
    await poll_all(poller)
    telnyx = recorder.requests("telnyx")
    records = [r.query for r in telnyx if r.path == "/v2/detail_records"]
    assert records[0]["filter[record_type]"] == "call-control"
    assert [q["filter[finished_at][gte]"] for q in records] == [
        "2026-11-18T11:05:10Z", "2026-11-18T11:05:40Z"]
    failed = [r.query for r in telnyx if r.path == "/v2/webhook_deliveries"
              and r.query.get("filter[status][eq]") == "failed"]
    assert len(failed) == 2 and failed[1]["filter[finished_at][gte]"] == "2026-11-18T11:05:40Z"
    active = [r.path for r in telnyx if r.path.endswith("/active_calls")]
    assert active == [f"/v2/connections/{sim_state.telnyx_connection_id}/active_calls"] * 2


async def test_polling_mode_tells_twilio_drops_from_insights_sip_codes(aiohttp_client, policy,
                                                                       sim, sim_state, clock):
    add_call(sim_state, "twilio", "completed", NOW - 100, sip=200)
    add_call(sim_state, "twilio", "dropped", NOW - 90, sip=503)
    client, poller = await exporter(aiohttp_client, policy, sim_env(sim, sim_state), clock)
    calls = next(s for s in poller.sources if s.name == "twilio.calls")
    insights = next(s for s in poller.sources if s.name == "twilio.insights")
    labels = {"provider": "twilio", "direction": "outbound"}
    await poller.run_once(calls)
    # completed calls wait for Insights: the Call resource has no SIP code
    assert value(client, "telephony_calls_ended_total", {**labels, "outcome": "completed"}) == 0
    assert len(calls.pending) == 2
    await poller.run_once(insights)
    await poller.run_once(calls)          # seeing them again counts nothing twice
    assert value(client, "telephony_calls_ended_total", {**labels, "outcome": "completed"}) == 1
    assert value(client, "telephony_calls_ended_total", {**labels, "outcome": "dropped"}) == 1
    assert len(calls.pending) == 0


def test_a_completed_call_without_a_summary_counts_as_completed_after_the_deadline():
    from exporter.calls import CallTracker
    from exporter.collectors.twilio_pending import PendingCompleted
    from exporter.metrics import create_metrics
    registry = CollectorRegistry()
    clock = Clock()
    tracker = CallTracker(create_metrics(registry), clock=clock)
    pending = PendingCompleted(tracker, clock, deadline=600, capacity=2)
    pending.add("CA1", "inbound")
    clock.now += 601
    pending.add("CA2", "inbound")
    assert pending.expire() == 1
    for sid in ("CA3", "CA4"):             # over capacity: the oldest counts at once
        pending.add(sid, "inbound")
    completed = registry.get_sample_value("telephony_calls_ended_total", {
        "provider": "twilio", "direction": "inbound", "outcome": "completed"})
    assert completed == 2 and list(pending.items) == ["CA3", "CA4"]
    assert pending.resolve("CA3", "480") and not pending.resolve("CA3", "200")
    pending.add("CA1", "inbound")          # already counted: not parked again
    assert "CA1" not in pending.items

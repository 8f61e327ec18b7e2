"""Each simulator scenario moves the exporter's metrics the way its name says.

The simulator (``simulator.Simulator``) plays both providers: its traffic generator makes signed
webhooks for N calls drawn from the scenario (posted here to the exporter's real endpoints), and
its API/Statuspage stand-ins answer the exporter's pollers (real twilio/telnyx SDKs over HTTP).
Webhooks are the source of truth for ended calls (CALLWATCH_PUBLIC_URL and TELNYX_PUBLIC_KEY set).
"""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from exporter_testkit import API_AUTH, API_TOKEN
from prometheus_client import CollectorRegistry

from callwatch.web import REGISTRY, create_app
from exporter.app import setup_exporter
from exporter.background import POLLER
from policy.spec_exporter import ExporterSettings
from simulator import Simulator

PUBLIC = "https://hooks.example.com"
CALLS = 1200


@pytest.fixture
async def sim():
    async with Simulator(twilio_webhook_url=PUBLIC + "/telephony/webhooks/twilio",
                         telnyx_webhook_url=PUBLIC + "/telephony/webhooks/telnyx",
                         traffic=False, seed=7) as simulator:
        yield simulator


@pytest.fixture
async def exporter(aiohttp_client, policy, sim):
    settings = ExporterSettings(api_timeout_seconds=5.0)
    app = create_app(dataclasses.replace(policy, exporter=settings), CollectorRegistry())
    setup_exporter(app, {**sim.env(), "CALLWATCH_PUBLIC_URL": PUBLIC,
                         "CALLWATCH_RECEIVER_TOKEN": API_TOKEN})
    client = await aiohttp_client(app, headers=API_AUTH)
    for task in app[POLLER]._tasks:      # polls are driven by the tests
        task.cancel()
    return client


async def deliver(client, sim, calls: int = CALLS) -> None:
    """Generate ``calls`` calls in the current scenario and post their webhooks, 32 at a time."""
    webhooks = sim.generator.generate(calls)
    for start in range(0, len(webhooks), 32):
        batch = webhooks[start:start + 32]
        responses = await asyncio.gather(*(
            client.post(w.url.replace(PUBLIC, ""), data=w.body, headers=w.headers) for w in batch))
        assert {r.status for r in responses} == {200}, [await r.text() for r in responses][:3]


async def poll(client, *names: str) -> None:
    """One poll of each named source (all when none named), concurrently."""
    poller = client.server.app[POLLER]
    await asyncio.gather(*(poller.run_once(source) for source in poller.sources
                           if not names or source.name in names))


def get(client, name: str, **labels) -> float:
    registry = client.server.app[REGISTRY]
    total = 0.0
    for family in registry.collect():
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                total += s.value
    return total


def drop_rate(client, provider: str) -> float:
    dropped = get(client, "telephony_calls_ended_total", provider=provider, outcome="dropped")
    answered = dropped + get(client, "telephony_calls_ended_total", provider=provider,
                             outcome="completed")
    return dropped / answered


def mean_mos(client, provider: str) -> float:
    return (get(client, "telephony_call_mos_sum", provider=provider)
            / get(client, "telephony_call_mos_count", provider=provider))


async def test_normal_traffic_drops_about_1_percent_with_good_quality(exporter, sim):
    await deliver(exporter, sim)
    await poll(exporter)
    ended = get(exporter, "telephony_calls_ended_total")
    assert ended == CALLS
    assert drop_rate(exporter, "twilio") < 0.04 and drop_rate(exporter, "telnyx") < 0.04
    assert mean_mos(exporter, "telnyx") == pytest.approx(4.3, abs=0.1)
    for provider in ("twilio", "telnyx"):
        assert get(exporter, "telephony_provider_up", provider=provider) == 1
        assert get(exporter, "telephony_provider_status", provider=provider) == 0


async def test_high_drop_rate_drops_about_a_tenth_of_answered_calls(exporter, sim):
    sim.set_scenario("high-drop-rate")
    await deliver(exporter, sim)
    for provider in ("twilio", "telnyx"):
        assert drop_rate(exporter, provider) == pytest.approx(0.10, abs=0.035), provider
    assert get(exporter, "telephony_calls_ended_total") == CALLS
    assert get(exporter, "telephony_calls_active") == 0


async def test_poor_quality_pulls_mos_below_the_critical_threshold(exporter, sim, policy):
    sim.set_scenario("poor-quality")
    await deliver(exporter, sim, 400)
    await poll(exporter, "twilio.insights", "twilio.statuspage", "telnyx.statuspage")
    critical = policy.thresholds["call_quality"].critical
    assert mean_mos(exporter, "telnyx") < critical
    assert mean_mos(exporter, "twilio") < critical      # from Voice Insights summaries
    assert get(exporter, "telephony_provider_status", provider="twilio") == 1
    quality = await (await exporter.get("/telephony/calls/active/quality")).json()
    assert quality["providers"]["telnyx"]["status"] == "critical"


@pytest.mark.parametrize("scenario,down", [("twilio-outage", ("twilio",)),
                                           ("telnyx-outage", ("telnyx",)),
                                           ("total-outage", ("twilio", "telnyx"))])
async def test_outages_take_the_provider_down_everywhere(exporter, sim, scenario, down):
    sim.set_scenario(scenario)
    await deliver(exporter, sim, 600)
    await poll(exporter)
    for provider in ("twilio", "telnyx"):
        failed = get(exporter, "telephony_calls_ended_total", provider=provider, outcome="failed")
        ended = get(exporter, "telephony_calls_ended_total", provider=provider)
        health = await (await exporter.get(f"/telephony/providers/{provider}/health")).json()
        if provider in down:
            assert failed / ended > 0.8
            assert get(exporter, "telephony_provider_up", provider=provider) == 0
            assert get(exporter, "telephony_provider_status", provider=provider) >= 2
            assert get(exporter, "telephony_provider_api_requests_total", provider=provider,
                       outcome="error") >= 1
            assert health["health_ratio"] < 0.7 and health["recent_failed_calls"]
        else:
            assert failed / ended < 0.05
            assert get(exporter, "telephony_provider_up", provider=provider) == 1
            assert health["health_ratio"] >= 0.8


async def test_webhook_failures_show_as_failed_provider_deliveries(exporter, sim):
    sim.set_scenario("webhook-failures")
    await deliver(exporter, sim, 600)
    await poll(exporter, "twilio.alerts", "telnyx.deliveries")
    for provider in ("twilio", "telnyx"):
        failed = get(exporter, "telephony_webhook_deliveries_total", provider=provider,
                     source="provider", outcome="failure")
        ended = get(exporter, "telephony_calls_ended_total", provider=provider)
        # ~30% of final callbacks "failed" at the provider (Monitor 11200 / failed deliveries)
        assert failed / ended == pytest.approx(0.3, abs=0.08), provider


async def test_slow_api_shows_in_the_request_duration(exporter, sim):
    sim.set_scenario("slow-api")
    await poll(exporter, "twilio.alerts", "telnyx.deliveries")
    for provider in ("twilio", "telnyx"):
        count = get(exporter, "telephony_provider_api_request_duration_seconds_count",
                    provider=provider)
        fast = get(exporter, "telephony_provider_api_request_duration_seconds_bucket",
                   provider=provider, le="2.0")
        assert count >= 1 and fast == 0, provider      # every request took over 2 s


async def test_high_drop_rate_seen_by_polling_alone(aiohttp_client, policy):
    """Polling mode (no webhooks): the Calls resource + Insights (Twilio) and call-control
    detail records (Telnyx) find the same tenth of answered calls dropped."""
    async with Simulator(traffic=False, seed=11) as sim:
        app = create_app(dataclasses.replace(policy, exporter=ExporterSettings(
            api_timeout_seconds=5.0)), CollectorRegistry())
        env = {k: v for k, v in sim.env().items() if k != "TELNYX_PUBLIC_KEY"}
        setup_exporter(app, {**env, "CALLWATCH_RECEIVER_TOKEN": API_TOKEN})
        client = await aiohttp_client(app, headers=API_AUTH)
        for task in app[POLLER]._tasks:
            task.cancel()
        sim.set_scenario("high-drop-rate")
        sim.generator.generate(CALLS)          # calls exist at the providers; no webhooks sent
        await poll(client, "twilio.calls", "telnyx.calls")
        await poll(client, "twilio.insights")
        for provider in ("twilio", "telnyx"):
            assert drop_rate(client, provider) == pytest.approx(0.10, abs=0.035), provider
        ended = get(client, "telephony_calls_ended_total")
        assert ended == CALLS

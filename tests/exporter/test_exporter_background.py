"""The app's own background work: pollers and probes started from cleanup_ctx, against the
simulator (its API stand-ins and its customer-app endpoints as probe targets)."""

from __future__ import annotations

import asyncio
import base64
import dataclasses

from cryptography.hazmat.primitives import serialization
from prometheus_client import CollectorRegistry

from callwatch.web import REGISTRY, create_app
from exporter.app import setup_exporter
from policy.spec_exporter import DEFAULT_POLL_INTERVALS, ExporterSettings, ProbeTarget
from simulator import Simulator


def private_key_b64(key) -> str:
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                            serialization.NoEncryption())
    return base64.b64encode(raw).decode()


async def wait_for(predicate, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached")


async def test_pollers_and_probes_run_by_themselves_and_see_webhook_failures(aiohttp_client,
                                                                             policy):
    async with Simulator(traffic=False, seed=3) as sim:
        env = sim.env()
        targets = (ProbeTarget("app-twilio", "twilio_webhook", env["APP_WEBHOOK_TWILIO_URL"],
                               "twilio"),
                   ProbeTarget("app-telnyx", "telnyx_webhook", env["APP_WEBHOOK_TELNYX_URL"],
                               "telnyx"),
                   ProbeTarget("app-api", "http", env["APP_API_URL"], None))
        settings = ExporterSettings(poll_intervals=dict.fromkeys(DEFAULT_POLL_INTERVALS, 0.2),
                                    probe_interval_seconds=0.05, probe_targets=targets,
                                    api_timeout_seconds=5.0)
        app = create_app(dataclasses.replace(policy, exporter=settings), CollectorRegistry())
        setup_exporter(app, {**env, "CALLWATCH_PROBE_TELNYX_PRIVATE_KEY":
                             private_key_b64(sim.telnyx_key)})
        client = await aiohttp_client(app)
        get = app[REGISTRY].get_sample_value
        await wait_for(lambda: get("telephony_provider_up", {"provider": "telnyx"}) == 1
                       and get("telephony_provider_status", {"provider": "twilio"}) == 0)
        await wait_for(lambda: all(get("telephony_probe_success", {"target": t.name}) == 1
                                   for t in targets))
        assert sim.app_stats.accepted["twilio"] >= 1 and sim.app_stats.accepted["telnyx"] >= 1
        sim.set_scenario("webhook-failures")
        failures = {"provider": "twilio", "source": "probe", "outcome": "failure"}
        await wait_for(lambda: (get("telephony_webhook_deliveries_total", failures) or 0) >= 1)
        ready = await (await client.get("/readyz")).json()
        assert ready["checks"]["exporter_pollers"]["ok"] is True

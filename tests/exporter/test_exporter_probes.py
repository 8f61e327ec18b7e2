"""Synthetic probes: signed webhooks to the exporter's own endpoints, HTTP probes, metrics."""

import base64
import time

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from exporter_testkit import NOW, TWILIO_TOKEN, make_app
from prometheus_client import CollectorRegistry

from callwatch.commands.probe import render_table
from exporter.metrics import create_metrics
from exporter.probes import ProbeContext
from exporter.probes.runner import ProbeRunner
from policy.spec_exporter import ProbeTarget


def targets(server):
    url = lambda path: str(server.make_url(path))  # noqa: E731
    return (ProbeTarget("twilio-hook", "twilio_webhook", url("/telephony/webhooks/twilio"),
                        "twilio"),
            ProbeTarget("telnyx-hook", "telnyx_webhook", url("/telephony/webhooks/telnyx"),
                        "telnyx"),
            ProbeTarget("api", "http", url("/healthz"), None),
            ProbeTarget("missing", "http", url("/nope"), None))


@pytest.fixture
async def exporter_server(aiohttp_server, policy, base_env, clock):
    # the probe signs over the URL it calls, so the exporter must validate that same URL
    env = {k: v for k, v in base_env.items() if k != "CALLWATCH_PUBLIC_URL"}
    return await aiohttp_server(make_app(policy, env, clock))


async def run(server, twilio_token, telnyx_key, registry):
    runner = ProbeRunner(targets(server), create_metrics(registry))
    async with aiohttp.ClientSession() as session:
        ctx = ProbeContext(session, 5.0, lambda: NOW, time.monotonic, twilio_token, telnyx_key)
        return {r.target: r for r in await runner.run_round(ctx)}


async def test_signed_probes_reach_the_endpoints_and_are_not_counted_as_calls(
        exporter_server, telnyx_key):
    registry = CollectorRegistry()
    results = await run(exporter_server, TWILIO_TOKEN, telnyx_key, registry)
    assert results["twilio-hook"].success, results["twilio-hook"]
    assert results["telnyx-hook"].success, results["telnyx-hook"]
    assert results["api"].success and results["api"].status == 200
    assert not results["missing"].success and results["missing"].status == 404
    get = registry.get_sample_value
    assert get("telephony_probe_success", {"target": "twilio-hook"}) == 1
    assert get("telephony_probe_success", {"target": "missing"}) == 0
    assert get("telephony_probe_duration_seconds", {"target": "api"}) > 0
    assert get("telephony_webhook_deliveries_total",
               {"provider": "telnyx", "source": "probe", "outcome": "success"}) == 1
    from callwatch.web import REGISTRY
    app_registry = exporter_server.app[REGISTRY]
    assert app_registry.get_sample_value("telephony_calls_ended_total", {
        "provider": "twilio", "direction": "outbound", "outcome": "completed"}) == 0


async def test_probes_signed_with_the_wrong_secrets_fail_as_a_metric(exporter_server):
    registry = CollectorRegistry()
    results = await run(exporter_server, "wrong-token", Ed25519PrivateKey.generate(), registry)
    assert not results["twilio-hook"].success and results["twilio-hook"].status == 403
    assert not results["telnyx-hook"].success and results["telnyx-hook"].status == 403
    assert registry.get_sample_value("telephony_webhook_deliveries_total", {
        "provider": "twilio", "source": "probe", "outcome": "failure"}) == 1


async def test_probes_without_secrets_fail_saying_which_secret_is_missing(exporter_server):
    results = await run(exporter_server, None, None, CollectorRegistry())
    assert "TWILIO_AUTH_TOKEN" in results["twilio-hook"].detail
    assert "CALLWATCH_PROBE_TELNYX_PRIVATE_KEY" in results["telnyx-hook"].detail


async def test_an_unreachable_target_is_a_failed_probe_not_an_error(unused_tcp_port):
    target = ProbeTarget("down", "http", f"http://127.0.0.1:{unused_tcp_port}/", None)
    async with aiohttp.ClientSession() as session:
        ctx = ProbeContext(session, 2.0, time.time, time.monotonic)
        (result,) = await ProbeRunner((target,), None).run_round(ctx)
    assert not result.success and result.status is None and "Connect" in result.detail


def test_the_result_table_names_every_target():
    from exporter.probes import ProbeResult
    table = render_table([ProbeResult("twilio-hook", "twilio_webhook", True, 0.012, 200, "probe"),
                          ProbeResult("telnyx-hook", "telnyx_webhook", False, 0.5, 403, "bad")])
    lines = table.splitlines()
    assert lines[0].split()[:5] == ["TARGET", "KIND", "SUCCESS", "DURATION", "STATUS"]
    assert "twilio-hook" in lines[1] and "yes" in lines[1] and "12 ms" in lines[1]
    assert "NO" in lines[2] and "403" in lines[2]


def test_the_probe_private_key_file_is_read(tmp_path, telnyx_key):
    from exporter.config import load_config
    raw = telnyx_key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                   serialization.NoEncryption())
    path = tmp_path / "key"
    path.write_text(base64.b64encode(raw).decode() + "\n")
    config = load_config({"CALLWATCH_PROBE_TELNYX_PRIVATE_KEY_FILE": str(path)})
    assert config.probe_telnyx_private_key == base64.b64encode(raw).decode()

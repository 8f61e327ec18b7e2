"""The runbook endpoints against a real Prometheus evaluating our generated rules."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, generate_latest

from callwatch.stack import free_port, start_prometheus, wait_for
from callwatch.web import create_app
from policy import catalog
from policy.render import PROMETHEUS_PATH, RULES_PATH, RenderOptions, render_all
from receiver.app import setup_receiver
from tests.receiver.conftest import TOKEN, auth


async def _feed(counter: Counter) -> None:
    """Twilio drops one answered call in ten; Telnyx none. 100 calls a second each."""
    while True:
        counter.labels("twilio", "outbound", "completed").inc(9)
        counter.labels("twilio", "outbound", "dropped").inc(1)
        counter.labels("telnyx", "outbound", "completed").inc(10)
        await asyncio.sleep(0.1)


@pytest.fixture
async def prometheus(tmp_path: Path, policy, prometheus_bin, aiohttp_server):
    registry = CollectorRegistry()
    counter = Counter(catalog.CALLS_ENDED.removesuffix("_total"), "calls",
                      ["provider", "direction", "outcome"], registry=registry)

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(registry), content_type="text/plain")

    exporter = web.Application()
    exporter.router.add_get("/metrics", metrics)
    server = await aiohttp_server(exporter)
    feeder = asyncio.create_task(_feed(counter))
    port = free_port()
    options = RenderOptions(time_scale=60, callwatch_targets=(f"127.0.0.1:{server.port}",),
                            alertmanagers=(f"127.0.0.1:{free_port()}",))
    files = render_all(policy, options)
    for relative in (PROMETHEUS_PATH, RULES_PATH):
        target = tmp_path / relative.removeprefix("deploy/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(files[relative])
    process = start_prometheus(prometheus_bin, tmp_path / "prometheus/prometheus.yml",
                               tmp_path, port)
    try:
        async with aiohttp.ClientSession() as session:
            async def has_ratio() -> bool:
                async with session.get(f"{process.url}/api/v1/query",
                                       params={"query": "telephony:call_drop_rate:ratio"}) as r:
                    return len((await r.json())["data"]["result"]) == 2
            await wait_for(has_ratio, 30, "the drop-rate recording rule", process=process)
        yield process.url
    finally:
        feeder.cancel()
        process.stop()


def receiver_app(policy, tmp_path: Path, prometheus_url: str) -> web.Application:
    """A receiver whose Prometheus is at ``prometheus_url`` and whose Alertmanager is down."""
    app = create_app(policy)
    setup_receiver(app, {"CALLWATCH_STORE_URL": f"sqlite://{tmp_path}/r.db",
                         "CALLWATCH_RECEIVER_TOKEN": TOKEN,
                         "CALLWATCH_PROMETHEUS_URL": prometheus_url,
                         "CALLWATCH_ALERTMANAGER_URL": "http://127.0.0.1:1"}, notifiers={})
    return app


@pytest.fixture
async def client(aiohttp_client, policy, prometheus, tmp_path):
    return await aiohttp_client(receiver_app(policy, tmp_path, prometheus), headers=auth())


async def test_the_summary_shows_each_provider_against_the_thresholds(client) -> None:
    # One real Prometheus per test is a few seconds: both checks that need it share this one.
    await _check_health(client)
    response = await client.get("/alerting/metrics/summary",
                                params={"metric_type": "call_drop_rate", "minutes": "5"})
    assert response.status == 200
    body = await response.json()
    assert body["thresholds"] == {"warning": 0.03, "critical": 0.05, "for_seconds": 300.0}
    twilio, telnyx = body["providers"]["twilio"], body["providers"]["telnyx"]
    assert twilio["current"] == pytest.approx(0.1, abs=0.02)
    assert twilio["status"] == "critical"
    assert twilio["min"] <= twilio["avg"] <= twilio["max"]
    assert telnyx["current"] == 0 and telnyx["status"] == "ok"


@pytest.fixture
async def offline_client(aiohttp_client, policy, tmp_path):
    """Nothing listens at its Prometheus address."""
    return await aiohttp_client(receiver_app(policy, tmp_path, f"http://127.0.0.1:{free_port()}"),
                                headers=auth())


@pytest.mark.parametrize(("params", "error"), [
    ({"metric_type": "call_drops", "minutes": "60"}, "bad_metric_type"),
    ({"minutes": "60"}, "bad_metric_type"),
    ({"metric_type": "call_quality", "minutes": "0"}, "bad_minutes"),
    ({"metric_type": "call_quality", "minutes": "an hour"}, "bad_minutes"),
    ({"metric_type": "call_quality", "minutes": "999999"}, "bad_minutes"),
])
async def test_a_bad_query_is_a_400_naming_the_allowed_values(offline_client, params, error):
    response = await offline_client.get("/alerting/metrics/summary", params=params)
    assert response.status == 400
    body = await response.json()
    assert body["error"] == error
    if error == "bad_metric_type":
        assert "call_drop_rate, call_quality, webhook_failure_rate" in body["detail"]


async def _check_health(client) -> None:
    """The health lists Prometheus up, Alertmanager down, and the receiver's own parts."""
    body = await (await client.get("/alerting/health")).json()
    assert body["status"] == "degraded"
    assert body["components"]["prometheus"]["up"] is True
    assert body["components"]["alertmanager"]["up"] is False
    assert body["components"]["store"]["up"] is True


async def test_an_unreachable_prometheus_is_a_503(offline_client) -> None:
    response = await offline_client.get("/alerting/metrics/summary",
                                params={"metric_type": "error_rate", "minutes": "10"})
    assert response.status == 503
    assert (await response.json())["error"] == "prometheus_unavailable"

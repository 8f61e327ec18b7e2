"""The egress control probe: DNS of the hosts the pollers call and the policy's control URLs.

Everything stays on this machine: ``localhost`` resolves from /etc/hosts, a ``.invalid`` name
(RFC 2606) never resolves, with or without a network, and the URLs are local servers or a port
nobody listens on.
"""

import asyncio
import dataclasses
import logging
import time

import aiohttp
from aiohttp import web
from prometheus_client import CollectorRegistry

from callwatch.web import REGISTRY, create_app
from exporter.app import setup_exporter
from exporter.config import load_config
from exporter.metrics import create_metrics
from exporter.probes import ProbeContext
from exporter.probes.egress import (
    TELNYX_API_HOST,
    TWILIO_API_HOSTS,
    EgressRunner,
    EgressTarget,
    egress_targets,
    poller_hosts,
)
from policy.spec_exporter import ExporterSettings
from simulator import Simulator

SUCCESS = "callwatch_egress_probe_success"
DURATION = "callwatch_egress_probe_duration_seconds"
POLLING = {"TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": "t",
           "TELNYX_API_KEY": "k"}


async def one_round(targets, timeout: float = 2.0):
    registry = CollectorRegistry()
    runner = EgressRunner(tuple(targets), create_metrics(registry))
    async with aiohttp.ClientSession() as session:
        ctx = ProbeContext(session, timeout, time.time, time.monotonic)
        results = {r.target: r for r in await runner.run_round(ctx)}
    return registry, results, runner


def dns(host: str) -> EgressTarget:
    return EgressTarget(f"dns:{host}", "dns", host)


def url(address: str) -> EgressTarget:
    return EgressTarget(address, "url", address)


async def test_a_host_that_resolves_is_a_success_with_its_duration():
    registry, results, _ = await one_round([dns("localhost"), dns("127.0.0.1")])
    assert results["dns:localhost"].success, results["dns:localhost"].detail
    assert registry.get_sample_value(SUCCESS, {"target": "dns:localhost"}) == 1
    assert registry.get_sample_value(SUCCESS, {"target": "dns:127.0.0.1"}) == 1
    assert registry.get_sample_value(DURATION, {"target": "dns:localhost"}) >= 0


async def test_a_name_that_cannot_resolve_is_a_failed_probe_not_an_error():
    registry, results, _ = await one_round([dns("callwatch-egress-check.invalid")])
    result = results["dns:callwatch-egress-check.invalid"]
    assert not result.success and result.detail
    assert registry.get_sample_value(
        SUCCESS, {"target": "dns:callwatch-egress-check.invalid"}) == 0


async def test_a_control_url_that_refuses_connections_fails(unused_tcp_port):
    address = f"http://127.0.0.1:{unused_tcp_port}/"
    registry, results, _ = await one_round([url(address)])
    assert not results[address].success and "Connect" in results[address].detail
    assert registry.get_sample_value(SUCCESS, {"target": address}) == 0


async def test_a_control_url_succeeds_on_any_answer_below_400(aiohttp_server):
    statuses = {"/204": 204, "/moved": 302, "/blocked": 403}

    async def answer(request: web.Request) -> web.Response:
        return web.Response(status=statuses[request.path], headers={"Location": "/204"})
    app = web.Application()
    for path in statuses:
        app.router.add_get(path, answer)
    server = await aiohttp_server(app)
    addresses = {path: str(server.make_url(path)) for path in statuses}
    _, results, _ = await one_round(url(a) for a in addresses.values())
    assert results[addresses["/204"]].success and results[addresses["/moved"]].success
    assert not results[addresses["/blocked"]].success
    assert results[addresses["/blocked"]].status == 403


async def test_a_failing_target_logs_when_it_starts_failing_and_when_it_recovers(caplog):
    runner = EgressRunner((dns("callwatch-egress-check.invalid"),), None)
    caplog.set_level(logging.INFO, "callwatch.exporter.egress")
    async with aiohttp.ClientSession() as session:
        ctx = ProbeContext(session, 2.0, time.time, time.monotonic)
        for _ in range(3):
            await runner.run_round(ctx)
        runner.targets = (EgressTarget("dns:callwatch-egress-check.invalid", "dns", "localhost"),)
        await runner.run_round(ctx)
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["egress control probe failing", "egress control probe succeeding again"]


def test_the_hosts_are_those_the_pollers_call_and_follow_the_base_urls():
    assert poller_hosts(load_config({"CALLWATCH_STATUSPAGE": "off"})) == ()
    defaults = poller_hosts(load_config(POLLING))
    assert defaults == (*TWILIO_API_HOSTS, TELNYX_API_HOST, "status.twilio.com",
                        "status.telnyx.com")
    simulated = load_config({**POLLING, "TWILIO_BASE_URL": "http://127.0.0.1:8081",
                             "TELNYX_BASE_URL": "http://127.0.0.1:8081/v2",
                             "CALLWATCH_STATUSPAGE": "off"})
    assert poller_hosts(simulated) == ("127.0.0.1",)
    targets = egress_targets(simulated, ("https://www.example.com/",))
    assert [(t.label, t.kind) for t in targets] == [("dns:127.0.0.1", "dns"),
                                                    ("https://www.example.com/", "url")]


def test_the_default_hosts_are_the_ones_the_sdks_call():
    import telnyx
    from twilio.rest import Client

    client = Client("AC" + "0" * 32, "token", environment={})
    domains = (client.api.base_url, client.insights.base_url, client.monitor.base_url)
    assert tuple(d.removeprefix("https://") for d in domains) == TWILIO_API_HOSTS
    assert telnyx.AsyncTelnyx(api_key="k").base_url.host == TELNYX_API_HOST


async def test_the_exporter_runs_the_control_probe_by_itself(aiohttp_client, policy,
                                                             unused_tcp_port):
    async with Simulator(traffic=False, seed=5) as sim:
        env = sim.env()
        answers, refuses = env["APP_API_URL"], f"http://127.0.0.1:{unused_tcp_port}/"
        settings = ExporterSettings(probe_interval_seconds=0.05,
                                    control_targets=(answers, refuses))
        app = create_app(dataclasses.replace(policy, exporter=settings), CollectorRegistry())
        setup_exporter(app, env)
        await aiohttp_client(app)
        get = app[REGISTRY].get_sample_value
        for _ in range(100):   # the series exist at 0 from the start; a round sets durations
            if get(DURATION, {"target": answers}) and get(DURATION, {"target": refuses}):
                break
            await asyncio.sleep(0.05)
        # the simulator stands in for both providers' APIs and status pages: one host
        assert get(SUCCESS, {"target": "dns:127.0.0.1"}) == 1
        assert get(SUCCESS, {"target": answers}) == 1
        assert get(SUCCESS, {"target": refuses}) == 0

"""The dead man's switch over the real Prometheus and Alertmanager, configured as
``callwatch render --time-scale 60`` writes them (the ``CallwatchWatchdog`` rule, ``vector(1)``
in the ``callwatch-self`` group, and its Alertmanager route to the receiver): the heartbeat
reaches the receiver and opens nothing; Prometheus stops and the receiver pages the P1 route
about the silent pipeline; Prometheus comes back and the incident resolves.

At 60x ``missing_after`` is 5 s and the heartbeat is re-sent every second. Prometheus runs with
``--rules.alert.resend-delay=1s``: Alertmanager keeps an alert for 4 resend delays after
Prometheus last sent it (4 minutes by default), and re-sends the heartbeat meanwhile.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from callwatch.stack import ManagedProcess, free_port, start_alertmanager, start_prometheus
from callwatch.web import create_app
from policy.catalog import WATCHDOG_MISSING_ALERT
from policy.render import (
    ALERTMANAGER_PATH,
    PROMETHEUS_PATH,
    RULES_PATH,
    RenderOptions,
    render_all,
)
from policy.scale import scale_policy
from receiver.app import setup_receiver
from receiver.domain.watchdog import GROUP_KEY
from receiver.http.common import RECEIVER
from tests.receiver.conftest import NO_HANDOFF_NOTICES, TOKEN

pytestmark = pytest.mark.binaries
SCALE = 60
PROMETHEUS_ARGS = ("--rules.alert.resend-delay=1s",)


def render(policy, workdir: Path, ports: dict[str, int]) -> None:
    """The generated Prometheus and Alertmanager files, pointed at this test's loopback ports."""
    token_file = workdir / "receiver-token"
    token_file.write_text(TOKEN + "\n")
    options = RenderOptions(
        time_scale=SCALE, receiver_url=f"http://127.0.0.1:{ports['receiver']}/alerts",
        token_file=str(token_file), callwatch_targets=(f"127.0.0.1:{ports['receiver']}",),
        alertmanagers=(f"127.0.0.1:{ports['alertmanager']}",))
    files = render_all(policy, options)
    for relative in (RULES_PATH, PROMETHEUS_PATH, ALERTMANAGER_PATH):
        target = workdir / relative.removeprefix("deploy/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(files[relative])


async def until(check, timeout: float, what: str):
    """The first truthy answer of the coroutine function ``check``, asked every 100 ms."""
    for _ in range(int(timeout / 0.1)):
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within {timeout:g} s: {what}")


@pytest.fixture
async def stack(prometheus_bin, alertmanager_bin, aiohttp_server, policy, recorders, tmp_path):
    """Alertmanager and Prometheus, then the receiver once Alertmanager holds the heartbeat.
    Prometheus learns where Alertmanager is only after its discovery's first 5-second batch,
    longer than ``missing_after`` at 60x: a receiver started with it would find the pipeline
    silent before it ever spoke."""
    ports = {name: free_port() for name in ("receiver", "prometheus", "alertmanager")}
    render(policy, tmp_path, ports)
    processes: dict[str, ManagedProcess] = {}
    try:
        processes["alertmanager"] = start_alertmanager(
            alertmanager_bin, tmp_path / "alertmanager/alertmanager.yml", tmp_path,
            ports["alertmanager"])
        processes["prometheus"] = start_prometheus(
            prometheus_bin, tmp_path / "prometheus/prometheus.yml", tmp_path, ports["prometheus"],
            PROMETHEUS_ARGS)
        await until(lambda: holds_heartbeat(processes["alertmanager"], policy), 30,
                    "Alertmanager holding the heartbeat from Prometheus")
        app = create_app(scale_policy(policy, SCALE), CollectorRegistry())
        setup_receiver(app, {"CALLWATCH_STORE_URL": f"sqlite://{tmp_path}/r.db",
                             "CALLWATCH_RECEIVER_TOKEN": TOKEN, "CALLWATCH_WATCHDOG": "on",
                             "CALLWATCH_OUTBOX_POLL_SECONDS": "0.1", **NO_HANDOFF_NOTICES},
                       notifiers=recorders)
        server = await aiohttp_server(app, port=ports["receiver"])
        yield server.app[RECEIVER], processes, ports, tmp_path
    finally:
        for process in processes.values():
            await asyncio.to_thread(process.stop)


async def holds_heartbeat(alertmanager: ManagedProcess, policy) -> bool:
    assert alertmanager.process.poll() is None, alertmanager.log_tail()
    try:
        async with aiohttp.ClientSession() as session, \
                session.get(f"{alertmanager.url}/api/v2/alerts") as response:
            alerts = await response.json() if response.status == 200 else []
    except aiohttp.ClientError:
        return False
    return any(a["labels"].get("alertname") == policy.watchdog.alertname for a in alerts)


async def test_the_real_pipeline_going_silent_pages_and_its_return_resolves(
        stack, prometheus_bin, recorders, policy):
    state, processes, ports, workdir = stack
    store = state.store
    started = time.monotonic()

    async def last_heartbeat():
        return await store.last_heartbeat(policy.watchdog.alertname)

    async def switch_incident():
        return await store.latest_incident(GROUP_KEY)

    first = await until(last_heartbeat, 20, "the first heartbeat from Alertmanager")
    await asyncio.sleep(8)          # past missing_after (5 s), heartbeats arriving
    assert await last_heartbeat() > first
    # Neither the heartbeat nor the switch has opened anything. (Other callwatch-self alerts
    # may: CallwatchTargetDown, when Prometheus scraped the receiver before it listened.)
    names = {i.labels.get("alertname") for i in await store.list_incidents()}
    assert not names & {policy.watchdog.alertname, WATCHDOG_MISSING_ALERT}

    await asyncio.to_thread(processes["prometheus"].stop)
    incident = await until(switch_incident, 30, "the switch's incident once Prometheus stopped")
    assert (incident.priority, incident.labels["alertname"]) == ("P1", WATCHDOG_MISSING_ALERT)
    route = set(policy.routing["P1"].channels)

    async def paged():
        return route <= {n.channel for r in recorders.values() for n in r.sent
                         if n.incident_id == incident.id and n.kind == "trigger"}

    await until(paged, 10, "the P1 route paged about the silent pipeline")
    slack = next(n for n in recorders["slack"].sent if n.incident_id == incident.id)
    assert "The alerting pipeline is silent" in slack.summary

    processes["prometheus"] = start_prometheus(
        prometheus_bin, workdir / "prometheus/prometheus.yml", workdir, ports["prometheus"],
        PROMETHEUS_ARGS)

    async def resolved():
        current = await store.get_incident(incident.id)
        return current.state == "resolved"

    await until(resolved, 30, "the incident resolved by the returning heartbeat")
    assert [i.id for i in await store.list_incidents() if i.group_key == GROUP_KEY] \
        == [incident.id]
    print(f"\nsilence paged and resolved over the real pipeline in "
          f"{time.monotonic() - started:.1f} s")

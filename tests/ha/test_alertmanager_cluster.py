"""Two real ``prometheus-alertmanager`` peers in a cluster (the policy's rendered
alertmanager.yml), each delivering to its own receiver, both receivers on one PostgreSQL
database. Alerts are posted to both Alertmanagers, as Prometheus does with two configured.

``--cluster.peer-timeout=10ms`` makes the second peer send before the first one's
notification log can gossip over, so both really deliver the same group (the receivers must
deduplicate); ``--cluster.settle-timeout=2s`` keeps start-up short.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from callwatch.stack import free_port, start_alertmanager, wait_for
from policy.render import ALERTMANAGER_PATH, RenderOptions, render_all
from tests.ha.harness import TOKEN, Recorder, metric, query, start_receiver, start_recorder, until

pytestmark = pytest.mark.binaries
CLUSTER_ARGS = ("--cluster.peer-timeout=10ms", "--cluster.settle-timeout=2s",
                "--cluster.gossip-interval=10s")


def am_alert(name: str, provider: str = "twilio") -> dict:
    now = datetime.now(UTC)
    return {"labels": {"alertname": name, "severity": "critical", "provider": provider,
                       "priority": "P2"},
            "annotations": {"summary": f"{name} on {provider}",
                            "runbook_url": "https://runbooks.example/x.md"},
            "startsAt": (now - timedelta(minutes=1)).isoformat()}


async def post_to_alertmanagers(session: aiohttp.ClientSession, urls: list[str],
                                alerts: list[dict]) -> list[int]:
    """POST to every Alertmanager as Prometheus does; 0 where one is unreachable."""
    statuses = []
    for url in urls:
        try:
            async with session.post(f"{url}/api/v2/alerts", json=alerts) as response:
                statuses.append(response.status)
        except aiohttp.ClientError:
            statuses.append(0)
    return statuses


@pytest.fixture
async def cluster(alertmanager_bin, policy, postgres_url, tmp_path: Path):
    recorder = Recorder()
    runner, notify_url = await start_recorder(recorder)
    receivers = [await start_receiver(tmp_path, postgres_url, notify_url, name)
                 for name in ("replica-a", "replica-b")]
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    ports = [free_port(), free_port()]
    gossip = [free_port(), free_port()]
    managers = []
    for i, receiver in enumerate(receivers):  # AM1 -> receiver A, AM2 -> receiver B
        config = tmp_path / f"alertmanager-{i}.yml"
        config.write_text(render_all(policy, RenderOptions(
            time_scale=60, receiver_url=f"{receiver.url}/alerts",
            token_file=str(token_file)))[ALERTMANAGER_PATH])
        managers.append(start_alertmanager(
            alertmanager_bin, config, tmp_path, ports[i], name=f"alertmanager-{i}",
            cluster_port=gossip[i], peers=(f"127.0.0.1:{gossip[1 - i]}",),
            extra_args=CLUSTER_ARGS))
    try:
        async with aiohttp.ClientSession() as session:
            for manager in managers:
                async def clustered(url=manager.url) -> bool:
                    try:
                        async with session.get(f"{url}/api/v2/status") as response:
                            body = await response.json()
                    except aiohttp.ClientError:
                        return False  # still starting
                    return len(body["cluster"]["peers"]) == 2
                await wait_for(clustered, 30, f"{manager.name} sees both peers", process=manager)
        yield recorder, receivers, managers, postgres_url
    finally:
        for manager in managers:
            manager.stop()
        for receiver in receivers:
            await receiver.stop()
        await runner.cleanup()


async def test_both_alertmanagers_deliver_one_group_to_two_receivers_one_incident_one_page(
        cluster):
    recorder, receivers, managers, store = cluster
    async with aiohttp.ClientSession() as session:
        statuses = await post_to_alertmanagers(session, [m.url for m in managers],
                                               [am_alert("TelephonyCallDropRateHigh")])
        assert statuses == [200, 200]

        async def both_delivered() -> bool:
            counts = [await metric(session, r.url, "callwatch_alertmanager_deliveries_total")
                      for r in receivers]
            return all(c >= 1 for c in counts)

        await until(both_delivered, 30, "a delivery from each Alertmanager to its receiver")
        await until(lambda: recorder.count("slack") >= 1 and recorder.count("email") >= 1, 30,
                    "the pages")
        accepted = [await metric(session, r.url, "callwatch_alertmanager_deliveries_total",
                                 result="accepted") for r in receivers]
    incidents = query(store, "SELECT id FROM incidents")
    assert len(incidents) == 1
    assert {ch: recorder.count(ch) for ch in recorder.delivered} == {"slack": 1, "email": 1}
    assert sum(accepted) >= 1


async def test_with_one_alertmanager_killed_alerts_still_reach_the_receivers(cluster):
    recorder, receivers, managers, store = cluster
    managers[0].process.kill()
    managers[0].process.wait(10)
    async with aiohttp.ClientSession() as session:
        statuses = await post_to_alertmanagers(session, [m.url for m in managers],
                                               [am_alert("TelephonyServiceDegraded", "telnyx")])
        assert statuses == [0, 200]
        await until(lambda: recorder.count("slack") >= 1 and recorder.count("email") >= 1, 30,
                    "pages through the surviving Alertmanager")
        through_b = await metric(session, receivers[1].url,
                                 "callwatch_alertmanager_deliveries_total")
        through_a = await metric(session, receivers[0].url,
                                 "callwatch_alertmanager_deliveries_total")
    assert through_b >= 1 and through_a == 0
    rows = query(store, "SELECT group_key FROM incidents")
    assert len(rows) == 1 and "TelephonyServiceDegraded" in rows[0][0]
    assert {ch: recorder.count(ch) for ch in recorder.delivered} == {"slack": 1, "email": 1}


RULE = """groups:
  - name: ha-probe
    rules:
      - alert: TelephonyHaProbe
        expr: vector(1)
        labels: {severity: critical, provider: twilio, priority: P2}
        annotations: {summary: "HA probe on twilio"}
"""


async def test_prometheus_rendered_with_both_alertmanagers_pages_through_the_survivor(
        cluster, prometheus_bin, policy, tmp_path):
    """The rendered prometheus.yml (both Alertmanagers, as `callwatch render --ha` writes it)
    with one Alertmanager killed: a firing rule still becomes one incident, paged once."""
    from callwatch.stack import start_prometheus
    from policy.render import PROMETHEUS_PATH

    recorder, receivers, managers, store = cluster
    managers[0].process.kill()
    managers[0].process.wait(10)
    workdir = tmp_path / "prometheus"
    (workdir / "rules").mkdir(parents=True)
    (workdir / "rules" / "probe.yml").write_text(RULE)
    config = workdir / "prometheus.yml"
    config.write_text(render_all(policy, RenderOptions(
        time_scale=60, alertmanagers=tuple(m.url.removeprefix("http://") for m in managers),
        callwatch_targets=(receivers[1].url.removeprefix("http://"),)))[PROMETHEUS_PATH])
    # an alert first evaluated before the Alertmanagers are discovered is dropped and re-sent
    # only after the resend delay (1m by default)
    prometheus = start_prometheus(prometheus_bin, config, workdir, free_port(),
                                  extra_args=("--rules.alert.resend-delay=1s",))
    try:
        await until(lambda: recorder.count("slack") >= 1 and recorder.count("email") >= 1, 60,
                    "a page from Prometheus' alert through the surviving Alertmanager")
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{prometheus.url}/api/v1/alertmanagers") as response:
                active = (await response.json())["data"]["activeAlertmanagers"]
    finally:
        prometheus.stop()
    assert len(active) == 2  # Prometheus knows both; only the live one delivered
    rows = query(store, "SELECT group_key FROM incidents")
    assert len(rows) == 1 and "TelephonyHaProbe" in rows[0][0]
    assert {ch: recorder.count(ch) for ch in recorder.delivered} == {"slack": 1, "email": 1}

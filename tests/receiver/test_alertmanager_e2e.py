"""The real ``prometheus-alertmanager`` posting to a running receiver: firing, grouped,
truncated and resolved payloads become the right incidents.

With ``CALLWATCH_UPDATE_GOLDEN=1`` the captured payloads are written to
``tests/receiver/fixtures/`` (the unit tests replay them).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from callwatch.stack import free_port
from callwatch.web import create_app
from receiver.app import setup_receiver
from receiver.http.common import RECEIVER
from tests.receiver.conftest import NO_HANDOFF_NOTICES, TOKEN

pytestmark = pytest.mark.binaries
FIXTURES = Path(__file__).resolve().parent / "fixtures"

CONFIG = """
route:
  receiver: callwatch
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - matchers: ['alertname="TelephonyStormTest"']
      receiver: callwatch-capped
receivers:
  - name: callwatch
    webhook_configs:
      - url: {url}
        send_resolved: true
        http_config:
          authorization:
            credentials_file: {token_file}
  - name: callwatch-capped
    webhook_configs:
      - url: {url}
        send_resolved: true
        max_alerts: 2
        http_config:
          authorization:
            credentials_file: {token_file}
"""


def am_alert(name: str, provider: str, severity: str = "critical", ends: datetime | None = None):
    now = datetime.now(UTC)
    body = {"labels": {"alertname": name, "severity": severity, "provider": provider},
            "annotations": {"summary": f"{name} on {provider}",
                            "description": "6.2% of answered calls dropped",
                            "runbook_url": "https://runbooks.example/high-call-drop-rate.md"},
            "startsAt": (now - timedelta(minutes=5)).isoformat()}
    if ends is not None:
        body["endsAt"] = ends.isoformat()
    return body


@pytest.fixture
async def receiver(aiohttp_server, policy, tmp_path, recorders):
    captured: list[dict] = []

    @web.middleware
    async def capture(request, handler):
        if request.path == "/alerts":
            captured.append({"headers": dict(request.headers),
                             "body": json.loads(await request.read())})
        return await handler(request)

    app = create_app(policy, CollectorRegistry())
    app.middlewares.append(capture)
    setup_receiver(app, {"CALLWATCH_STORE_URL": f"sqlite://{tmp_path}/r.db",
                         "CALLWATCH_RECEIVER_TOKEN": TOKEN,
                         "CALLWATCH_OUTBOX_POLL_SECONDS": "0.1", **NO_HANDOFF_NOTICES},
                   notifiers=recorders)
    server = await aiohttp_server(app)
    return server, captured


def _start_alertmanager(binary: str, config: Path, tmp_path: Path, port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.path={tmp_path / 'am'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
        stdout=subprocess.DEVNULL, stderr=open(tmp_path / "am.log", "wb"))


@pytest.fixture
async def alertmanager(alertmanager_bin, receiver, tmp_path):
    server, _ = receiver
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    config = tmp_path / "alertmanager.yml"
    config.write_text(CONFIG.format(url=server.make_url("/alerts"), token_file=token_file))
    port = free_port()
    process = _start_alertmanager(alertmanager_bin, config, tmp_path, port)
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as session:
        for _ in range(100):
            try:
                async with session.get(f"{base}/-/ready") as response:
                    if response.status == 200:
                        break
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
        else:
            process.kill()
            pytest.fail("alertmanager did not start: " + (tmp_path / "am.log").read_text())
    yield base
    process.terminate()
    process.wait(timeout=10)


async def post_alerts(base: str, alerts: list[dict]) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{base}/api/v2/alerts", json=alerts) as response:
            assert response.status == 200, await response.text()


async def wait_for(predicate, timeout=20.0):
    for _ in range(int(timeout / 0.1)):
        result = predicate()
        if result:
            return result
        await asyncio.sleep(0.1)
    raise AssertionError("Alertmanager did not deliver in time")


async def test_real_alertmanager_payloads_become_the_right_incidents(receiver, alertmanager,
                                                                    recorders):
    server, captured = receiver
    store = server.app[RECEIVER].store
    await post_alerts(alertmanager, [am_alert("TelephonyCallDropRateHigh", "twilio"),
                                     am_alert("TelephonyCallDropRateHigh", "telnyx"),
                                     am_alert("TelephonyServiceDown", "twilio"),
                                     *(am_alert("TelephonyStormTest", f"p{i}", "warning")
                                       for i in range(3))])
    await wait_for(lambda: len({c["body"]["groupKey"] for c in captured}) == 3)
    for _ in range(100):  # captured before the handler commits: wait for the commits too
        found = await store.list_incidents()
        if len(found) == 3:
            break
        await asyncio.sleep(0.1)
    by_name = {incident.labels["alertname"]: incident for incident in found}
    drop, down, storm = (by_name["TelephonyCallDropRateHigh"], by_name["TelephonyServiceDown"],
                         by_name["TelephonyStormTest"])
    assert (drop.priority, drop.state, len(drop.alerts)) == ("P2", "triggered", 2)
    assert (down.priority, down.state) == ("P0", "triggered")
    assert (storm.priority, storm.truncated_alerts, len(storm.alerts)) == ("P3", 1, 2)
    assert all(c["headers"]["Authorization"] == f"Bearer {TOKEN}" for c in captured)
    await wait_for(lambda: recorders["pagerduty"].sent and len(recorders["slack"].sent) == 2)

    ended = datetime.now(UTC) - timedelta(seconds=1)
    await post_alerts(alertmanager, [am_alert("TelephonyCallDropRateHigh", "twilio", ends=ended),
                                     am_alert("TelephonyCallDropRateHigh", "telnyx", ends=ended)])

    async def drop_resolved():
        return (await store.get_incident(drop.id)).state == "resolved"

    for _ in range(200):
        if await drop_resolved():
            break
        await asyncio.sleep(0.1)
    assert await drop_resolved()
    assert (await store.get_incident(down.id)).state == "triggered"
    resolved = [c["body"] for c in captured if c["body"]["status"] == "resolved"]
    assert resolved and all(a["status"] == "resolved" for a in resolved[0]["alerts"])
    await wait_for(lambda: [n.kind for n in recorders["slack"].sent].count("resolve") == 1)
    _save_fixtures([c["body"] for c in captured])


def _save_fixtures(bodies: list[dict]) -> None:
    if os.environ.get("CALLWATCH_UPDATE_GOLDEN") != "1":
        return
    FIXTURES.mkdir(exist_ok=True)
    names = {"TelephonyCallDropRateHigh": "grouped", "TelephonyServiceDown": "firing",
             "TelephonyStormTest": "truncated"}
    for body in bodies:
        kind = names[body["groupLabels"]["alertname"]]
        if body["status"] == "resolved":
            kind = f"{kind}-resolved"
        (FIXTURES / f"alertmanager-{kind}.json").write_text(json.dumps(body, indent=2) + "\n")

"""The dead man's switch running in the receiver: heartbeats over ``POST /alerts``, an injected
clock, in-test notifiers; and several receivers on one store opening one incident."""

from __future__ import annotations

import asyncio
import json

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from receiver.config import load_config
from receiver.domain.watchdog import GROUP_KEY, OPEN, Verdict
from receiver.http.common import RECEIVER
from receiver.services.metrics import ReceiverMetrics
from receiver.services.watchdog import WatchdogWorker
from receiver.store import make_store
from tests.receiver.conftest import auth, eventually
from tests.receiver.standins import alert, payload

pytestmark = pytest.mark.binaries      # the two-receiver cases run on PostgreSQL too
WATCHDOG_ON = {"CALLWATCH_WATCHDOG": "on"}
HEARTBEAT = "CallwatchWatchdog"
MISSING = "CallwatchWatchdogMissing"


def heartbeat(status: str = "firing") -> dict:
    """The delivery Alertmanager makes of the always-firing heartbeat rule."""
    return payload(alert(HEARTBEAT, status=status, severity="none", component="callwatch"),
                   group=HEARTBEAT)


async def post(client, body: dict) -> dict:
    response = await client.post("/alerts", data=json.dumps(body), headers=auth())
    assert response.status == 200, await response.text()
    return await response.json()


async def incidents(client) -> list[dict]:
    return (await (await client.get("/incidents")).json())["incidents"]


def sent(recorders, kind: str) -> dict[str, int]:
    """How many notifications of ``kind`` each channel received (channels with none omitted)."""
    counts = {name: sum(1 for n in r.sent if n.kind == kind) for name, r in recorders.items()}
    return {name: count for name, count in counts.items() if count}


def sample(metrics: str, name: str, **labels: str) -> float | None:
    """The value of the sample ``name`` with ``labels`` in a /metrics text, or None."""
    for family in text_string_to_metric_families(metrics):
        for found in family.samples:
            if found.name == name and found.labels == labels:
                return found.value
    return None


def opened(client):
    async def check():
        return await incidents(client)
    return check


def in_state(client, incident_id: str, state: str):
    async def check():
        body = await (await client.get(f"/incidents/{incident_id}")).json()
        return body if body["state"] == state else None
    return check


async def quiet(seconds: float = 0.3) -> None:
    """Let the workers (polling every 50 ms) take several looks."""
    await asyncio.sleep(seconds)


async def test_a_heartbeat_opens_no_incident_and_pages_nobody(make_client, recorders, clock):
    client = await make_client(env=WATCHDOG_ON)
    body = await post(client, heartbeat())
    assert body == {"status": "heartbeat", "duplicate": False, "incident": None, "state": None,
                    "priority": None, "notifications": 0}
    clock.advance(299)              # within missing_after of the heartbeat
    await quiet()
    assert await incidents(client) == []
    assert all(r.sent == [] for r in recorders.values())
    metrics = await (await client.get("/metrics")).text()
    assert sample(metrics, "callwatch_watchdog_last_heartbeat_timestamp_seconds") \
        == clock.now - 299
    assert sample(metrics, "callwatch_alertmanager_deliveries_total", result="heartbeat") == 1


async def test_a_silent_pipeline_pages_the_p1_route_once_and_resolves_when_the_heartbeat_returns(
        make_client, recorders, clock, policy):
    client = await make_client(env=WATCHDOG_ON)
    await post(client, heartbeat())
    clock.advance(301)
    [incident] = await eventually(opened(client), 10.0)
    assert (incident["priority"], incident["state"], incident["labels"]["alertname"]) == (
        "P1", "triggered", MISSING)
    assert incident["summary"] == ("The alerting pipeline is silent: no CallwatchWatchdog "
                                   "heartbeat for 5m")
    route = set(policy.routing["P1"].channels)
    await eventually(lambda: route <= set(sent(recorders, "trigger")))
    assert all(sent(recorders, "trigger")[c] == 1 for c in route)
    await eventually(lambda: sent(recorders, "escalate").get("pagerduty"))  # P1's first step
    clock.advance(600)              # still silent: the same incident, nobody paged twice
    await quiet()
    assert [i["id"] for i in await incidents(client)] == [incident["id"]]
    assert all(sent(recorders, "trigger")[c] == 1 for c in route)
    await post(client, heartbeat())
    resolved = await eventually(in_state(client, incident["id"], "resolved"), 10.0)
    assert resolved["resolved_at"] is not None
    await eventually(lambda: "slack" in sent(recorders, "resolve"))
    metrics = await (await client.get("/metrics")).text()
    assert sample(metrics, "callwatch_incident_resolve_seconds_count", priority="P1") == 1
    # a P1 like any other: its report and post-mortem reminders are scheduled
    timers = await client.app[RECEIVER].store.timers_for(incident["id"])
    assert sorted(t.payload["reminder"] for t in timers if t.kind == "followup") == [
        "incident_report", "post_mortem"]


async def test_a_receiver_that_never_hears_a_heartbeat_pages_missing_after_its_start_up(
        make_client, recorders, clock):
    client = await make_client(env=WATCHDOG_ON)
    await post(client, heartbeat("resolved"))   # Prometheus stopped: not a heartbeat
    clock.advance(299)
    await quiet()
    assert await incidents(client) == []
    clock.advance(2)
    [incident] = await eventually(opened(client), 10.0)
    assert incident["labels"]["alertname"] == MISSING


async def test_a_mixed_delivery_records_the_heartbeat_and_opens_the_other_alerts_incident(
        make_client, recorders, clock):
    client = await make_client(env=WATCHDOG_ON)
    body = payload(alert(HEARTBEAT, severity="none"), alert("TelephonyCallDropRateHigh"),
                   group="Mixed")
    answer = await post(client, body)
    assert answer["status"] == "accepted" and answer["incident"] is not None
    detail = await (await client.get(f"/incidents/{answer['incident']}")).json()
    assert [a["labels"]["alertname"] for a in detail["alerts"]] == ["TelephonyCallDropRateHigh"]
    assert len(await incidents(client)) == 1
    store = client.app[RECEIVER].store
    assert await store.last_heartbeat(HEARTBEAT) == clock.now


async def test_a_silence_resolved_by_hand_is_not_paged_again(make_client, recorders, clock):
    client = await make_client(env=WATCHDOG_ON)
    await post(client, heartbeat())
    clock.advance(301)
    [incident] = await eventually(opened(client), 10.0)
    response = await client.post(f"/incidents/{incident['id']}/resolve", json={"by": "Ada"},
                                 headers=auth())
    assert response.status == 200
    clock.advance(600)
    await quiet()
    assert [i["state"] for i in await incidents(client)] == ["resolved"]


async def test_without_the_switch_a_silent_pipeline_opens_nothing(make_client, clock):
    client = await make_client()                # the fixtures' CALLWATCH_WATCHDOG=off
    clock.advance(3600)
    await quiet()
    assert await incidents(client) == []
    assert client.app[RECEIVER].watchdog is None


async def test_two_receivers_on_one_store_open_one_incident(make_client, recorders, clock,
                                                            policy, store_url):
    env = {**WATCHDOG_ON, "CALLWATCH_STORE_URL": store_url}
    first, second = await make_client(env=env), await make_client(env=env)
    await post(first, heartbeat())
    clock.advance(301)
    [incident] = await eventually(opened(second), 10.0)
    route = set(policy.routing["P1"].channels)
    await eventually(lambda: route <= set(sent(recorders, "trigger")))
    await quiet(0.5)                            # both switches look again, several times
    assert [i["id"] for i in await incidents(first)] == [incident["id"]]
    assert all(sent(recorders, "trigger")[c] == 1 for c in route)
    timeline = (await (await first.get(f"/incidents/{incident['id']}")).json())["timeline"]
    assert [e["kind"] for e in timeline].count("opened") == 1
    await post(second, heartbeat())             # the heartbeat returns through the other one
    await eventually(in_state(first, incident["id"], "resolved"), 10.0)


async def test_two_switches_that_decided_at_once_write_once(policy, clock, store_url):
    """Both read the store before either wrote: the verdict's delivery key lets one through."""
    stores = [make_store(store_url) for _ in range(2)]
    for store in stores:
        await store.open()
    try:
        switches = [WatchdogWorker(store, policy, ReceiverMetrics(CollectorRegistry()),
                                   clock=clock) for store in stores]
        clock.advance(301)
        verdict = Verdict(OPEN, f"{GROUP_KEY}:open:never", clock.now - 301)
        first, second = await asyncio.gather(*(s.apply(verdict, clock.now) for s in switches))
        assert sum(c is not None for c in (first, second)) == 1
        opened = await stores[0].latest_incident(GROUP_KEY)
        assert opened is not None and len(await stores[1].list_incidents()) == 1
        assert len(await stores[1].outbox_for(opened.id)) == len(
            (first or second).outbox)
    finally:
        for store in stores:
            await store.close()


@pytest.mark.parametrize(("value", "expected"), [("", True), ("on", True), ("OFF", False)])
def test_the_switch_is_on_unless_the_environment_turns_it_off(value, expected) -> None:
    assert load_config({"CALLWATCH_WATCHDOG": value}).watchdog is expected


def test_a_switch_setting_that_is_neither_on_nor_off_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match="CALLWATCH_WATCHDOG must be on or off, got 'maybe'"):
        load_config({"CALLWATCH_WATCHDOG": "maybe"})

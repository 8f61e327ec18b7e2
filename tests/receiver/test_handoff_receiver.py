"""Handoff notices in the running receiver: a hand-moved clock crossing a schedule's handoffs,
in-test notifiers, and several receivers (or one restarted) on one store telling each handoff
once; and the schedule gap gauge.

The clock starts at 2027-01-15 09:00 Europe/Berlin (08:00 UTC). The test schedule ``primary``
starts at 09:30 local and hands over every hour: Ana (Slack), then the engineering manager
(email only).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from policy.model import Contact, Schedule, ScheduleLayer
from receiver.config import load_config
from receiver.http.common import RECEIVER
from tests.receiver.conftest import auth, eventually
from tests.receiver.standins import alert, payload

pytestmark = pytest.mark.binaries       # the shared-store cases run on PostgreSQL too
START = 1_800_000_000.0                 # the FakeClock's default: 2027-01-15 08:00 UTC
PUBLIC = "https://cw.example"
NOTICES_ON = {"CALLWATCH_HANDOFF_NOTICES": "on", "CALLWATCH_HANDOFF_POLL_SECONDS": "0.05",
              "CALLWATCH_PUBLIC_URL": PUBLIC}


def hourly(*people: str) -> Schedule:
    return Schedule("primary", "Europe/Berlin", (ScheduleLayer(
        "hourly", datetime(2027, 1, 15, 9, 30), timedelta(hours=1), people),))


@pytest.fixture
def oncall(policy):
    pat = Contact("pat", "Pat Phone", phone="+15005550042", methods=("phone",))
    return dataclasses.replace(policy, schedules={"primary": hourly("eng_a",
                                                                    "engineering_manager")},
                               contacts={**policy.contacts, "pat": pat})


def notices(recorders) -> list:
    return [n for r in recorders.values() for n in r.sent if n.kind == "handoff"]


async def metric(clients, name: str, **labels: str) -> float:
    """The sample's sum over the receivers' /metrics (absent: 0)."""
    total = 0.0
    for client in clients:
        text = await (await client.get("/metrics")).text()
        for family in text_string_to_metric_families(text):
            total += sum(s.value for s in family.samples
                         if s.name == name and s.labels == labels)
    return total


async def quiet(seconds: float = 0.4) -> None:
    """Let the workers (polling every 50 ms) take several looks."""
    await asyncio.sleep(seconds)


async def open_incident(client) -> str:
    response = await client.post("/alerts", data=json.dumps(payload(alert(priority="P1"))),
                                 headers=auth())
    assert response.status == 200, await response.text()
    return (await response.json())["incident"]


async def test_two_receivers_on_one_store_tell_each_handoff_once_to_the_right_notifier(
        make_client, recorders, clock, oncall, store_url):
    env = {**NOTICES_ON, "CALLWATCH_STORE_URL": store_url}
    first = await make_client(policy=oncall, env=env)
    second = await make_client(policy=oncall, env=env)
    await quiet()
    assert notices(recorders) == []                       # nobody on call yet
    assert await metric([first], "callwatch_schedule_gap_seconds", schedule="primary") == 1800
    incident = await open_incident(second)

    clock.advance(1800)                                   # 09:30: Ana takes over
    await eventually(lambda: notices(recorders))
    await quiet()                                         # both receivers look again, often
    [ana] = notices(recorders)
    assert ana.channel == "slack" and ana.incident_id == ""
    assert ana.text == (
        "@ana You are on call for primary until Fri 15 Jan 2027 10:30 CET (Europe/Berlin).\n"
        "Open incidents (1):\n"
        f"- {incident} P1 TelephonyCallDropRateHigh on twilio (triggered) "
        f"{PUBLIC}/incidents/{incident}")
    assert ana in recorders["slack"].sent
    assert await metric([first, second], "callwatch_handoff_notices_total",
                        result="sent") == 1
    assert await metric([first], "callwatch_schedule_gap_seconds", schedule="primary") == 0

    clock.advance(3600)                                   # 10:30: the manager, by email
    await eventually(lambda: len(notices(recorders)) == 2)
    await quiet()
    [_, manager] = notices(recorders)
    assert (manager.channel, manager.recipients, manager.priority) == (
        "email", ("eng-manager@example.com",), "")
    assert manager.summary == ("You are on call for primary until Fri 15 Jan 2027 11:30 CET "
                               "(Europe/Berlin).")
    assert manager in recorders["email"].sent
    assert await metric([first, second], "callwatch_handoff_notices_total",
                        result="sent") == 2
    # a notice is no incident's business: the incident's timeline has no trace of it
    detail = await (await first.get(f"/incidents/{incident}")).json()
    assert detail["notifications"]
    assert all(n["kind"] != "handoff" for n in detail["notifications"])
    assert all(e["detail"].get("kind") != "handoff" for e in detail["timeline"])


async def test_a_restarted_receiver_tells_a_running_handoff_late_and_never_twice(
        make_client, recorders, clock, oncall, store_url):
    env = {**NOTICES_ON, "CALLWATCH_STORE_URL": store_url}
    clock.advance(1800)
    before = await make_client(policy=oncall, env=env)
    await eventually(lambda: notices(recorders))          # Ana's shift, from start-up
    await before.close()

    again = await make_client(policy=oncall, env=env)     # restarted within Ana's shift
    await quiet()
    assert [n.recipients for n in notices(recorders)] == [("@ana",)]
    await again.close()

    clock.advance(3600 + 600)                             # down at 10:30; back at 10:40
    late = await make_client(policy=oncall, env=env)
    await eventually(lambda: len(notices(recorders)) == 2)
    await quiet()
    assert [n.channel for n in notices(recorders)] == ["slack", "email"]
    assert await metric([late], "callwatch_handoff_notices_total", result="sent") == 1


async def test_a_receiver_back_after_a_shift_ended_does_not_tell_it(
        make_client, recorders, clock, oncall):
    clock.advance(1800 + 3600 + 3600 + 60)    # 11:31: Ana is on call again, since 11:30
    policy = dataclasses.replace(oncall, schedules={"primary": hourly(
        "eng_a", "engineering_manager", "team_lead")})   # the team lead since 11:30
    client = await make_client(policy=policy, env=NOTICES_ON)
    await eventually(lambda: notices(recorders))
    await quiet()
    [lead] = notices(recorders)                           # not Ana's or the manager's, over
    assert lead.recipients == ("@team-lead",)
    assert await metric([client], "callwatch_handoff_notices_total", result="sent") == 1


async def test_a_person_nobody_can_reach_is_counted_unreachable_once(make_client, recorders,
                                                                    clock, oncall,
                                                                    store_url):
    policy = dataclasses.replace(oncall, schedules={"primary": hourly("pat")})
    env = {**NOTICES_ON, "CALLWATCH_STORE_URL": store_url}
    clients = [await make_client(policy=policy, env=env) for _ in range(2)]
    clock.advance(1800)

    async def counted():
        return await metric(clients, "callwatch_handoff_notices_total", result="unreachable")

    await eventually(counted, 10.0)
    await quiet()
    assert await counted() == 1
    assert notices(recorders) == []


async def test_with_notices_off_nobody_is_told_and_the_gap_is_still_gauged(
        make_client, recorders, clock, oncall):
    client = await make_client(policy=oncall,
                               env={"CALLWATCH_HANDOFF_POLL_SECONDS": "0.05"})  # fixtures: off
    clock.advance(1800)
    await quiet()
    assert notices(recorders) == []
    assert client.app[RECEIVER].handoff is not None
    assert await metric([client], "callwatch_schedule_gap_seconds", schedule="primary") == 0
    clock.advance(-3600)                                  # before the layer: an hour's gap
    await quiet()
    assert await metric([client], "callwatch_schedule_gap_seconds", schedule="primary") == 3600


async def test_a_policy_without_schedules_runs_no_handoff_worker(make_client, oncall):
    client = await make_client(policy=dataclasses.replace(oncall, schedules={}),
                               env=NOTICES_ON)
    assert client.app[RECEIVER].handoff is None


@pytest.mark.parametrize(("value", "expected"), [("", True), ("on", True), ("OFF", False)])
def test_notices_are_on_unless_the_environment_turns_them_off(value, expected) -> None:
    assert load_config({"CALLWATCH_HANDOFF_NOTICES": value}).handoff_notices is expected


def test_the_handoff_poll_is_30_seconds_unless_set() -> None:
    assert load_config({}).handoff_poll_seconds == 30.0
    assert load_config({"CALLWATCH_HANDOFF_POLL_SECONDS": "2.5"}).handoff_poll_seconds == 2.5
    with pytest.raises(ValueError, match="CALLWATCH_HANDOFF_POLL_SECONDS must be positive"):
        load_config({"CALLWATCH_HANDOFF_POLL_SECONDS": "0"})

"""The dead man's switch with three receivers on one PostgreSQL database, real processes and
clocks (policy time scaled by 60: ``missing_after`` is 5 s). No heartbeat ever arrives: each
receiver's switch finds the pipeline silent at about the same moment, and one incident is
opened and paged, not three. A heartbeat posted to one receiver resolves it for all."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from tests.ha.harness import Recorder, post_alerts, query, start_receiver, start_recorder, until
from tests.receiver.standins import alert, payload

pytestmark = pytest.mark.binaries
ENV = {"CALLWATCH_TIME_SCALE": "60", "CALLWATCH_WATCHDOG": "on"}


def switch_incidents(store_url: str) -> list[tuple]:
    return query(store_url, "SELECT id, state FROM incidents WHERE group_key = "
                            "'callwatch:watchdog-missing'")


async def test_three_receivers_open_one_incident_for_a_silent_pipeline(postgres_url, tmp_path,
                                                                       policy):
    recorder = Recorder()
    runner, notify_url = await start_recorder(recorder)
    # started together, so that their switches find the silence at about the same moment
    replicas = await asyncio.gather(*(
        start_receiver(tmp_path, postgres_url, notify_url, f"replica-{n}", **ENV) for n in "abc"))
    route = set(policy.routing["P1"].channels)
    try:
        await until(lambda: switch_incidents(postgres_url), 30, "the switch's incident")
        await until(lambda: all(recorder.count(c, "trigger") for c in route), 15,
                    "the P1 route paged")
        await asyncio.sleep(2.0)        # each switch looks again, every 0.1 s: a duplicate shows
        [(incident_id, state)] = switch_incidents(postgres_url)
        assert state == "triggered"
        assert {c: recorder.count(c, "trigger") for c in route} == dict.fromkeys(route, 1)
        opened = query(postgres_url, "SELECT count(*) FROM events WHERE incident_id = %s AND "
                                     "kind = 'opened'", incident_id)
        assert opened == [(1,)]
        body = payload(alert("CallwatchWatchdog", severity="none"), group="CallwatchWatchdog")
        async with aiohttp.ClientSession() as session:
            assert await post_alerts(session, replicas[1].url, body) == 200
        await until(lambda: switch_incidents(postgres_url) == [(incident_id, "resolved")], 15,
                    "the incident resolved by the returning heartbeat")
    finally:
        for replica in replicas:
            await replica.kill()
        await runner.cleanup()

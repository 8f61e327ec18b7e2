"""Escalation with two receivers on one PostgreSQL database (policy time scaled by 120: the P1
team-lead step L2 is due 7.5 s after opening, the engineering-manager step L3 22.5 s after).

L2 falls due while both run: it fires once. For L3 the test holds an exclusive lock on the
``events`` table after the SLA step (15 s) and before L3 is due, so whichever replica claims
the timer stalls inside ``fire`` holding the claim; that replica is killed (SIGKILL), the lock
released, and the other replica fires L3 once its claim expires
(``CALLWATCH_TIMER_LEASE_SECONDS=3``). Claims are taken only once a step is due, so "holding
it just before it is due" is, in this design, holding the claim at the moment it falls due.
"""

from __future__ import annotations

import json
import time

import aiohttp
import psycopg
import pytest

from tests.ha.harness import Recorder, post_alerts, query, start_receiver, start_recorder, until
from tests.receiver.standins import alert, payload

pytestmark = pytest.mark.binaries
LEASE = 3.0
ENV = {"CALLWATCH_TIME_SCALE": "120", "CALLWATCH_TIMER_LEASE_SECONDS": str(LEASE)}


def escalations(store_url: str, level: str) -> list[tuple]:
    return [row for row in query(store_url, "SELECT detail FROM events WHERE kind = 'escalated'")
            if json.loads(row[0]).get("level") == level]


def phone_pages(recorder: Recorder, who: str) -> int:
    return sum(n for i, n in recorder.delivered.get("phone", {}).items()
               if recorder.bodies[i]["kind"] == "escalate"
               and who in recorder.bodies[i]["recipients"])


async def test_an_escalation_step_fires_once_and_survives_the_death_of_its_claimer(
        postgres_url, tmp_path, policy):
    recorder = Recorder()
    runner, notify_url = await start_recorder(recorder)
    replicas = {name: await start_receiver(tmp_path, postgres_url, notify_url, name, **ENV)
                for name in ("replica-a", "replica-b")}
    lead = policy.contacts["team_lead"].phone
    manager = policy.contacts["engineering_manager"].phone
    lock = None
    try:
        async with aiohttp.ClientSession() as session:
            body = payload(alert("TelephonyCallDropRateHigh", fingerprint="fp-esc",
                                 priority="P1"), group="TelephonyCallDropRateHigh")
            assert await post_alerts(session, replicas["replica-a"].url, body) == 200
        # L2 (slack + phone to the team lead) while both replicas run
        await until(lambda: len(escalations(postgres_url, "L2")) >= 1, 30, "L2 fired")
        await until(lambda: phone_pages(recorder, lead) >= 1, 10, "L2 phone page")
        # the response SLA (15 s) passes next; L3 (22.5 s) is the step the victim will hold
        await until(lambda: bool(query(postgres_url, "SELECT 1 FROM events WHERE kind = "
                                       "'sla_breached'")), 30, "the response SLA breached")
        lock = psycopg.connect(postgres_url)
        lock.execute("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
        claimed = await until_claimed(postgres_url)
        victim = replicas[claimed]
        await victim.kill()
        killed_at = time.monotonic()
        lock.rollback()
        lock.close()
        lock = None
        await until(lambda: len(escalations(postgres_url, "L3")) >= 1, LEASE + 15,
                    "L3 fired by the surviving replica within the claim timeout")
        taken_over_after = time.monotonic() - killed_at
        await until(lambda: phone_pages(recorder, manager) >= 1, 10, "L3 phone page")
        survivor = next(r for n, r in replicas.items() if n != claimed)
        assert survivor.process.returncode is None
    finally:
        if lock is not None:
            lock.close()
        for replica in replicas.values():
            await replica.kill()
        await runner.cleanup()
    assert len(escalations(postgres_url, "L2")) == 1
    assert len(escalations(postgres_url, "L3")) == 1
    assert phone_pages(recorder, lead) == 1 and phone_pages(recorder, manager) == 1
    slack_l2 = [i for i, n in recorder.delivered["slack"].items()
                if recorder.bodies[i]["kind"] == "escalate"]
    assert len(slack_l2) == 1 and recorder.delivered["slack"][slack_l2[0]] == 1
    print(f"L3 fired {taken_over_after:.1f}s after its claimer died (lease {LEASE:g}s)")


async def until_claimed(store_url: str) -> str:
    """The worker that claimed the (stalled) escalation timer once L3 fell due."""
    claimer: list[str] = []

    def claimed() -> bool:
        rows = query(store_url, "SELECT claimed_by FROM timers WHERE kind = 'escalation' "
                     "AND state = 'pending' AND claimed_by IS NOT NULL")
        claimer[:] = [rows[0][0]] if rows else []
        return bool(rows)

    await until(claimed, 40, "a replica claiming the L3 escalation timer")
    return claimer[0]

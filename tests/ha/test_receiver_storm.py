"""Two receivers on one PostgreSQL database; one is killed (SIGKILL) mid-storm while it holds
outbox claims. The survivor takes the expired claims: every alert that got a 2xx is in its
incident, every outbox row is delivered, none twice, one "trigger" per channel per group."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import aiohttp
import pytest

from tests.ha.harness import Recorder, post_alerts, query, start_receiver, start_recorder, until
from tests.receiver.standins import alert, payload

pytestmark = pytest.mark.binaries
GROUPS, ALERTS_PER_GROUP, STEP = 50, 20, 5  # 1,000 alerts, each group sent as 5, 10, 15, 20


def storm() -> list[tuple[str, list[str], dict]]:
    """(group, fingerprints, payload) as Alertmanager sends a growing group, round by round."""
    bodies = []
    for size in range(STEP, ALERTS_PER_GROUP + 1, STEP):
        for g in range(GROUPS):
            group = f"StormGroup{g:02d}"
            alerts = [alert(group, fingerprint=f"{group}-fp{i:02d}", priority="P2",
                            instance=f"i{i}") for i in range(size)]
            bodies.append((group, [a["fingerprint"] for a in alerts],
                           payload(*alerts, group=group)))
    return bodies


async def test_a_receiver_killed_mid_storm_loses_nothing_and_doubles_nothing(
        postgres_url, tmp_path):
    recorder = Recorder()
    runner, notify_url = await start_recorder(recorder)
    first = await start_receiver(tmp_path, postgres_url, notify_url, "replica-a")
    second = await start_receiver(tmp_path, postgres_url, notify_url, "replica-b")
    accepted: dict[str, set[str]] = {}
    bodies = storm()
    held_by_first: list[str] = []
    try:
        async with aiohttp.ClientSession() as session:
            async def send(group, fingerprints, body):
                statuses = await asyncio.gather(post_alerts(session, first.url, body),
                                                post_alerts(session, second.url, body))
                if any(200 <= s < 300 for s in statuses):
                    accepted.setdefault(group, set()).update(fingerprints)

            async def send_all(part):
                for start in range(0, len(part), 10):
                    await asyncio.gather(*(send(*b) for b in part[start:start + 10]))

            await send_all(bodies[:GROUPS // 2])
            recorder.gate.clear()  # pages park: the replicas now hold claims in flight
            await send_all(bodies[GROUPS // 2:GROUPS])  # new groups: new pages to claim
            await until(lambda: bool(query(
                postgres_url, "SELECT 1 FROM outbox WHERE state = 'pending' AND claimed_by = %s",
                first.worker)), 30, "replica-a holding outbox claims")
            await until(lambda: recorder.parked > 0, 30, "pages in flight")
            await first.kill()
            held_by_first = [r[0] for r in query(
                postgres_url, "SELECT id FROM outbox WHERE state = 'pending' AND claimed_by = %s",
                first.worker)]
            recorder.gate.set()
            await send_all(bodies[GROUPS:])
        await until(lambda: not query(
            postgres_url, "SELECT 1 FROM outbox WHERE state <> 'sent'"), 60,
            "every outbox row sent")
        outbox = query(postgres_url, "SELECT id, incident_id, channel, kind FROM outbox")
        incidents = query(postgres_url, "SELECT id, group_key, alerts FROM incidents")
    finally:
        await first.kill()
        await second.stop()
        await runner.cleanup()

    assert held_by_first, "replica-a died holding no claim: the takeover was not exercised"
    delivered = recorder.ids()
    assert set(delivered) == {row[0] for row in outbox}, "an outbox row was never delivered"
    assert set(delivered.values()) == {1}, [i for i, n in delivered.items() if n > 1]
    assert all(delivered[i] == 1 for i in held_by_first)
    # one incident per group; every alert a 2xx acknowledged is in it
    assert len(incidents) == GROUPS == len({row[1] for row in incidents})
    by_group = {row[1]: {a["fingerprint"] for a in json.loads(row[2])} for row in incidents}
    for group, fingerprints in accepted.items():
        [stored] = [f for key, f in by_group.items() if f'alertname="{group}"' in key]
        assert fingerprints <= stored, group
    assert sum(len(f) for f in accepted.values()) == GROUPS * ALERTS_PER_GROUP
    triggers = Counter((row[1], row[2]) for row in outbox if row[3] == "trigger")
    assert set(triggers) == {(row[0], ch) for row in incidents for ch in ("slack", "email")}
    assert set(triggers.values()) == {1}

"""Two receivers on one PostgreSQL database page the simulator through the real notifiers (P2:
Slack and email) with the default leases. Mid-storm, Slack takes the posts but holds its
answers, so receiver A has Slack messages posted that it has not recorded; A is killed
(SIGKILL) then. B takes A's claims once they lapse, finds the messages A had posted by their
metadata and posts only the others: every accepted group is paged within 15 s of the kill,
and no group gets a second Slack message. (Email cannot tell: a mail A had handed over may be
sent twice; the test counts, not forbids, that.)"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import aiohttp
import pytest

from simulator import Simulator
from tests.ha.harness import (
    paging_env,
    post_alerts,
    query,
    slack_pages,
    start_receiver,
    until,
)
from tests.receiver.standins import alert, payload

pytestmark = pytest.mark.binaries
GROUPS = 60
WITHIN = 15.0
HELD_SQL = ("SELECT id, channel FROM outbox WHERE state = 'pending' AND claimed_by = %s")


def body(g: int, size: int) -> dict:
    group = f"Takeover{g:03d}"
    return payload(*[alert(group, fingerprint=f"{group}-{i}", priority="P2", instance=f"i{i}")
                     for i in range(size)], group=group)


async def test_a_receiver_killed_mid_storm_is_paged_for_within_15_s_and_no_slack_page_twice(
        postgres_url, tmp_path):
    async with Simulator(traffic=False) as sim:
        env = paging_env(sim, tmp_path)
        first = await start_receiver(tmp_path, postgres_url, "", "replica-a", **env)
        second = await start_receiver(tmp_path, postgres_url, "", "replica-b", **env)
        accepted: set[int] = set()
        try:
            async with aiohttp.ClientSession() as session:
                async def send(g: int, size: int) -> None:
                    statuses = await asyncio.gather(*(post_alerts(session, r.url, body(g, size))
                                                      for r in (first, second)))
                    if any(200 <= s < 300 for s in statuses):
                        accepted.add(g)

                async def storm(groups: range, size: int) -> None:
                    for start in range(groups.start, groups.stop, 10):
                        await asyncio.gather(*(send(g, size) for g in range(
                            start, min(start + 10, groups.stop))))

                await storm(range(GROUPS // 2), 3)
                sim.slack.hold_answers()        # posted, not answered: held in flight
                await storm(range(GROUPS // 2, GROUPS), 3)
                posted_unrecorded = await until_a_holds_posted_pages(sim, postgres_url, first)
                await first.kill()
                killed = time.monotonic()
                held = query(postgres_url, HELD_SQL, first.worker)
                sim.slack.release_answers()
                await storm(range(GROUPS), 5)   # the groups grow; only B answers now
            await until(lambda: not query(
                postgres_url, "SELECT 1 FROM outbox WHERE state <> 'sent'"),
                WITHIN - (time.monotonic() - killed), "every page sent within 15 s of the kill")
            since_kill = time.monotonic() - killed
            rows = query(postgres_url, "SELECT id, channel, delivered_ref FROM outbox")
            found = query(postgres_url, "SELECT outbox_id FROM attempts WHERE detail = %s",
                          "an earlier send was found there")
            incidents = query(postgres_url, "SELECT id FROM incidents")
        finally:
            await first.kill()
            await second.stop()
        mails = Counter(m.subject for m in sim.messages())

    assert held and posted_unrecorded, "A died holding no posted page: takeover not exercised"
    assert since_kill <= WITHIN
    assert accepted == set(range(GROUPS)) and len(incidents) == GROUPS
    slack_rows = {r[0]: r[2] for r in rows if r[1] == "slack"}
    assert len(slack_rows) == GROUPS and sum(r[1] == "email" for r in rows) == GROUPS
    pages = slack_pages(sim)
    assert set(pages) == set(slack_rows) and set(pages.values()) == {1}, pages.most_common(3)
    by_page = {m["metadata"]["event_payload"]["page"]: m["ts"] for m in sim.slack.messages}
    for row_id in posted_unrecorded:     # found by its metadata, recorded with its first ts
        assert slack_rows[row_id] == by_page[row_id]
    assert posted_unrecorded <= {r[0] for r in found}
    doubled_mail = sum(n - 1 for n in mails.values())
    print(f"A held {len(held)} claims ({len(posted_unrecorded)} Slack pages posted, "
          f"unrecorded); all sent {since_kill:.1f}s after the kill; Slack doubled 0, "
          f"email doubled {doubled_mail}")


async def until_a_holds_posted_pages(sim, store_url: str, receiver) -> set[str]:
    """The Slack rows ``receiver`` holds whose message the simulator has already taken."""
    found: set[str] = set()

    def posted() -> bool:
        held = {r[0] for r in query(store_url, HELD_SQL, receiver.worker) if r[1] == "slack"}
        found.clear()
        found.update(held & set(slack_pages(sim)))
        return bool(found)

    await until(posted, 30, f"{receiver.worker} holding Slack pages already posted")
    return set(found)

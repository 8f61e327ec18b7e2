"""Short claims and the heartbeat: a live worker keeps what it is sending or firing, a dead
one's claims are taken within a lease, and a taken-over row is looked up before it is sent.
Over a real store (SQLite and PostgreSQL) with a hand-moved clock; the heartbeat is beaten by
hand (``held.beat()``) except in the one test that runs the dispatcher's own loop."""

from __future__ import annotations

import asyncio
import time

import pytest
from prometheus_client import CollectorRegistry

from receiver.config import DispatchSettings, load_config
from receiver.domain.escalation import TIMER_KIND
from receiver.notify.base import Delivery
from receiver.services.escalation import EscalationWorker
from receiver.services.metrics import ReceiverMetrics
from receiver.store import make_store
from tests.receiver.conftest import FakeClock, eventually
from tests.receiver.standins import RecordingNotifier, alert
from tests.receiver.test_dispatcher import BlockedNotifier, deliver, dispatcher, recorders

LEASE = 15.0
SETTINGS = DispatchSettings(lease_seconds=LEASE, retry_base_seconds=10, retry_max_seconds=60)


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request, tmp_path):
    url = (f"sqlite://{tmp_path}/l.db" if request.param == "sqlite"
           else request.getfixturevalue("postgres_url"))
    s = make_store(url)
    await s.open()
    yield s
    await s.close()


class LookingNotifier(RecordingNotifier):
    """Finds an earlier send of any notification that says it may have one."""

    async def send(self, notification):
        if notification.maybe_sent_since is not None:
            self.sent.append(notification)
            return Delivery(ref="found-ts", found=True)
        return await super().send(notification)


def test_both_leases_default_to_ten_seconds_so_a_takeover_pages_within_fifteen():
    config = load_config({})
    assert (config.dispatch.lease_seconds, config.timer_lease_seconds) == (10.0, 10.0)
    assert config.dispatch.send_timeout_seconds > config.dispatch.lease_seconds


async def test_a_live_senders_row_stays_its_own_past_the_lease_and_lapses_when_it_stops(
        store, policy):
    clock = FakeClock()
    slack = BlockedNotifier("slack")
    live = dispatcher(store, policy, clock, recorders(policy, slack=slack), settings=SETTINGS)
    await deliver(store, policy, clock, alert("TelephonyProviderHealthLow", priority="P2"))
    sending = asyncio.create_task(live.run_once())
    async with asyncio.timeout(5):
        await slack.started.wait()                     # the Slack send hangs; email went out
    for _ in range(6):                                 # 30 s: twice the lease
        clock.advance(LEASE / 3)
        assert await live.held.beat() == 1
        assert await store.claim_outbox("w2", clock(), LEASE, 10) == []
    clock.advance(LEASE)                               # no beat for a lease: as if dead
    [taken] = await store.claim_outbox("w2", clock(), LEASE, 10)
    assert (taken.channel, taken.taken_over_from) == ("slack", "w1")
    slack.release.set()
    await sending
    assert not live.held.holds(taken.id)               # its finish found the claim lost
    [row] = [r for r in await store.outbox_for(taken.incident_id) if r.id == taken.id]
    assert (row.state, row.claimed_by) == ("pending", "w2")


async def test_a_dead_holders_rows_are_taken_after_the_lease_and_looked_up_first(store, policy):
    clock = FakeClock()
    notifiers = recorders(policy, slack=LookingNotifier("slack"))
    changes = await deliver(store, policy, clock,
                            alert("TelephonyProviderHealthLow", priority="P2"))
    assert len(await store.claim_outbox("dead", clock(), LEASE, 10)) == 2   # it dies holding both
    survivor = dispatcher(store, policy, clock, notifiers, worker="w2", settings=SETTINGS)
    clock.advance(LEASE - 1)
    assert await survivor.run_once() == 0
    clock.advance(1)
    assert await survivor.run_once() == 2
    [looked] = notifiers["slack"].sent
    [mailed] = notifiers["email"].sent
    assert looked.maybe_sent_since == mailed.maybe_sent_since == changes.outbox[0].next_attempt_at
    rows = {r.channel: r for r in await store.outbox_for(changes.incident.id)}
    assert (rows["slack"].state, rows["slack"].delivered_ref) == ("sent", "found-ts")
    [attempt] = await store.attempts_for(rows["slack"].id)
    assert (attempt.outcome, attempt.detail) == ("sent", "an earlier send was found there")
    # a row sent by its first holder is a plain send: nothing to look up
    await deliver(store, policy, clock, alert("TelephonyServiceDegraded", priority="P2"),
                  group="other")
    assert await survivor.run_once() == 2
    assert [n.maybe_sent_since for n in notifiers["email"].sent[1:]] == [None]


async def test_the_running_dispatcher_beats_by_itself(store, policy):
    """Real time: a 0.3 s lease outlived three times over by a send that hangs."""
    slack = BlockedNotifier("slack")
    settings = DispatchSettings(lease_seconds=0.3, poll_seconds=0.05)
    live = dispatcher(store, policy, time.time, recorders(policy, slack=slack), settings=settings)
    await deliver(store, policy, time.time, alert("TelephonyProviderHealthLow", priority="P2"))
    running = asyncio.create_task(live.run())
    try:
        async with asyncio.timeout(5):
            await slack.started.wait()
        await asyncio.sleep(1.0)
        assert await store.claim_outbox("w2", time.time(), 0.3, 10) == []
        slack.release.set()
        await eventually(lambda: len(slack.sent) == 1, timeout=5)
    finally:
        live.stop()
        async with asyncio.timeout(5):
            await running
    [incident] = await store.list_incidents()
    assert {r.state for r in await store.outbox_for(incident.id)} == {"sent"}


async def test_a_timer_being_fired_stays_claimed_while_its_worker_beats(store, policy):
    clock = FakeClock()
    changes = await deliver(store, policy, clock, alert("TelephonyProviderHealthLow",
                                                        priority="P1"))
    [timer] = [t for t in await store.timers_for(changes.incident.id) if t.kind == TIMER_KIND]
    worker = EscalationWorker(store, policy, ReceiverMetrics(CollectorRegistry()), worker="w1",
                              clock=clock, lease_seconds=LEASE)
    entered, release = asyncio.Event(), asyncio.Event()
    timeline = store.timeline

    async def slow_timeline(incident_id):              # the step stalls while being fired
        entered.set()
        await release.wait()
        return await timeline(incident_id)

    store.timeline = slow_timeline
    clock.now = timer.due_at
    firing = asyncio.create_task(worker.run_once())
    async with asyncio.timeout(5):
        await entered.wait()
    for _ in range(6):
        clock.advance(LEASE / 3)
        assert await worker.held.beat() == 1
        assert await store.claim_timers("w2", clock(), LEASE, 10) == []
    release.set()
    assert await firing == 1                          # fired once, by its live holder
    assert not worker.held.holds(timer.id)

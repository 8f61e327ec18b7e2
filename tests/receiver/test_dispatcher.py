"""The outbox dispatcher over a real store with in-test notifiers and a hand-moved clock."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime

import pytest
from prometheus_client import CollectorRegistry

from receiver.config import DispatchSettings
from receiver.domain.alertmanager import delivery_key, parse_payload
from receiver.domain.incidents import Context, decide
from receiver.domain.outbox import next_fallback
from receiver.services.dispatcher import Dispatcher
from receiver.services.metrics import ReceiverMetrics
from receiver.store import make_store
from tests.receiver.conftest import ON_CALL, FakeClock, eventually, with_notifications
from tests.receiver.standins import (
    DeadNotifier,
    FlakyNotifier,
    RecordingNotifier,
    alert,
    payload,
)

SETTINGS = DispatchSettings(lease_seconds=30, retry_base_seconds=10, retry_max_seconds=60,
                            max_age_seconds=3600)
_ids = itertools.count(1)


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request, tmp_path):
    url = (f"sqlite://{tmp_path}/d.db" if request.param == "sqlite"
           else request.getfixturevalue("postgres_url"))
    s = make_store(url)
    await s.open()
    yield s
    await s.close()


async def deliver(store, policy, clock, *alerts, group="G"):
    group_ = parse_payload(payload(*alerts, group=group))
    ctx = Context(policy=policy, now=clock(), new_id=lambda: f"x{next(_ids)}",
                  batch=delivery_key(group_))
    return await store.apply_group(ctx.batch, group_.incident_key, ctx.now,
                                   lambda snap: decide(group_, snap, ctx))


def dispatcher(store, policy, clock, notifiers, worker="w1", settings=SETTINGS):
    metrics = ReceiverMetrics(CollectorRegistry())
    return Dispatcher(store, notifiers, policy, metrics, worker=worker, settings=settings,
                      clock=clock, jitter=lambda delay: delay)


def recorders(policy, **overrides):
    found = {name: RecordingNotifier(name) for name in policy.channels}
    found.update(overrides)
    return found


def counter(d: Dispatcher, channel: str, outcome: str) -> float:
    return d.metrics.notifications.labels(channel, outcome)._value.get()


async def test_a_notifier_that_fails_then_recovers_delivers_once_after_recovery(store, policy):
    clock = FakeClock()
    slack = FlakyNotifier("slack", failures=2)
    d = dispatcher(store, policy, clock, recorders(policy, slack=slack))
    changes = await deliver(store, policy, clock, alert("TelephonyProviderHealthLow"))
    assert await d.run_once() == 2                      # slack fails, email delivers
    assert slack.sent == [] and await d.run_once() == 0  # not due before the backoff
    clock.advance(10)
    await d.run_once()                                   # second failure, next try in 20 s
    clock.advance(19)
    assert await d.run_once() == 0
    clock.advance(1)
    await d.run_once()
    assert [n.kind for n in slack.sent] == ["trigger"] and slack.calls == 3
    rows = {r.channel: r for r in await store.outbox_for(changes.incident.id)}
    assert (rows["slack"].state, rows["slack"].attempts, rows["slack"].delivered_ref) == (
        "sent", 3, "slack-1")
    attempts = await store.attempts_for(rows["slack"].id)
    assert [(a.outcome, a.reason) for a in attempts] == [
        ("retry", "server_error"), ("retry", "server_error"), ("sent", None)]
    assert (counter(d, "slack", "retry"), counter(d, "slack", "sent")) == (2, 1)
    clock.advance(3600)
    assert await d.run_once() == 0 and len(slack.sent) == 1


async def test_a_channel_failing_past_the_deadline_falls_back_once(store, policy):
    policy = with_notifications(policy, fallback_after_seconds=60)
    clock = FakeClock()
    notifiers = recorders(policy, slack=DeadNotifier("slack"))
    d = dispatcher(store, policy, clock, notifiers)
    changes = await deliver(store, policy, clock, alert("TelephonyProviderHealthLow"))  # P1
    await d.run_once()                                   # t=0: fails, next try at +10
    clock.advance(10)
    await d.run_once()                                   # t=10: fails, next at +30
    clock.advance(20)
    await d.run_once()                                   # t=30: fails, next at +70
    assert notifiers["phone"].sent == [] and len(await store.outbox_for(changes.incident.id)) == 2
    clock.advance(40)
    await d.run_once()                                   # t=70: past 60 s -> fallback row
    await d.run_once()                                   # the fallback row is due at once
    assert [n.kind for n in notifiers["phone"].sent] == ["trigger"]
    assert notifiers["phone"].sent[0].recipients == (ON_CALL.phone,)
    for _ in range(3):                                   # more failures: no second fallback
        clock.advance(60)
        await d.run_once()
    assert len(notifiers["phone"].sent) == 1
    rows = await store.outbox_for(changes.incident.id)
    fallback = [r for r in rows if r.fallback_of]
    assert [(r.channel, r.state) for r in fallback] == [("phone", "sent")]
    assert [r.state for r in rows if r.channel == "slack"] == ["pending"]  # still retrying
    timeline = [e for e in await store.timeline(changes.incident.id) if e.kind == "fallback"]
    assert [e.detail for e in timeline] == [{"from": "slack", "to": "phone", "kind": "trigger"}]


async def test_a_rejected_notification_fails_and_falls_back_at_once(store, policy):
    clock = FakeClock()
    pagerduty = DeadNotifier("pagerduty", retryable=False, reason="rejected")
    notifiers = recorders(policy, pagerduty=pagerduty)
    d = dispatcher(store, policy, clock, notifiers)
    changes = await deliver(store, policy, clock, alert("TelephonyServiceDown"))  # P0
    await d.run_once()
    await d.run_once()
    rows = {r.channel: r for r in await store.outbox_for(changes.incident.id)}
    assert rows["pagerduty"].state == "failed" and rows["pagerduty"].attempts == 1
    assert rows["email"].fallback_of == rows["pagerduty"].id and rows["email"].state == "sent"
    assert counter(d, "pagerduty", "failed") == 1
    assert d.metrics.failures.labels("pagerduty", "rejected")._value.get() == 1


async def test_a_channel_without_a_notifier_keeps_its_page_waiting(store, policy):
    clock = FakeClock()
    notifiers = recorders(policy)
    del notifiers["email"]
    d = dispatcher(store, policy, clock, notifiers)
    changes = await deliver(store, policy, clock, alert())  # P2: slack, email
    await d.run_once()
    rows = {r.channel: r for r in await store.outbox_for(changes.incident.id)}
    assert rows["email"].state == "pending" and rows["email"].last_error.startswith("config:")
    assert await store.pending_count() == 1


async def test_a_row_failing_past_its_maximum_age_is_abandoned(store, policy):
    clock = FakeClock()
    d = dispatcher(store, policy, clock, recorders(policy, email=DeadNotifier("email")))
    changes = await deliver(store, policy, clock, alert())
    await d.run_once()
    clock.advance(3601)
    await d.run_once()
    rows = {r.channel: r for r in await store.outbox_for(changes.incident.id)}
    assert rows["email"].state == "abandoned"
    assert "notify_abandoned" in [e.kind for e in await store.timeline(changes.incident.id)]


async def test_due_digest_rows_leave_as_one_digest_notification(store, policy):
    clock = FakeClock(datetime(2026, 11, 27, 10, 0, tzinfo=UTC).timestamp())
    notifiers = recorders(policy)
    d = dispatcher(store, policy, clock, notifiers)
    for name in ("A", "B", "C"):
        await deliver(store, policy, clock, alert(f"Warn{name}", severity="warning"), group=name)
    assert await d.run_once() == 0 and await store.pending_count() == 3
    clock.now = datetime(2026, 11, 28, 9, 0, tzinfo=UTC).timestamp()
    assert await d.run_once() == 3
    sent = notifiers["digest"].sent
    assert len(sent) == 1 and sent[0].kind == "digest"
    assert all(f"Warn{name} on twilio" in sent[0].text for name in "ABC")
    assert sent[0].recipients == ("oncall@example.com",)
    assert await store.pending_count() == 0


async def test_rows_claimed_by_a_dead_worker_are_sent_once_after_the_claim_expires(store, policy):
    clock = FakeClock()
    notifiers = recorders(policy)
    changes = await deliver(store, policy, clock, alert())
    claimed = await store.claim_outbox("dead", clock(), SETTINGS.lease_seconds, 10)
    assert len(claimed) == 2                             # the worker dies holding both rows
    d = dispatcher(store, policy, clock, notifiers, worker="w2")
    assert await d.run_once() == 0
    clock.advance(SETTINGS.lease_seconds)
    assert await d.run_once() == 2
    assert len(notifiers["slack"].sent) == len(notifiers["email"].sent) == 1
    assert {r.state for r in await store.outbox_for(changes.incident.id)} == {"sent"}


@pytest.mark.parametrize("priority,channel,expected", [
    pytest.param("P0", "pagerduty", "email", id="a failing P0 primary falls back to email"),
    pytest.param("P1", "slack", "phone", id="a failing P1 primary falls back to phone"),
    pytest.param("P1", "phone", None, id="the last fallback has nowhere to go"),
    pytest.param("P2", "slack", None, id="a route without fallback has none"),
    pytest.param("P3", "digest", "email", id="a failing digest falls back to email"),
])
def test_next_fallback(policy, priority, channel, expected):
    assert next_fallback(policy, priority, channel) == expected


async def test_two_receivers_getting_the_same_group_at_once_open_one_incident(store, policy):
    """An HA pair of Alertmanagers: the same group, differing deliveries, at the same time."""
    clock = FakeClock()
    first = alert("TelephonyProviderHealthLow", fingerprint="a")
    second = alert("TelephonyProviderHealthLow", fingerprint="b", instance="x")
    results = await asyncio.gather(deliver(store, policy, clock, first),
                                   deliver(store, policy, clock, first, second))
    incidents = await store.list_incidents()
    assert len(incidents) == 1 and sum(r.new_incident for r in results) == 1
    rows = await store.outbox_for(incidents[0].id)
    assert sorted((r.channel, r.kind) for r in rows) == [("email", "trigger"),
                                                         ("slack", "trigger")]


async def test_a_warning_and_its_critical_through_two_priority_routes_are_one_incident(
        store, policy):
    clock = FakeClock()
    warning = alert("TelephonyCallDropRateHigh", fingerprint="w", severity="warning",
                    priority="P3")
    critical = alert("TelephonyCallDropRateHigh", fingerprint="c", priority="P1")

    async def via(route: str, *alerts):
        body = payload(*alerts, groupKey=f'{{}}/{{priority="{route}"}}:{{alertname="G"}}')
        group_ = parse_payload(body)
        ctx = Context(policy=policy, now=clock(), new_id=lambda: f"y{next(_ids)}",
                      batch=delivery_key(group_))
        return await store.apply_group(ctx.batch, group_.incident_key, ctx.now,
                                       lambda snap: decide(group_, snap, ctx))

    await via("P3", warning)
    await via("P1", critical)
    (incident,) = await store.list_incidents()
    assert (incident.priority, incident.state) == ("P1", "triggered")
    await via("P1", alert("TelephonyCallDropRateHigh", fingerprint="c", priority="P1",
                          status="resolved"))
    (incident,) = await store.list_incidents()
    assert incident.state == "triggered"        # the warning still fires through P3
    await via("P3", alert("TelephonyCallDropRateHigh", fingerprint="w", severity="warning",
                          priority="P3", status="resolved"))
    (incident,) = await store.list_incidents()
    assert incident.state == "resolved"


class BlockedNotifier(RecordingNotifier):
    """Holds every send until ``release`` is set; ``started`` is set by the first."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.started, self.release = asyncio.Event(), asyncio.Event()

    async def send(self, notification):
        self.started.set()
        await self.release.wait()
        return await super().send(notification)


async def test_a_page_committed_during_a_slow_send_does_not_wait_for_it(store, policy):
    clock = FakeClock()
    phone = BlockedNotifier("phone")
    notifiers = recorders(policy, phone=phone)
    settings = DispatchSettings(lease_seconds=30, poll_seconds=30.0)   # only a wake claims
    d = dispatcher(store, policy, clock, notifiers, settings=settings)
    await deliver(store, policy, clock, alert("TelephonyServiceDown"), group="first")
    running = asyncio.create_task(d.run())
    async with asyncio.timeout(5):
        await phone.started.wait()                   # the first incident's call hangs
    await deliver(store, policy, clock, alert("TelephonyServiceDown", fingerprint="b"),
                  group="second")
    d.wake()
    await eventually(lambda: len(notifiers["pagerduty"].sent) == 2, timeout=5)
    assert not phone.release.is_set() and phone.sent == []
    phone.release.set()
    d.stop()
    async with asyncio.timeout(5):
        await running
    assert {n.incident_id for n in notifiers["pagerduty"].sent} == {
        n.incident_id for n in phone.sent}

"""Runs escalation: fires each incident's durable "escalation" timer and writes what is due.

Every open incident has one pending timer of kind ``escalation``. When it falls due, this
worker claims it (so with several receivers one fires it), asks the pure
``receiver.domain.escalation.due_actions`` what is due given what already happened (the keys of the
incident's ``escalated`` / ``sla_breached`` / ``vendor_escalation`` timeline events), and in ONE
transaction marks the timer fired, writes the outbox rows and events, and schedules the next
timer at ``next_due``. A receiver that dies holding the claim leaves it to expire (within
``lease_seconds``); another takes it. While this one lives, its heartbeat renews the timers it
is firing (``receiver.services.leases``): a slow step (a vendor draft asking the exporter) is
never fired twice. Acknowledgement, resolution and priority changes cancel the timer and schedule a
fresh one, which recomputes from the policy. The same worker sends the post-incident
reminders (timers of kind ``followup``, ``receiver.domain.followup``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from policy import Policy
from receiver.domain import followup
from receiver.domain.escalation import (
    SLA,
    TIMER_KIND,
    VENDOR,
    Action,
    done_keys,
    due_actions,
    escalation_case,
    escalation_changes,
    escalation_timer,
    next_due,
    requested_levels,
)
from receiver.domain.ids import new_id
from receiver.domain.model import Event, Incident, IncidentState, NewOutbox, Timer, TimerState
from receiver.services.leases import Heartbeat
from receiver.services.metrics import ReceiverMetrics
from receiver.services.passes import guarded, pause
from receiver.store.base import Store

log = logging.getLogger("callwatch.receiver.escalation")
# (incident, timeline, action, now, batch) -> the outbox rows of a vendor escalation
VendorRows = Callable[[Incident, list[Event], Action, float, str], Awaitable[list[NewOutbox]]]


class EscalationWorker:
    """Claims due escalation timers and fires them until stopped."""

    def __init__(self, store: Store, policy: Policy, metrics: ReceiverMetrics, *, worker: str,
                 public_url: str = "", clock: Callable[[], float] = time.time,
                 poll_seconds: float = 1.0, lease_seconds: float = 10.0,
                 on_commit: Callable[[], None] = lambda: None,
                 vendor_rows: VendorRows | None = None) -> None:
        self.store, self.policy, self.metrics = store, policy, metrics
        self.worker, self.public_url, self.clock = worker, public_url, clock
        self.poll_seconds, self.lease_seconds = poll_seconds, lease_seconds
        self.on_commit = on_commit
        self.vendor_rows = vendor_rows
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self.held = Heartbeat(store.renew_timer_claims, worker, lease_seconds, clock, "timers")

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    def wake(self) -> None:
        """Look at the timers now (an incident was just opened or changed: a first step due at
        once, such as a P1's PagerDuty page, should not wait for the next poll)."""
        self._wake.set()

    async def run(self) -> None:
        heartbeat = asyncio.create_task(self.held.run())
        try:
            while not self._stopping.is_set():
                await guarded(self.run_once, log, "escalation")
                await pause(self._wake, self.poll_seconds)
                self._wake.clear()
        finally:
            heartbeat.cancel()
            await asyncio.gather(heartbeat, return_exceptions=True)

    async def run_once(self) -> int:
        """Fire every due timer once; returns how many fired."""
        now = self.clock()
        timers = await self.store.claim_timers(self.worker, now, self.lease_seconds, 50)
        self.held.hold(timer.id for timer in timers)
        fired = 0
        try:
            for timer in timers:
                if timer.kind == TIMER_KIND:
                    fired += await self.fire(timer, self.clock())
                elif timer.kind == followup.TIMER_KIND:
                    fired += await self.remind(timer, self.clock())
                self.held.release((timer.id,))
        finally:
            self.held.release(timer.id for timer in timers)
        return fired

    async def remind(self, timer: Timer, now: float) -> int:
        """Send a due post-incident reminder, or cancel it (``followup.reminder_verdict``)."""
        incident = await self.store.get_incident(timer.incident_id)
        timeline = await self.store.timeline(timer.incident_id) if incident else []
        if followup.reminder_verdict(incident, timeline) == followup.CANCEL or incident is None:
            await self.store.finish_timer(timer.id, self.worker, now, TimerState.CANCELLED)
            return 0
        changes = followup.reminder_changes(incident, timer, self.policy, now, new_id,
                                            self.public_url)
        if not await self.store.finish_timer(timer.id, self.worker, now, TimerState.FIRED, changes):
            return 0
        if changes.outbox:
            self.on_commit()
        return 1

    async def fire(self, timer: Timer, now: float) -> int:
        incident = await self.store.get_incident(timer.incident_id)
        if incident is None or incident.state == IncidentState.RESOLVED:
            await self.store.finish_timer(timer.id, self.worker, now, TimerState.CANCELLED)
            return 0
        timeline = await self.store.timeline(incident.id)
        done, requested = done_keys(timeline), requested_levels(timeline)
        due = due_actions(escalation_case(incident, done, requested), self.policy, now)
        vendor_rows = {}  # drafted before the transaction: it may ask the exporter over HTTP
        for action in due:
            if action.kind == VENDOR and self.vendor_rows is not None:
                vendor_rows[action.key] = await self.vendor_rows(
                    incident, timeline, action, now, f"{timer.id}:{action.key}")
        changes = escalation_changes(incident, due, self.policy, now, timer.id, vendor_rows,
                                     self.public_url)
        later = next_due(escalation_case(incident, done | {a.key for a in due}, requested),
                         self.policy)
        if later is not None:
            changes.timers.append(escalation_timer(incident.id, max(later, now)))
        if not await self.store.finish_timer(timer.id, self.worker, now, TimerState.FIRED, changes):
            return 0  # the claim was lost (acknowledged meanwhile, or another worker took it)
        for action in due:
            if action.kind == SLA and not incident.drill:   # a drill is not a breach
                self.metrics.sla_breaches.labels(incident.priority).inc()
        if changes.outbox:
            self.on_commit()
        return 1

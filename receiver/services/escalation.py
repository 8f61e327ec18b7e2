"""Runs escalation: fires each incident's durable "escalation" timer and writes what is due.

Every open incident has one pending timer of kind ``escalation``. When it falls due, this
worker claims it (so with several receivers one fires it), asks the pure
``receiver.domain.escalation.due_actions`` what is due given what already happened (the keys of the
incident's ``escalated`` / ``sla_breached`` / ``vendor_escalation`` timeline events), and in ONE
transaction marks the timer fired, writes the outbox rows and events, and schedules the next
timer at ``next_due``. A receiver that dies holding the claim leaves it to expire; another
takes it. Acknowledgement, resolution and priority changes cancel the timer and schedule a
fresh one, which recomputes from the policy.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Awaitable, Callable

from policy import Policy
from receiver.domain import messages
from receiver.domain.escalation import (
    BUSINESS, ENGINEERING, SLA, VENDOR, Action, FiringAlert, IncidentState, due_actions, next_due,
)
from receiver.domain.ids import new_id
from receiver.store.base import Changes, Event, Incident, NewOutbox, Store, StoreError, Timer

if TYPE_CHECKING:  # receiver.services.metrics imports receiver.domain.incidents, which imports this module
    from receiver.services.metrics import ReceiverMetrics

log = logging.getLogger("callwatch.receiver.escalation")
TIMER_KIND = "escalation"
ACTOR = "escalation"
DONE_EVENTS = {"escalated", "sla_breached", "vendor_escalation"}


def escalation_timer(incident_id: str, due_at: float) -> Timer:
    """The timer that (re)starts escalation for an incident at ``due_at``."""
    return Timer(new_id(), incident_id, TIMER_KIND, due_at, {})


def done_keys(timeline: list[Event]) -> set[str]:
    """The escalation actions already carried out since the incident last (re)opened: an
    incident that fires again after resolving pages its people again."""
    start = max((i for i, e in enumerate(timeline) if e.kind == "reopened"), default=-1)
    return {str(e.detail.get("key")) for e in timeline[start + 1:] if e.kind in DONE_EVENTS}


def incident_state(incident: Incident, done: set[str]) -> IncidentState:
    """What escalation needs. An alert counts as firing since the incident opened: the moment
    callwatch knew, whatever ``startsAt`` a late or replayed delivery carries."""
    alerts = tuple(FiringAlert(a.get("labels", {}).get("alertname", ""),
                               a.get("labels", {}).get("provider") or incident.provider,
                               incident.opened_at)
                   for a in incident.alerts if a.get("status", "firing") == "firing")
    return IncidentState(incident.priority, incident.state, incident.opened_at, incident.provider,
                         alerts, frozenset(done))


def recipients(policy: Policy, contacts: tuple[str, ...], channel: str) -> tuple[str, ...] | None:
    """Addresses of ``contacts`` on ``channel``; None when none of them is reachable there."""
    spec = policy.channels[channel]
    people = [policy.contacts[key] for key in contacts]
    if spec.type == "pagerduty":
        return () if any(p.pagerduty for p in people) else None
    field = messages.CONTACT_FIELDS.get(spec.type)
    found = tuple(getattr(p, field) for p in people if field and getattr(p, field))
    return found or None


def action_rows(incident: Incident, action: Action, policy: Policy, now: float, batch: str,
                public_url: str) -> list[NewOutbox]:
    """The outbox rows paging one escalation level (one per reachable channel)."""
    names = ", ".join(policy.contacts[key].name for key in action.contacts)
    minutes = max(0, round((now - incident.opened_at) / 60))
    note = (f"Escalated to {action.level} ({names}): not acknowledged after {minutes} min"
            if action.kind == ENGINEERING else
            f"Business escalation {action.level} ({names}) after {minutes} min")
    leading = incident.alerts[0] if incident.alerts else None
    rows = []
    for channel in action.channels:
        to = recipients(policy, action.contacts, channel)
        if to is None or (action.kind == ENGINEERING and _is_route(policy, action, incident,
                                                                     channel)):
            continue
        payload = messages.compose(
            incident_id=incident.id, kind="escalate", channel=channel, priority=incident.priority,
            summary=incident.summary, provider=incident.provider, alert=leading, policy=policy,
            public_url=public_url, note=note)
        if to:
            payload["recipients"] = list(to)
        rows.append(NewOutbox(new_id(), incident.id, channel, "escalate", payload, now, batch))
    return rows


def _is_route(policy: Policy, action: Action, incident: Incident, channel: str) -> bool:
    """The route already paged the first engineering level (its recipients are that level's
    contacts): the first step adds only the channels the route lacks (P1: PagerDuty)."""
    first = policy.escalation.engineering[0].level
    return action.level == first and channel in policy.routing[incident.priority].channels


# (incident, timeline, action, now, batch) -> the outbox rows of a vendor escalation
VendorRows = Callable[[Incident, list[Event], Action, float, str], Awaitable[list[NewOutbox]]]


class EscalationWorker:
    """Claims due escalation timers and fires them until stopped."""

    def __init__(self, store: Store, policy: Policy, metrics: "ReceiverMetrics", *, worker: str,
                 public_url: str = "", clock: Callable[[], float] = time.time,
                 poll_seconds: float = 1.0, lease_seconds: float = 30.0,
                 on_commit: Callable[[], None] = lambda: None,
                 vendor_rows: VendorRows | None = None) -> None:
        self.store, self.policy, self.metrics = store, policy, metrics
        self.worker, self.public_url, self.clock = worker, public_url, clock
        self.poll_seconds, self.lease_seconds = poll_seconds, lease_seconds
        self.on_commit = on_commit
        self.vendor_rows = vendor_rows
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    def wake(self) -> None:
        """Look at the timers now (an incident was just opened or changed: a first step due at
        once, such as a P1's PagerDuty page, should not wait for the next poll)."""
        self._wake.set()

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.run_once()
            except StoreError as exc:
                log.warning("escalation pass failed", extra={"error": str(exc)})
            except Exception:  # noqa: BLE001 - escalation must outlive its bugs
                log.exception("escalation pass crashed")
            try:
                async with asyncio.timeout(self.poll_seconds):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()

    async def run_once(self) -> int:
        """Fire every due timer once; returns how many fired."""
        now = self.clock()
        timers = await self.store.claim_timers(self.worker, now, self.lease_seconds, 50)
        fired = 0
        for timer in timers:
            if timer.kind == TIMER_KIND:
                fired += await self.fire(timer, self.clock())
        return fired

    async def fire(self, timer: Timer, now: float) -> int:
        incident = await self.store.get_incident(timer.incident_id)
        if incident is None or incident.state == "resolved":
            await self.store.finish_timer(timer.id, self.worker, now, "cancelled")
            return 0
        timeline = await self.store.timeline(incident.id)
        done = done_keys(timeline)
        due = due_actions(incident_state(incident, done), self.policy, now)
        vendor_rows = {}  # drafted before the transaction: it may ask the exporter over HTTP
        for action in due:
            if action.kind == VENDOR and self.vendor_rows is not None:
                vendor_rows[action.key] = await self.vendor_rows(
                    incident, timeline, action, now, f"{timer.id}:{action.key}")
        changes = self._changes(incident, due, now, timer.id, vendor_rows)
        later = next_due(incident_state(incident, done | {a.key for a in due}), self.policy)
        if later is not None:
            changes.timers.append(escalation_timer(incident.id, max(later, now)))
        if not await self.store.finish_timer(timer.id, self.worker, now, "fired", changes):
            return 0  # the claim was lost (acknowledged meanwhile, or another worker took it)
        for action in due:
            if action.kind == SLA:
                self.metrics.sla_breaches.labels(incident.priority).inc()
        if changes.outbox:
            self.on_commit()
        return 1

    def _changes(self, incident: Incident, due: list[Action], now: float, timer_id: str,
                 vendor_rows: dict[str, list[NewOutbox]]) -> Changes:
        changes = Changes()
        for action in due:
            batch = f"{timer_id}:{action.key}"
            if action.kind in (ENGINEERING, BUSINESS):
                rows = action_rows(incident, action, self.policy, now, batch, self.public_url)
                kind, detail = "escalated", {"level": action.level, "chain": action.kind,
                                             "contacts": list(action.contacts),
                                             "channels": [r.channel for r in rows]}
            elif action.kind == VENDOR:
                rows = vendor_rows.get(action.key, [])
                kind, detail = "vendor_escalation", {"provider": action.provider,
                                                     "channels": [r.channel for r in rows]}
            else:
                rows = []
                kind, detail = "sla_breached", {
                    "response_seconds": self.policy.priorities[incident.priority].response_seconds}
            changes.outbox.extend(rows)
            changes.events.append(Event(incident.id, now, kind, ACTOR,
                                        {"key": action.key, **detail}))
        return changes


def vendor_drafter(policy: Policy, environ, actions, public_url: str) -> VendorRows:
    """Vendor escalation rows: the vendor email drafted from the incident and the exporter's
    provider health (example failed calls, errors), sent to the on-call, and to the vendor
    only where the policy opts in (``receiver.services.vendor``)."""
    from receiver.services.vendor import vendor_context, vendor_payloads

    async def draft(incident: Incident, timeline: list[Event], action: Action, now: float,
                    batch: str) -> list[NewOutbox]:
        about = replace(incident, provider=action.provider)  # "all" -> each vendor in turn
        vendor = await vendor_context(about, timeline, policy, environ, actions.session, now=now)
        if vendor is None:
            return []
        return vendor_payloads(about, timeline, policy, vendor, now=now, new_id=new_id,
                               batch=batch, comms=actions.comms, public_url=public_url)

    return draft

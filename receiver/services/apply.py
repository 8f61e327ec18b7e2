"""Incident changes, each ONE store transaction around a pure decision: an Alertmanager
delivery (``apply_delivery``), a person's or PagerDuty's action (``apply_action``), an incident
declared by hand (``declare_incident``); and the watchdog's heartbeat (``apply_heartbeat``),
which changes no incident itself but ends the dead man's switch's.

Every decision's changes pass through ``receiver.domain.followup.with_followup``: a P0-P2
incident resolved gets its report and post-mortem reminders, a reopened one loses them; and
through ``receiver.services.status_page.with_status_page``: the customer notice published,
updated and resolved on the status page (auto-publish, acknowledge, resolve).

After a commit, and only then: response times are recorded (MTTA, MTTR) and the dispatcher and
the escalation worker are woken for the new rows and timers. Every function raises StoreError
(StoreNotOpen included) when the store cannot take the change; nothing is recorded then.
"""

from __future__ import annotations

from collections.abc import Callable

from receiver.domain.actions import ActionContext, Outcome, decide_declare
from receiver.domain.alertmanager import AlertGroup, delivery_key
from receiver.domain.context import MANUAL_PREFIX
from receiver.domain.followup import with_followup
from receiver.domain.ids import new_id
from receiver.domain.incidents import Context, decide
from receiver.domain.model import Changes, EventKind, Incident
from receiver.services.state import ReceiverState
from receiver.services.status_page import with_status_page
from receiver.store.base import StoreError


async def apply_delivery(state: ReceiverState, group: AlertGroup) -> Changes | None:
    """Apply one Alertmanager delivery; None when the same delivery was applied before."""
    key = delivery_key(group)
    ctx = Context(policy=state.policy, now=state.clock(), new_id=new_id, batch=key,
                  public_url=state.config.public_url)
    changes = await state.opened_store().apply_group(
        key, group.incident_key, ctx.now,
        with_status_page(state, lambda snapshot: with_followup(decide(group, snapshot, ctx),
                                                               new_id)))
    if changes is not None:
        _committed(state, changes)
    return changes


async def apply_heartbeat(state: ReceiverState) -> None:
    """Record the watchdog's heartbeat (its arrival time, in the store every receiver shares)
    and have the dead man's switch look at once: its incident resolves when the heartbeat
    returns. Opens nothing, pages nobody."""
    now = state.clock()
    await state.opened_store().record_heartbeat(state.policy.watchdog.alertname, now)
    state.metrics.watchdog_last_heartbeat.set(now)
    if state.watchdog is not None:
        state.watchdog.wake()


async def apply_action(state: ReceiverState, incident_id: str,
                       decide: Callable[..., Outcome], ctx: ActionContext) -> Outcome | None:
    """Run one pure action decision in the incident's transaction; None for an unknown id."""
    outcomes: list[Outcome] = []

    def run(snapshot):
        outcomes.append(decide(snapshot, ctx))
        return with_followup(outcomes[-1].changes, ctx.new_id)

    changes = await state.opened_store().apply_incident(incident_id, ctx.now,
                                                         with_status_page(state, run))
    if changes is None:
        return None
    outcome = outcomes[-1]
    if outcome.conflict is None:
        _committed(state, outcome.changes)
    return outcome


async def declare_incident(state: ReceiverState, ctx: ActionContext, *, summary: str, priority: str,
                  description: str, provider: str | None) -> Incident:
    """Open an incident by hand (group ``manual:<id>``); routing and escalation as usual."""
    incident_id = new_id()
    outcomes: list[Outcome] = []

    def run(snapshot):
        outcomes.append(decide_declare(snapshot, ctx, incident_id=incident_id, summary=summary,
                                       priority=priority, description=description,
                                       provider=provider))
        return outcomes[-1].changes

    key = MANUAL_PREFIX + incident_id
    await state.opened_store().apply_group(key, key, ctx.now, with_status_page(state, run))
    outcome = outcomes[-1]
    _committed(state, outcome.changes)
    assert outcome.incident is not None
    return outcome.incident


async def resolver_of(state: ReceiverState, incident_id: str) -> str | None:
    """Who resolved the incident (the last ``resolved`` event's actor), for the 409 message."""
    try:
        events = await state.opened_store().timeline(incident_id)
    except StoreError:
        return None
    return next((e.actor for e in reversed(events) if e.kind == EventKind.RESOLVED), None)


def _committed(state: ReceiverState, changes: Changes) -> None:
    state.metrics.record_response_times(changes)
    if changes.outbox or changes.timers:
        state.committed()

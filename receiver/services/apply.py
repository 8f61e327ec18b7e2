"""Running one pure action decision in the store, shared by the HTTP and webhook handlers."""

from __future__ import annotations

from typing import Callable

from receiver.domain.actions import ActionContext, Outcome
from receiver.services.state import ReceiverState
from receiver.store.base import StoreError


async def apply_action(state: ReceiverState, incident_id: str,
                       decide: Callable[..., Outcome], ctx: ActionContext) -> Outcome | None:
    """Run one pure decision in the incident's transaction; None for an unknown id.
    On success, records MTTA / MTTR and wakes the dispatcher (``state.committed()``).
    StoreError (StoreNotOpen included) when the store cannot take it."""
    outcomes: list[Outcome] = []

    def run(snapshot):
        outcomes.append(decide(snapshot, ctx))
        return outcomes[-1].changes

    changes = await state.opened_store().apply_incident(incident_id, ctx.now, run)
    if changes is None:
        return None
    outcome = outcomes[-1]
    if outcome.conflict is None and outcome.incident is not None:
        observe(state, outcome)
        state.committed()
    return outcome


def observe(state: ReceiverState, outcome: Outcome) -> None:
    incident = outcome.incident
    assert incident is not None
    if incident.state == "acknowledged" and incident.acked_at is not None:
        state.metrics.ack_seconds.labels(incident.priority).observe(
            max(0.0, incident.acked_at - incident.opened_at))
    elif incident.state == "resolved" and incident.resolved_at is not None:
        state.metrics.resolve_seconds.labels(incident.priority).observe(
            max(0.0, incident.resolved_at - incident.opened_at))


async def resolver_of(state: ReceiverState, incident_id: str) -> str | None:
    """Who resolved the incident (the last ``resolved`` event's actor), for the 409 message."""
    try:
        events = await state.opened_store().timeline(incident_id)
    except StoreError:
        return None
    return next((e.actor for e in reversed(events) if e.kind == "resolved"), None)

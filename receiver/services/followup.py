"""Marking an incident's post-incident report done, once, however many ask at the same moment.

``mark_report_done`` looks at the timeline (was it marked since the incident last opened?),
then runs ``receiver.domain.followup.decide_report_done`` in the incident's transaction with
the ``updated_at`` it looked at. When the incident changed in between (another "done" got
there first, or an alert moved it) nothing is written and it looks again, up to ``TRIES``
times. Raises StoreError when the store cannot answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from receiver.domain import followup
from receiver.domain.actions import ActionContext
from receiver.domain.model import Event, Incident
from receiver.services.apply import apply_action
from receiver.services.state import ReceiverState

TRIES = 5


@dataclass(frozen=True)
class ReportDone:
    """``incident`` None: no such incident. ``done_before``: the earlier ``report_done``
    event (nothing written). Otherwise ``incident`` is the incident now marked."""

    incident: Incident | None
    done_before: Event | None = None


class StillChanging(Exception):
    """The incident changed under every try (``TRIES``); the caller may ask again."""


async def mark_report_done(state: ReceiverState, incident_id: str,
                           ctx: ActionContext) -> ReportDone:
    """Mark the report done as ``ctx.actor`` (module docstring)."""
    store = state.opened_store()
    for _ in range(TRIES):
        incident = await store.get_incident(incident_id)
        if incident is None:
            return ReportDone(None)
        done = followup.report_done(await store.timeline(incident_id))
        if done is not None:
            return ReportDone(incident, done)
        decide = partial(followup.decide_report_done, seen_updated_at=incident.updated_at)
        outcome = await apply_action(state, incident_id, decide, ctx)
        if outcome is None:
            return ReportDone(None)
        if outcome.conflict is None:
            return ReportDone(outcome.incident)
    raise StillChanging(f"incident {incident_id} changed under {TRIES} tries")

"""The monthly review (``receiver.domain.monthly``) over the store: reads the month's and the
three previous months' incidents (``receiver.services.reports.opened_since``, the trends
page's reader), the month's SLA, reopen and drill events, its outbox rows, the open action
items and which of their incidents are drills, then computes and answers it. Raises
StoreError when the store cannot answer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from policy.model import PRIORITIES
from receiver.domain import monthly
from receiver.domain.model import ActionItem, EventKind, Incident
from receiver.services.reports import opened_since
from receiver.services.state import ReceiverState
from receiver.store.base import Store

REVIEW_EVENTS = (EventKind.SLA_BREACHED, EventKind.REOPENED, EventKind.DRILL)


async def monthly_review(state: ReceiverState, month: monthly.Month) -> dict[str, Any]:
    """The review of ``month`` as ``GET /reports/monthly`` answers it in JSON."""
    store = state.opened_store()
    since, until = monthly.window(month)
    incidents = [i for i in await opened_since(state, since) if i.opened_at < until]
    items = await store.open_action_items()
    data = monthly.Inputs(
        incidents=incidents,
        events=await store.events_of_opened(month.start, month.end, REVIEW_EVENTS),
        outbox=await store.outbox_counts(month.start, month.end),
        open_items=items,
        drill_item_incidents=await _drills_among(store, incidents, items))
    return monthly.monthly(month, data, state.policy, state.clock(), PRIORITIES)


async def _drills_among(store: Store, known: Sequence[Incident],
                        items: Sequence[ActionItem]) -> frozenset[str]:
    """Which incidents of ``items`` are drills; those outside ``known`` (the review's window)
    are read one by one: open items are few."""
    drills = {i.id: i.drill for i in known}
    for incident_id in {item.incident_id for item in items} - set(drills):
        incident = await store.get_incident(incident_id)
        drills[incident_id] = incident is not None and incident.drill
    return frozenset(incident_id for incident_id, is_drill in drills.items() if is_drill)

"""The monthly review (``receiver.domain.monthly``) over the store: reads the month's and the
three previous months' incidents (``receiver.services.reports.opened_since``, the trends
page's reader), the month's SLA and reopen events, its outbox rows and the open action items,
then computes and answers it. Raises StoreError when the store cannot answer."""

from __future__ import annotations

from typing import Any

from policy.model import PRIORITIES
from receiver.domain import monthly
from receiver.domain.model import EventKind
from receiver.services.reports import opened_since
from receiver.services.state import ReceiverState

REVIEW_EVENTS = (EventKind.SLA_BREACHED, EventKind.REOPENED)


async def monthly_review(state: ReceiverState, month: monthly.Month) -> dict[str, Any]:
    """The review of ``month`` as ``GET /reports/monthly`` answers it in JSON."""
    store = state.opened_store()
    since, until = monthly.window(month)
    incidents = [i for i in await opened_since(state, since) if i.opened_at < until]
    data = monthly.Inputs(
        incidents=incidents,
        events=await store.events_of_opened(month.start, month.end, REVIEW_EVENTS),
        outbox=await store.outbox_counts(month.start, month.end),
        open_items=await store.open_action_items())
    return monthly.monthly(month, data, state.policy, state.clock(), PRIORITIES)

"""Reports over the store's incidents: the response trends (``receiver.domain.trends``) of
``GET /reports/trends`` and the console's trends page, one function for both.

The incidents are read with the incident list's own store read (``Store.page_incidents``,
``since`` the window's first Monday), a page of ``MAX_LIMIT`` at a time until the last.
Raises StoreError when the store cannot answer.
"""

from __future__ import annotations

from typing import Any

from policy.model import PRIORITIES
from receiver.domain import trends
from receiver.domain.incident_query import MAX_LIMIT, IncidentQuery
from receiver.domain.model import Incident
from receiver.services.state import ReceiverState


async def opened_since(state: ReceiverState, since: float) -> list[Incident]:
    """Every incident opened at or after ``since``, newest first."""
    store = state.opened_store()
    found: list[Incident] = []
    query = IncidentQuery(since=since, limit=MAX_LIMIT)
    while True:
        page = await store.page_incidents(query)
        found += page.incidents
        if page.next is None:
            return found
        query = IncidentQuery(since=since, limit=MAX_LIMIT, before=page.next)


async def response_trends(state: ReceiverState, weeks: int) -> dict[str, Any]:
    """MTTA/MTTR per priority per week over ``weeks`` weeks ending now, and incidents per
    alert name (``receiver.domain.trends.trends``)."""
    now = state.clock()
    incidents = await opened_since(state, trends.window_start(now, weeks))
    return trends.trends(incidents, now, weeks, PRIORITIES)

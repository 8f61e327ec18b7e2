"""Every ``Store`` method, written once for both engines: each runs operations from ``ops``.

Mixed into ``SQLiteStore`` and ``PostgresStore``. An engine supplies ``pg`` (the dialect flag
the operations take) and ``_run(op, write)``, which drives one operation in one transaction
(``write``: SQLite queues it for its writer's commit group; PostgreSQL ignores it).
"""

from __future__ import annotations

from receiver.domain.incident_query import IncidentPage, IncidentQuery
from receiver.domain.model import ActionItem, Event, Finish, NewOutbox
from receiver.store.base import Decide
from receiver.store.ops import (
    action_items,
    handoffs,
    heartbeats,
    incidents,
    outbox,
    pages,
    reviews,
    sql,
    timers,
    transactions,
)


class StoreMethods:
    pg: bool = False

    async def _run(self, op, write: bool = False):  # pragma: no cover - engines override
        raise NotImplementedError

    # --- writes -----------------------------------------------------------------------------

    async def apply_group(self, delivery_key: str, group_key: str, now: float, decide: Decide):
        return await self._run(
            transactions.apply_group(self.pg, delivery_key, group_key, now, decide), True)

    async def apply_incident(self, incident_id: str, now: float, decide: Decide):
        return await self._run(
            transactions.apply_incident(self.pg, incident_id, now, decide), True)

    async def claim_timers(self, worker, now, lease_seconds, limit):
        return await self._run(
            timers.claim_timers(self.pg, worker, now, lease_seconds, limit), True)

    async def finish_timer(self, timer_id, worker, now, state, changes=None):
        return await self._run(
            transactions.finish_timer(timer_id, worker, now, state, changes), True)

    async def claim_outbox(self, worker, now, lease_seconds, limit):
        return await self._run(
            outbox.claim_outbox(self.pg, worker, now, lease_seconds, limit), True)

    async def finish_outbox(self, row_id: str, worker: str, now: float, finish: Finish) -> bool:
        return await self._run(outbox.finish_outbox(row_id, worker, now, finish), True)

    async def renew_outbox_claims(self, worker: str, ids: list[str], until: float) -> int:
        return await self._run(outbox.renew_outbox_claims(worker, ids, until), True)

    async def renew_timer_claims(self, worker: str, ids: list[str], until: float) -> int:
        return await self._run(timers.renew_timer_claims(worker, ids, until), True)

    async def mark_awaiting(self, row_id: str, worker: str, now: float, until: float) -> bool:
        return await self._run(pages.mark_awaiting(row_id, worker, now, until), True)

    async def claim_unanswered(self, worker, now, lease_seconds, limit):
        return await self._run(
            pages.claim_unanswered(self.pg, worker, now, lease_seconds, limit), True)

    async def settle_page(self, page: str, now: float, decide: pages.Settle):
        return await self._run(pages.settle_page(self.pg, page, now, decide), True)

    async def record_callback(self, provider: str, event_id: str, now: float) -> bool:
        return await self._run(pages.record_callback(provider, event_id, now), True)

    async def prune_deliveries(self, before):
        return await self._run(transactions.prune_keys(before), True)

    async def record_heartbeat(self, name: str, at: float) -> None:
        await self._run(heartbeats.record_heartbeat(self.pg, name, at), True)

    async def claim_handoff(self, schedule: str, shift_start: float, contact: str, now: float,
                            row: NewOutbox | None) -> bool:
        return await self._run(
            handoffs.claim_handoff(schedule, shift_start, contact, now, row), True)

    async def prune_handoffs(self, before: float) -> int:
        return await self._run(handoffs.prune_handoffs(before), True)

    async def add_action_item(self, item: ActionItem, event: Event) -> bool:
        return await self._run(action_items.add_action_item(item, event), True)

    async def close_action_item(self, incident_id: str, item_id: str, by: str, now: float):
        return await self._run(
            action_items.close_action_item(incident_id, item_id, by, now), True)

    # --- reads ------------------------------------------------------------------------------

    async def ping(self) -> None:
        await self._run(sql.ping())

    async def get_incident(self, incident_id):
        return await self._run(incidents.get_incident(incident_id))

    async def latest_incident(self, group_key: str):
        return await self._run(incidents.latest_in_group(group_key))

    async def last_heartbeat(self, name: str):
        return await self._run(heartbeats.last_heartbeat(name))

    async def list_incidents(self, state=None, limit=100):
        query = IncidentQuery(state=state, limit=limit)
        return (await self._run(incidents.list_incidents(self.pg, query))).incidents

    async def page_incidents(self, query: IncidentQuery) -> IncidentPage:
        return await self._run(incidents.list_incidents(self.pg, query))

    async def timeline(self, incident_id):
        return await self._run(incidents.timeline(incident_id))

    async def first_ref(self, incident_id, channel):
        return await self._run(outbox.first_ref(incident_id, channel))

    async def outbox_for(self, incident_id):
        return await self._run(outbox.outbox_for(incident_id))

    async def attempts_for(self, outbox_id):
        return await self._run(outbox.attempts_for(outbox_id))

    async def page_row(self, page: str):
        return await self._run(pages.page_row(page))

    async def pending_count(self):
        return await self._run(outbox.pending_count())

    async def outbox_due_since(self, now: float) -> float | None:
        return await self._run(outbox.oldest_due(now))

    async def timers_due_since(self, now: float, kind: str) -> float | None:
        return await self._run(timers.oldest_due_timer(now, kind))

    async def open_counts(self):
        return await self._run(incidents.open_counts())

    async def timers_for(self, incident_id):
        return await self._run(timers.timers_for(incident_id))

    async def action_items(self, incident_id: str) -> list[ActionItem]:
        return await self._run(action_items.action_items(incident_id))

    async def open_action_items(self) -> list[ActionItem]:
        return await self._run(action_items.open_action_items())

    async def events_of_opened(self, since: float, until: float,
                               kinds: tuple[str, ...]) -> list[Event]:
        return await self._run(reviews.events_of_opened(since, until, kinds))

    async def outbox_counts(self, since: float, until: float):
        return await self._run(reviews.outbox_counts(since, until))

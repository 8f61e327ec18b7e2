"""The read methods both engines share: each runs one query from ``ops`` through ``_run``."""

from __future__ import annotations

from receiver.store.ops import incidents, outbox, timers


class StoreReads:
    """Mixed into SQLiteStore and PostgresStore; ``_run(op)`` is the engine's executor."""

    async def _run(self, op, write: bool = False):  # pragma: no cover - engines override
        raise NotImplementedError

    async def get_incident(self, incident_id):
        return await self._run(incidents.get_incident(incident_id))

    async def list_incidents(self, state=None, limit=100):
        return await self._run(incidents.list_incidents(state, limit))

    async def timeline(self, incident_id):
        return await self._run(incidents.timeline(incident_id))

    async def first_ref(self, incident_id, channel):
        return await self._run(outbox.first_ref(incident_id, channel))

    async def outbox_for(self, incident_id):
        return await self._run(outbox.outbox_for(incident_id))

    async def attempts_for(self, outbox_id):
        return await self._run(outbox.attempts_for(outbox_id))

    async def pending_count(self):
        return await self._run(outbox.pending_count())

    async def open_counts(self):
        return await self._run(incidents.open_counts())

    async def timers_for(self, incident_id):
        return await self._run(timers.timers_for(incident_id))

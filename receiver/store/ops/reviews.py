"""Reads for the monthly review: the timeline events of a window's incidents, and the outbox
rows of a window counted by incident, channel and state. One statement each."""

from __future__ import annotations

from receiver.domain.model import Event
from receiver.store.ops.sql import Op, Q, loads


def events_of_opened(since: float, until: float, kinds: tuple[str, ...]) -> Op:
    """The events of ``kinds`` of every incident opened in [since, until), oldest first."""
    marks = ", ".join("?" for _ in kinds)
    rows = yield Q("SELECT e.incident_id, e.at, e.kind, e.actor, e.detail FROM events e "
                   f"WHERE e.kind IN ({marks}) AND e.incident_id IN (SELECT i.id FROM incidents"
                   " i WHERE i.opened_at >= ? AND i.opened_at < ?) ORDER BY e.at, e.seq",
                   (*kinds, since, until))
    return [Event(r["incident_id"], r["at"], r["kind"], r["actor"], loads(r["detail"]))
            for r in rows]


def outbox_counts(since: float, until: float) -> Op:
    """(incident_id, channel, state, rows) of the outbox rows created in [since, until)."""
    rows = yield Q("SELECT incident_id, channel, state, COUNT(*) AS n FROM outbox "
                   "WHERE created_at >= ? AND created_at < ? "
                   "GROUP BY incident_id, channel, state ORDER BY channel, state, incident_id",
                   (since, until))
    return [(r["incident_id"] or None, r["channel"], r["state"], int(r["n"])) for r in rows]

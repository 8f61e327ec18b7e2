"""Operations on incidents, their timeline events and the deliveries already processed."""

from __future__ import annotations

from typing import Any

from receiver.domain.model import Event, Incident
from receiver.store.ops.sql import Op, Q, dumps, loads

_INCIDENT_COLUMNS = ("id, group_key, priority, state, summary, provider, opened_at, acked_at, "
                     "resolved_at, acked_by, truncated_alerts, labels, alerts, updated_at")

def incident_from_row(row: dict[str, Any]) -> Incident:
    data = dict(row)
    data["labels"] = loads(data["labels"])
    data["alerts"] = loads(data["alerts"])
    return Incident(**data)


def _incident_params(incident: Incident) -> tuple[Any, ...]:
    return (incident.id, incident.group_key, incident.priority, incident.state, incident.summary,
            incident.provider, incident.opened_at, incident.acked_at, incident.resolved_at,
            incident.acked_by, incident.truncated_alerts, dumps(incident.labels),
            dumps(incident.alerts), incident.updated_at)


def write_incident(incident: Incident, new: bool) -> Op:
    """Insert ``incident`` (``new``) or update every column of it."""
    if new:
        yield Q(f"INSERT INTO incidents ({_INCIDENT_COLUMNS}) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", _incident_params(incident), "none")
    else:
        params = _incident_params(incident)
        yield Q("UPDATE incidents SET group_key = ?, priority = ?, state = ?, summary = ?, "
                "provider = ?, opened_at = ?, acked_at = ?, resolved_at = ?, acked_by = ?, "
                "truncated_alerts = ?, labels = ?, alerts = ?, updated_at = ? WHERE id = ?",
                params[1:] + params[:1], "none")


def insert_event(event: Event) -> Op:
    yield Q("INSERT INTO events (incident_id, at, kind, actor, detail) VALUES (?, ?, ?, ?, ?)",
            (event.incident_id, event.at, event.kind, event.actor, dumps(event.detail)),
            "none")


def claim_delivery(pg: bool, delivery_key: str, group_key: str, now: float) -> Op:
    """Record an Alertmanager delivery's key; False when it was processed already. PostgreSQL
    then serialises deliveries of one group (several receivers may share the database)."""
    claimed = yield Q("INSERT INTO deliveries (key, group_key, received_at) VALUES (?, ?, ?) "
                      "ON CONFLICT (key) DO NOTHING", (delivery_key, group_key, now), "rowcount")
    if claimed == 0:
        return False
    if pg:  # several receivers on one database: one delivery of a group at a time
        yield Q("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", (group_key,), "none")
    return True


def latest_in_group(group_key: str) -> Op:
    """The group's latest incident, or None."""
    rows = yield Q(f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE group_key = ? "
                   "ORDER BY opened_at DESC LIMIT 1", (group_key,))
    return incident_from_row(rows[0]) if rows else None


def locked_incident(pg: bool, incident_id: str) -> Op:
    """The incident, locked for the transaction on PostgreSQL; None if it does not exist."""
    lock = " FOR UPDATE" if pg else ""
    rows = yield Q(f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE id = ?{lock}", (incident_id,))
    return incident_from_row(rows[0]) if rows else None


def get_incident(incident_id: str) -> Op:
    rows = yield Q(f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE id = ?", (incident_id,))
    return incident_from_row(rows[0]) if rows else None


def list_incidents(state: str | None, limit: int) -> Op:
    where, params = ("WHERE state = ?", (state,)) if state else ("", ())
    rows = yield Q(f"SELECT {_INCIDENT_COLUMNS} FROM incidents {where} "
                   "ORDER BY opened_at DESC, id LIMIT ?", (*params, limit))
    return [incident_from_row(row) for row in rows]


def timeline(incident_id: str) -> Op:
    rows = yield Q("SELECT incident_id, at, kind, actor, detail FROM events "
                   "WHERE incident_id = ? ORDER BY seq", (incident_id,))
    return [Event(r["incident_id"], r["at"], r["kind"], r["actor"], loads(r["detail"]))
            for r in rows]


def open_counts() -> Op:
    rows = yield Q("SELECT priority, COUNT(*) AS n FROM incidents WHERE state <> 'resolved' "
                   "GROUP BY priority")
    return {row["priority"]: int(row["n"]) for row in rows}


def prune_deliveries(before: float) -> Op:
    """Forget idempotency keys received before ``before``; returns how many."""
    count = yield Q("DELETE FROM deliveries WHERE received_at < ?", (before,), "rowcount")
    return count

"""Operations on incidents, their timeline events and the deliveries already processed."""

from __future__ import annotations

from typing import Any

from receiver.domain.incident_query import Cursor, IncidentPage, IncidentQuery
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


# The incident's alertname label, spelt exactly as the index over it in migration 0007 is.
_ALERTNAME = {False: "json_extract(labels, '$.alertname')",
              True: "(labels::jsonb ->> 'alertname')"}


def list_incidents(pg: bool, query: IncidentQuery) -> Op:
    """One page of incidents, opened_at then id descending (see receiver.domain.incident_query).

    One more row than ``query.limit`` is read to tell whether a next page exists, so ``next``
    is None on the last page rather than a cursor to an empty one. Each equality filter has an
    index ending in (opened_at, id) (migration 0007), so a page deep in a million incidents
    costs what the first one does.
    """
    clauses, params = [], []
    for column, value in (("state", query.state), ("priority", query.priority),
                          ("provider", query.provider), (_ALERTNAME[pg], query.alertname)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if query.since is not None:
        clauses.append("opened_at >= ?")
        params.append(query.since)
    # One upper bound, the tighter of until and the cursor: given both, SQLite bounds its index
    # walk by one and checks the other on every row it passes, however many lie between.
    before = query.before
    if before is not None and (query.until is None or before.opened_at < query.until):
        clauses.append("(opened_at, id) < (?, ?)")
        params += [before.opened_at, before.id]
    elif query.until is not None:
        clauses.append("opened_at < ?")
        params.append(query.until)
    where = f"WHERE {' AND '.join(clauses)} " if clauses else ""
    rows = yield Q(f"SELECT {_INCIDENT_COLUMNS} FROM incidents {where}"
                   "ORDER BY opened_at DESC, id DESC LIMIT ?", (*params, query.limit + 1))
    found = [incident_from_row(row) for row in rows[:query.limit]]
    more = len(rows) > query.limit
    return IncidentPage(found, Cursor(found[-1].opened_at, found[-1].id) if more else None)


def timeline(incident_id: str) -> Op:
    rows = yield Q("SELECT incident_id, at, kind, actor, detail FROM events "
                   "WHERE incident_id = ? ORDER BY seq", (incident_id,))
    return [Event(r["incident_id"], r["at"], r["kind"], r["actor"], loads(r["detail"]))
            for r in rows]


def open_counts() -> Op:
    # IN, not <> 'resolved': an equality on the state index, so a store holding a million
    # resolved incidents is not scanned whole at every dispatcher poll
    rows = yield Q("SELECT priority, COUNT(*) AS n FROM incidents "
                   "WHERE state IN ('triggered', 'acknowledged') GROUP BY priority")
    return {row["priority"]: int(row["n"]) for row in rows}


def prune_deliveries(before: float) -> Op:
    """Forget idempotency keys received before ``before``; returns how many."""
    count = yield Q("DELETE FROM deliveries WHERE received_at < ?", (before,), "rowcount")
    return count

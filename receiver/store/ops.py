"""Every store operation, written once for both engines as a "sans-I/O" generator.

Each operation yields ``Q`` statements (``?`` placeholders) and receives their results; the
engine (``sqlite.py`` runs them in its thread, ``postgres.py`` awaits psycopg) drives the
generator inside one transaction and returns its value. Only two things differ by dialect and
are spelt here: PostgreSQL serialises deliveries of one group with an advisory lock and claims
rows with ``FOR UPDATE SKIP LOCKED``; SQLite's ``BEGIN IMMEDIATE`` already serialises writers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generator, Mapping

import orjson

from receiver.domain.model import Attempt, Changes, Event, Finish, GroupSnapshot, Incident, NewOutbox, OutboxRow, Timer
from receiver.store.base import Decide


@dataclass(frozen=True)
class Q:
    """One statement. ``fetch``: "all" (rows as dicts), "rowcount" or "none"."""

    sql: str
    params: tuple[Any, ...] = ()
    fetch: str = "all"


Op = Generator[Q, Any, Any]


def dumps(value: Any) -> str:
    """A JSON column's text. orjson: the JSON columns are most of a delivery's encoding cost
    and orjson encodes them several times faster than ``json``. Like ``json.dumps``: keys that
    are not strings become strings, and mappings that are not dicts are stored as objects."""
    return orjson.dumps(value, default=_plain, option=orjson.OPT_NON_STR_KEYS).decode()


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


loads = orjson.loads

_INCIDENT_COLUMNS = ("id, group_key, priority, state, summary, provider, opened_at, acked_at, "
                     "resolved_at, acked_by, truncated_alerts, labels, alerts, updated_at")
_OUTBOX_COLUMNS = ("id, incident_id, channel, kind, payload, state, attempts, next_attempt_at, "
                   "created_at, batch, fallback_of")


def incident_from_row(row: dict[str, Any]) -> Incident:
    data = dict(row)
    data["labels"] = loads(data["labels"])
    data["alerts"] = loads(data["alerts"])
    return Incident(**data)


def outbox_from_row(row: dict[str, Any]) -> OutboxRow:
    data = dict(row)
    data["payload"] = loads(data["payload"])
    return OutboxRow(**data)


def _incident_params(incident: Incident) -> tuple[Any, ...]:
    return (incident.id, incident.group_key, incident.priority, incident.state, incident.summary,
            incident.provider, incident.opened_at, incident.acked_at, incident.resolved_at,
            incident.acked_by, incident.truncated_alerts, dumps(incident.labels),
            dumps(incident.alerts), incident.updated_at)


def ping() -> Op:
    yield Q("SELECT 1 AS one")


def apply_group(pg: bool, delivery_key: str, group_key: str, now: float, decide: Decide) -> Op:
    """See ``Store.apply_group``."""
    claimed = yield Q("INSERT INTO deliveries (key, group_key, received_at) VALUES (?, ?, ?) "
                      "ON CONFLICT (key) DO NOTHING", (delivery_key, group_key, now), "rowcount")
    if claimed == 0:
        return None
    if pg:  # several receivers on one database: one delivery of a group at a time
        yield Q("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", (group_key,), "none")
    rows = yield Q(f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE group_key = ? "
                   "ORDER BY opened_at DESC LIMIT 1", (group_key,))
    incident = incident_from_row(rows[0]) if rows else None
    notified: frozenset[str] = frozenset()
    if incident is not None:
        channels = yield Q("SELECT DISTINCT channel FROM outbox WHERE incident_id = ? "
                           "AND kind = 'trigger'", (incident.id,))
        notified = frozenset(row["channel"] for row in channels)
    changes = decide(GroupSnapshot(group_key, incident, notified))
    yield from write_changes(changes, now)
    return changes


def apply_incident(pg: bool, incident_id: str, now: float, decide: Decide) -> Op:
    """See ``Store.apply_incident``: like apply_group, keyed by incident id (ack, resolve)."""
    lock = " FOR UPDATE" if pg else ""
    rows = yield Q(f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE id = ?{lock}", (incident_id,))
    if not rows:
        return None
    incident = incident_from_row(rows[0])
    channels = yield Q("SELECT DISTINCT channel FROM outbox WHERE incident_id = ? "
                       "AND kind = 'trigger'", (incident.id,))
    notified = frozenset(row["channel"] for row in channels)
    changes = decide(GroupSnapshot(incident.group_key, incident, notified))
    yield from write_changes(changes, now)
    return changes


def write_changes(changes: Changes, now: float) -> Op:
    """Write what ``decide`` returned (used inside apply_group's transaction)."""
    if changes.incident is not None:
        if changes.new_incident:
            yield Q(f"INSERT INTO incidents ({_INCIDENT_COLUMNS}) VALUES "
                    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    _incident_params(changes.incident), "none")
        else:
            params = _incident_params(changes.incident)
            yield Q("UPDATE incidents SET group_key = ?, priority = ?, state = ?, summary = ?, "
                    "provider = ?, opened_at = ?, acked_at = ?, resolved_at = ?, acked_by = ?, "
                    "truncated_alerts = ?, labels = ?, alerts = ?, updated_at = ? WHERE id = ?",
                    params[1:] + params[:1], "none")
    for event in changes.events:
        yield from insert_event(event)
    for row in changes.outbox:
        yield from insert_outbox(row, now)
    if changes.cancel_timers and changes.incident is not None:
        kinds = tuple(changes.cancel_timers)
        marks = ", ".join("?" for _ in kinds)
        where = "" if "*" in kinds else f" AND kind IN ({marks})"
        yield Q(f"UPDATE timers SET state = 'cancelled', claimed_by = NULL WHERE incident_id = ? "
                f"AND state = 'pending'{where}",
                (changes.incident.id,) + (() if "*" in kinds else kinds), "none")
    for timer in changes.timers:
        yield Q("INSERT INTO timers (id, incident_id, kind, due_at, payload, state, created_at) "
                "VALUES (?, ?, ?, ?, ?, 'pending', ?)",
                (timer.id, timer.incident_id, timer.kind, timer.due_at, dumps(timer.payload),
                 now), "none")


def insert_event(event: Event) -> Op:
    yield Q("INSERT INTO events (incident_id, at, kind, actor, detail) VALUES (?, ?, ?, ?, ?)",
            (event.incident_id, event.at, event.kind, event.actor, dumps(event.detail)),
            "none")


def insert_outbox(row: NewOutbox, now: float) -> Op:
    """Insert ``row``; returns whether it was new ((batch, channel, kind) is unique)."""
    count = yield Q(f"INSERT INTO outbox ({_OUTBOX_COLUMNS}) VALUES "
                    "(?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?) "
                    "ON CONFLICT (batch, channel, kind) DO NOTHING",
                    (row.id, row.incident_id, row.channel, row.kind, dumps(row.payload),
                     row.next_attempt_at, now, row.batch, row.fallback_of), "rowcount")
    return count == 1


def get_incident(incident_id: str) -> Op:
    rows = yield Q(f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE id = ?", (incident_id,))
    return incident_from_row(rows[0]) if rows else None


def list_incidents(state: str | None, limit: int) -> Op:
    where, params = ("WHERE state = ?", (state,)) if state else ("", ())
    rows = yield Q(f"SELECT {_INCIDENT_COLUMNS} FROM incidents {where} "
                   "ORDER BY opened_at DESC, id LIMIT ?", params + (limit,))
    return [incident_from_row(row) for row in rows]


def timeline(incident_id: str) -> Op:
    rows = yield Q("SELECT incident_id, at, kind, actor, detail FROM events "
                   "WHERE incident_id = ? ORDER BY seq", (incident_id,))
    return [Event(r["incident_id"], r["at"], r["kind"], r["actor"], loads(r["detail"]))
            for r in rows]


def claim_outbox(pg: bool, worker: str, now: float, lease_seconds: float, limit: int) -> Op:
    """Due pending rows not claimed (or whose claim expired), and no earlier pending row of
    the same incident on the same channel (a resolve never overtakes its trigger)."""
    skip_locked = " FOR UPDATE SKIP LOCKED" if pg else ""
    rows = yield Q(
        "UPDATE outbox SET claimed_by = ?, claim_expires_at = ? WHERE seq IN ("
        " SELECT o.seq FROM outbox o WHERE o.state = 'pending' AND o.next_attempt_at <= ?"
        " AND (o.claimed_by IS NULL OR o.claim_expires_at <= ?)"
        " AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.incident_id = o.incident_id"
        "  AND e.channel = o.channel AND e.state = 'pending' AND e.seq < o.seq)"
        f" ORDER BY o.seq LIMIT ?{skip_locked}) RETURNING *",
        (worker, now + lease_seconds, now, now, limit))
    return sorted((outbox_from_row(row) for row in rows), key=lambda row: row.seq)


def finish_outbox(row_id: str, worker: str, now: float, finish: Finish) -> Op:
    """See ``Store.finish_outbox``."""
    a = finish.attempt
    updated = yield Q(
        "UPDATE outbox SET state = ?, attempts = attempts + 1, next_attempt_at = ?,"
        " first_attempt_at = COALESCE(first_attempt_at, ?), delivered_ref = ?, delivered_via = ?,"
        " last_error = ?, claimed_by = NULL, claim_expires_at = NULL"
        " WHERE id = ? AND claimed_by = ? AND state = 'pending'",
        (finish.state, finish.next_attempt_at if finish.next_attempt_at is not None else now,
         a.at, finish.delivered_ref, finish.delivered_via,
         None if finish.state == "sent" else f"{a.reason}: {a.detail}", row_id, worker),
        "rowcount")
    if updated == 0:
        return False
    yield Q("INSERT INTO attempts (outbox_id, at, worker, outcome, reason, detail) "
            "VALUES (?, ?, ?, ?, ?, ?)", (a.outbox_id, a.at, a.worker, a.outcome, a.reason,
                                           a.detail), "none")
    fresh = False
    for row in finish.fallbacks:
        fresh = (yield from insert_outbox(row, now)) or fresh
    for event in finish.events + (finish.fallback_events if fresh else ()):
        yield from insert_event(event)
    return True


def first_ref(incident_id: str, channel: str) -> Op:
    rows = yield Q("SELECT delivered_ref FROM outbox WHERE incident_id = ? AND channel = ? "
                   "AND state = 'sent' AND delivered_ref IS NOT NULL ORDER BY seq LIMIT 1",
                   (incident_id, channel))
    return rows[0]["delivered_ref"] if rows else None


def outbox_for(incident_id: str) -> Op:
    rows = yield Q("SELECT * FROM outbox WHERE incident_id = ? ORDER BY seq", (incident_id,))
    return [outbox_from_row(row) for row in rows]


def attempts_for(outbox_id: str) -> Op:
    rows = yield Q("SELECT outbox_id, at, worker, outcome, reason, detail FROM attempts "
                   "WHERE outbox_id = ? ORDER BY seq", (outbox_id,))
    return [Attempt(**row) for row in rows]


def pending_count() -> Op:
    rows = yield Q("SELECT COUNT(*) AS n FROM outbox WHERE state = 'pending'")
    return int(rows[0]["n"])


def open_counts() -> Op:
    rows = yield Q("SELECT priority, COUNT(*) AS n FROM incidents WHERE state <> 'resolved' "
                   "GROUP BY priority")
    return {row["priority"]: int(row["n"]) for row in rows}


def timers_for(incident_id: str) -> Op:
    rows = yield Q("SELECT id, incident_id, kind, due_at, payload FROM timers "
                   "WHERE incident_id = ? ORDER BY due_at, id", (incident_id,))
    return [Timer(r["id"], r["incident_id"], r["kind"], r["due_at"], loads(r["payload"]))
            for r in rows]


def claim_timers(pg: bool, worker: str, now: float, lease_seconds: float, limit: int) -> Op:
    """Due pending timers not claimed (or whose claim expired), earliest first."""
    skip_locked = " FOR UPDATE SKIP LOCKED" if pg else ""
    rows = yield Q(
        "UPDATE timers SET claimed_by = ?, claim_expires_at = ? WHERE id IN ("
        " SELECT t.id FROM timers t WHERE t.state = 'pending' AND t.due_at <= ?"
        " AND (t.claimed_by IS NULL OR t.claim_expires_at <= ?)"
        f" ORDER BY t.due_at, t.id LIMIT ?{skip_locked})"
        " RETURNING id, incident_id, kind, due_at, payload",
        (worker, now + lease_seconds, now, now, limit))
    timers = [Timer(r["id"], r["incident_id"], r["kind"], r["due_at"], loads(r["payload"]))
              for r in rows]
    return sorted(timers, key=lambda t: (t.due_at, t.id))


def finish_timer(timer_id: str, worker: str, now: float, state: str,
                 changes: Changes | None) -> Op:
    """Mark a claimed timer fired/cancelled and write what firing it changed, atomically."""
    updated = yield Q("UPDATE timers SET state = ?, claimed_by = NULL, claim_expires_at = NULL "
                      "WHERE id = ? AND claimed_by = ? AND state = 'pending'",
                      (state, timer_id, worker), "rowcount")
    if updated == 0:
        return False
    if changes is not None:
        yield from write_changes(changes, now)
    return True


def prune_deliveries(before: float) -> Op:
    """Forget idempotency keys received before ``before``; returns how many."""
    count = yield Q("DELETE FROM deliveries WHERE received_at < ?", (before,), "rowcount")
    return count

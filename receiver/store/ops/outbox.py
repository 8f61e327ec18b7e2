"""Operations on the outbox of notifications and their send attempts."""

from __future__ import annotations

from typing import Any

from receiver.domain.model import Attempt, Finish, NewOutbox, OutboxRow
from receiver.store.ops.incidents import insert_event
from receiver.store.ops.sql import Op, Q, dumps, loads

_OUTBOX_COLUMNS = ("id, incident_id, channel, kind, payload, state, attempts, next_attempt_at, "
                   "created_at, batch, fallback_of, page, lane")


def outbox_from_row(row: dict[str, Any]) -> OutboxRow:
    data = dict(row)
    data["payload"] = loads(data["payload"])
    data["incident_id"] = data["incident_id"] or ""   # NULL: about no incident (a handoff)
    return OutboxRow(**data)


def insert_outbox(row: NewOutbox, now: float) -> Op:
    """Insert ``row``; returns whether it was new ((batch, channel, kind, lane) is unique).
    An ``incident_id`` of "" (a row about no incident: a handoff notice) is stored as NULL."""
    count = yield Q(f"INSERT INTO outbox ({_OUTBOX_COLUMNS}) VALUES "
                    "(?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (batch, channel, kind, lane) DO NOTHING",
                    (row.id, row.incident_id or None, row.channel, row.kind, dumps(row.payload),
                     row.next_attempt_at, now, row.batch, row.fallback_of, row.page, row.lane),
                    "rowcount")
    return count == 1


def notified_channels(incident_id: str) -> Op:
    """The channels with a trigger row for the incident (those already paged)."""
    channels = yield Q("SELECT DISTINCT channel FROM outbox WHERE incident_id = ? "
                       "AND kind = 'trigger'", (incident_id,))
    return frozenset(row["channel"] for row in channels)


def claim_outbox(pg: bool, worker: str, now: float, lease_seconds: float, limit: int) -> Op:
    """Due pending rows not claimed (or whose claim expired), and no earlier pending or
    awaiting row of the same incident, channel and lane (a resolve never overtakes its
    trigger; a person is not rung twice at once). A row whose expired claim was never
    finished comes back with ``taken_over_from`` naming that holder (SET sees the old
    ``claimed_by``); a finished attempt clears the claim, so a plain retry comes back
    with None."""
    skip_locked = " FOR UPDATE SKIP LOCKED" if pg else ""
    rows = yield Q(
        "UPDATE outbox SET taken_over_from = claimed_by, claimed_by = ?, claim_expires_at = ?"
        " WHERE seq IN ("
        " SELECT o.seq FROM outbox o WHERE o.state = 'pending' AND o.next_attempt_at <= ?"
        " AND (o.claimed_by IS NULL OR o.claim_expires_at <= ?)"
        " AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.incident_id = o.incident_id"
        "  AND e.channel = o.channel AND e.lane = o.lane"
        "  AND e.state IN ('pending', 'awaiting') AND e.seq < o.seq)"
        f" ORDER BY o.seq LIMIT ?{skip_locked}) RETURNING *",
        (worker, now + lease_seconds, now, now, limit))
    return sorted((outbox_from_row(row) for row in rows), key=lambda row: row.seq)


def renew_outbox_claims(worker: str, ids: list[str], until: float) -> Op:
    """Extend to ``until`` the claims ``worker`` still holds among ``ids`` (its heartbeat);
    how many it still held. One statement however many rows; an empty ``ids`` runs none."""
    if not ids:
        return 0
    marks = ", ".join("?" for _ in ids)
    count = yield Q("UPDATE outbox SET claim_expires_at = ? WHERE claimed_by = ?"
                    f" AND state IN ('pending', 'awaiting') AND id IN ({marks})",
                    (until, worker, *ids), "rowcount")
    return count


def finish_outbox(row_id: str, worker: str, now: float, finish: Finish) -> Op:
    """See ``Store.finish_outbox``."""
    a = finish.attempt
    updated = yield Q(
        "UPDATE outbox SET state = ?, attempts = attempts + ?, next_attempt_at = ?,"
        " first_attempt_at = COALESCE(first_attempt_at, ?),"
        " delivered_ref = COALESCE(?, delivered_ref), delivered_via = COALESCE(?, delivered_via),"
        " last_error = ?, claimed_by = NULL, claim_expires_at = NULL"
        " WHERE id = ? AND claimed_by = ? AND state IN ('pending', 'awaiting')",
        (finish.state, 1 if finish.counts_attempt else 0,
         finish.next_attempt_at if finish.next_attempt_at is not None else now,
         a.at, finish.delivered_ref, finish.delivered_via, _last_error(finish), row_id, worker),
        "rowcount")
    if updated == 0:
        return False
    yield from record_outcome(finish, now)
    return True


def record_outcome(finish: Finish, now: float) -> Op:
    """The attempt row, the fallback copies (each once) and the events of ``finish``; a row
    about no incident (a handoff notice) has no timeline, so its events are not kept."""
    a = finish.attempt
    yield Q("INSERT INTO attempts (outbox_id, at, worker, outcome, reason, detail) "
            "VALUES (?, ?, ?, ?, ?, ?)", (a.outbox_id, a.at, a.worker, a.outcome, a.reason,
                                           a.detail), "none")
    fresh = False
    for row in finish.fallbacks:
        fresh = (yield from insert_outbox(row, now)) or fresh
    for event in finish.events + (finish.fallback_events if fresh else ()):
        if event.incident_id:
            yield from insert_event(event)


def _last_error(finish: Finish) -> str | None:
    if finish.state in ("sent", "awaiting"):
        return None
    return f"{finish.attempt.reason}: {finish.attempt.detail}"


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


def oldest_due(now: float) -> Op:
    """Since when the oldest undelivered row has been due: the least ``first_attempt_at`` (a
    row tried and still pending, or awaiting a call's answer), else ``next_attempt_at`` (never
    tried), that is <= ``now``; None when there is none. A row scheduled for later and never
    tried (a digest before its send time) does not count; one backing off between attempts
    does, from its first attempt, as ``fallback_after`` counts."""
    rows = yield Q("SELECT MIN(COALESCE(first_attempt_at, next_attempt_at)) AS due FROM outbox"
                   " WHERE state IN ('pending', 'awaiting')"
                   " AND COALESCE(first_attempt_at, next_attempt_at) <= ?", (now,))
    return rows[0]["due"] if rows else None

"""Operations on durable timers (escalation steps), claimed like outbox rows."""

from __future__ import annotations

from receiver.domain.model import Timer
from receiver.store.ops.sql import Op, Q, dumps, loads


def cancel_timers(incident_id: str, kinds: tuple[str, ...]) -> Op:
    """Cancel the incident's pending timers of ``kinds`` ("*": every kind)."""
    marks = ", ".join("?" for _ in kinds)
    where = "" if "*" in kinds else f" AND kind IN ({marks})"
    yield Q(f"UPDATE timers SET state = 'cancelled', claimed_by = NULL WHERE incident_id = ? "
            f"AND state = 'pending'{where}",
            (incident_id,) + (() if "*" in kinds else kinds), "none")


def insert_timer(timer: Timer, now: float) -> Op:
    yield Q("INSERT INTO timers (id, incident_id, kind, due_at, payload, state, created_at) "
            "VALUES (?, ?, ?, ?, ?, 'pending', ?)",
            (timer.id, timer.incident_id, timer.kind, timer.due_at, dumps(timer.payload),
             now), "none")


def finish_timer_claim(timer_id: str, worker: str, state: str) -> Op:
    """Set a claimed timer to ``state``; False if the claim was lost."""
    updated = yield Q("UPDATE timers SET state = ?, claimed_by = NULL, claim_expires_at = NULL "
                      "WHERE id = ? AND claimed_by = ? AND state = 'pending'",
                      (state, timer_id, worker), "rowcount")
    return updated != 0


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


def renew_timer_claims(worker: str, ids: list[str], until: float) -> Op:
    """Extend to ``until`` the claims ``worker`` still holds among ``ids`` (its heartbeat);
    how many it still held. One statement; an empty ``ids`` runs none."""
    if not ids:
        return 0
    marks = ", ".join("?" for _ in ids)
    count = yield Q("UPDATE timers SET claim_expires_at = ? WHERE claimed_by = ?"
                    f" AND state = 'pending' AND id IN ({marks})", (until, worker, *ids),
                    "rowcount")
    return count


def oldest_due_timer(now: float, kind: str) -> Op:
    """The least ``due_at`` <= ``now`` among pending timers of ``kind`` (due, not yet fired);
    None when there is none."""
    rows = yield Q("SELECT MIN(due_at) AS due FROM timers WHERE state = 'pending'"
                   " AND kind = ? AND due_at <= ?", (kind, now))
    return rows[0]["due"] if rows else None

"""Operations on pages a person answers: outbox rows with a ``page`` reference (phone calls).

A call's row goes ``pending`` → ``awaiting`` (``mark_awaiting``, in the same claim, BEFORE the
call is placed, so a callback always finds its attempt recorded) → ``sent`` (a person answered)
or back to ``pending`` (retry) / ``failed`` (``settle_page``, when the provider says how the call
ended). An ``awaiting`` row whose outcome never came is claimed again after its deadline
(``claim_unanswered``). ``record_callback`` remembers provider event ids, so a replayed callback
acts once.
"""

from __future__ import annotations

from collections.abc import Callable

from receiver.domain.model import Finish, OutboxRow
from receiver.store.ops.outbox import outbox_from_row, record_outcome
from receiver.store.ops.sql import Op, Q

Settle = Callable[[OutboxRow], Finish | None]


def mark_awaiting(row_id: str, worker: str, now: float, until: float) -> Op:
    """Count the attempt and set the claimed row ``awaiting`` until ``until``, keeping the
    claim while the call is placed; False if the claim was lost."""
    updated = yield Q(
        "UPDATE outbox SET state = 'awaiting', attempts = attempts + 1, next_attempt_at = ?,"
        " first_attempt_at = COALESCE(first_attempt_at, ?)"
        " WHERE id = ? AND claimed_by = ? AND state = 'pending'",
        (until, now, row_id, worker), "rowcount")
    return updated == 1


def claim_unanswered(pg: bool, worker: str, now: float, lease_seconds: float,
                     limit: int) -> Op:
    """``awaiting`` rows past their deadline with no claim (or an expired one): calls whose
    outcome never arrived."""
    skip_locked = " FOR UPDATE SKIP LOCKED" if pg else ""
    rows = yield Q(
        "UPDATE outbox SET claimed_by = ?, claim_expires_at = ? WHERE seq IN ("
        " SELECT o.seq FROM outbox o WHERE o.state = 'awaiting' AND o.next_attempt_at <= ?"
        " AND (o.claimed_by IS NULL OR o.claim_expires_at <= ?)"
        f" ORDER BY o.seq LIMIT ?{skip_locked}) RETURNING *",
        (worker, now + lease_seconds, now, now, limit))
    return sorted((outbox_from_row(row) for row in rows), key=lambda row: row.seq)


def page_row(page: str) -> Op:
    rows = yield Q("SELECT * FROM outbox WHERE page = ?", (page,))
    return outbox_from_row(rows[0]) if rows else None


def settle_page(pg: bool, page: str, now: float, decide: Settle) -> Op:
    """Run ``decide`` on the page's row (locked on PostgreSQL) and write the Finish it returns
    (the attempt is not counted again). Returns (row, finish); (None, None) for an unknown
    page; finish None when ``decide`` wanted no change."""
    lock = " FOR UPDATE" if pg else ""
    rows = yield Q(f"SELECT * FROM outbox WHERE page = ?{lock}", (page,))
    if not rows:
        return None, None
    row = outbox_from_row(rows[0])
    finish = decide(row)
    if finish is None:
        return row, None
    a = finish.attempt
    error = None if finish.state == "sent" else f"{a.reason}: {a.detail}"
    yield Q("UPDATE outbox SET state = ?, next_attempt_at = ?, last_error = ?,"
            " delivered_ref = COALESCE(?, delivered_ref),"
            " delivered_via = COALESCE(?, delivered_via),"
            " claimed_by = NULL, claim_expires_at = NULL WHERE id = ?",
            (finish.state, finish.next_attempt_at if finish.next_attempt_at is not None else now,
             error, finish.delivered_ref, finish.delivered_via, row.id), "none")
    yield from record_outcome(finish, now)
    return row, finish


def record_callback(provider: str, event_id: str, now: float) -> Op:
    """Remember a provider's callback id; False when it was seen before (a replay)."""
    count = yield Q("INSERT INTO callbacks (provider, event_id, received_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (provider, event_id) DO NOTHING",
                    (provider, event_id, now), "rowcount")
    return count == 1


def prune_callbacks(before: float) -> Op:
    count = yield Q("DELETE FROM callbacks WHERE received_at < ?", (before,), "rowcount")
    return count

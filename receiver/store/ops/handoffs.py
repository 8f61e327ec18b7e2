"""Operations on on-call handoff notices: each handoff claimed once, with the row telling it."""

from __future__ import annotations

from receiver.domain.model import NewOutbox
from receiver.store.ops.outbox import insert_outbox
from receiver.store.ops.sql import Op, Q


def claim_handoff(schedule: str, shift_start: float, contact: str, now: float,
                  row: NewOutbox | None) -> Op:
    """Claim the handoff (``schedule``, ``shift_start``, ``contact``) and queue ``row`` (None:
    nobody to send to), together; False, writing nothing, when it was claimed before."""
    claimed = yield Q("INSERT INTO handoffs (schedule, shift_start, contact, claimed_at, "
                      "outbox_id) VALUES (?, ?, ?, ?, ?) "
                      "ON CONFLICT (schedule, shift_start, contact) DO NOTHING",
                      (schedule, shift_start, contact, now, row.id if row else None),
                      "rowcount")
    if claimed == 0:
        return False
    if row is not None:
        yield from insert_outbox(row, now)
    return True


def prune_handoffs(before: float) -> Op:
    """Forget the handoffs of shifts that started before ``before``; how many."""
    count = yield Q("DELETE FROM handoffs WHERE shift_start < ?", (before,), "rowcount")
    return count

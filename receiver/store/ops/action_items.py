"""Operations on post-incident action items; each change writes its timeline event with it."""

from __future__ import annotations

from dataclasses import replace

from receiver.domain.followup import action_item_event
from receiver.domain.model import ActionItem, Event
from receiver.store.ops.incidents import insert_event
from receiver.store.ops.sql import Op, Q

COLUMNS = ("id, incident_id, title, owner, due, created_at, created_by, closed_at, closed_by")


def _item(row) -> ActionItem:
    return ActionItem(row["id"], row["incident_id"], row["title"], row["owner"], row["due"],
                      row["created_at"], row["created_by"], row["closed_at"], row["closed_by"])


def add_action_item(item: ActionItem, event: Event) -> Op:
    """Insert ``item`` and its timeline ``event``; False (nothing written) when its incident
    does not exist."""
    found = yield Q("SELECT id FROM incidents WHERE id = ?", (item.incident_id,))
    if not found:
        return False
    yield Q(f"INSERT INTO action_items ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (item.id, item.incident_id, item.title, item.owner, item.due, item.created_at,
             item.created_by, item.closed_at, item.closed_by), "none")
    yield from insert_event(event)
    return True


def action_items(incident_id: str) -> Op:
    """The incident's items, in the order they were added."""
    rows = yield Q(f"SELECT {COLUMNS} FROM action_items WHERE incident_id = ? "
                   "ORDER BY created_at, id", (incident_id,))
    return [_item(row) for row in rows]


def close_action_item(incident_id: str, item_id: str, by: str, now: float) -> Op:
    """Close an open item and record its ``action_item_closed`` event: (the item as it is
    now, whether this call closed it); (None, False) when the incident has no such item."""
    rows = yield Q(f"SELECT {COLUMNS} FROM action_items WHERE id = ? AND incident_id = ?",
                   (item_id, incident_id))
    if not rows:
        return None, False
    closed = yield Q("UPDATE action_items SET closed_at = ?, closed_by = ? "
                     "WHERE id = ? AND closed_at IS NULL", (now, by, item_id), "rowcount")
    if not closed:
        return _item(rows[0]), False
    item = replace(_item(rows[0]), closed_at=now, closed_by=by)
    yield from insert_event(action_item_event(item, True, by, now))
    return item, True


def open_action_items() -> Op:
    """Every open item, earliest due first."""
    rows = yield Q(f"SELECT {COLUMNS} FROM action_items WHERE closed_at IS NULL "
                   "ORDER BY due, created_at, id")
    return [_item(row) for row in rows]

"""The transactions that apply a pure decision's ``Changes`` (see ``Store``): a delivery
(``apply_group``), an action on one incident (``apply_incident``), a fired timer
(``finish_timer``). Each writes the incident, its events, outbox rows and timers together."""

from __future__ import annotations

from receiver.domain.model import Changes, GroupSnapshot
from receiver.store.base import Decide
from receiver.store.ops import incidents, outbox, pages, timers
from receiver.store.ops.sql import Op


def apply_group(pg: bool, delivery_key: str, group_key: str, now: float, decide: Decide) -> Op:
    """See ``Store.apply_group``."""
    if not (yield from incidents.claim_delivery(pg, delivery_key, group_key, now)):
        return None
    incident = yield from incidents.latest_in_group(group_key)
    notified: frozenset[str] = frozenset()
    if incident is not None:
        notified = yield from outbox.notified_channels(incident.id)
    changes = decide(GroupSnapshot(group_key, incident, notified))
    yield from write_changes(changes, now)
    return changes


def apply_incident(pg: bool, incident_id: str, now: float, decide: Decide) -> Op:
    """See ``Store.apply_incident``: like apply_group, keyed by incident id (ack, resolve)."""
    incident = yield from incidents.locked_incident(pg, incident_id)
    if incident is None:
        return None
    notified = yield from outbox.notified_channels(incident.id)
    changes = decide(GroupSnapshot(incident.group_key, incident, notified))
    yield from write_changes(changes, now)
    return changes


def finish_timer(timer_id: str, worker: str, now: float, state: str,
                 changes: Changes | None) -> Op:
    """Mark a claimed timer fired/cancelled and write what firing it changed, atomically."""
    if not (yield from timers.finish_timer_claim(timer_id, worker, state)):
        return False
    if changes is not None:
        yield from write_changes(changes, now)
    return True


def write_changes(changes: Changes, now: float) -> Op:
    """Write what ``decide`` returned (inside the caller's transaction)."""
    if changes.incident is not None:
        yield from incidents.write_incident(changes.incident, changes.new_incident)
    for event in changes.events:
        yield from incidents.insert_event(event)
    for row in changes.outbox:
        yield from outbox.insert_outbox(row, now)
    if changes.cancel_timers and changes.incident is not None:
        yield from timers.cancel_timers(changes.incident.id, tuple(changes.cancel_timers))
    for timer in changes.timers:
        yield from timers.insert_timer(timer, now)


def prune_keys(before: float) -> Op:
    """Forget the delivery keys and provider callback ids received before ``before``."""
    count = yield from incidents.prune_deliveries(before)
    yield from pages.prune_callbacks(before)
    return count

"""The customer notice on the status page, as outbox rows: which change publishes what.

A status page row goes on the outbox channel ``CHANNEL`` (``status_page``, not a policy
channel: it has no fallback and no digest) and carries the whole message: ``summary`` is the
status page incident's name (the notice's first line), ``text`` its body (the rest of the
notice, or what a person wrote), and ``details`` ``status`` (``STATUS`` of the incident's
state), ``impact`` (``IMPACT`` of its priority: P0 critical, P1 major, P2 minor, P3 none) and
``components`` (comma-separated ids: the incident's provider's component from the policy, every
component for provider ``all``, none for an incident about no provider).

The first row of an incident is a ``trigger``; every later one (a second publish, an edit, the
acknowledgement, the resolution) is an ``update``, ``acknowledge`` or ``resolve`` row the
dispatcher sends with the incident's Statuspage id (the first delivered row's ref), so the
notifier updates that incident and never creates a second. The outbox sends one incident's
status page rows in order, one at a time.

``follow_up`` is what a committed change adds. An incident already published is updated when
it is acknowledged (``identified``), when it resolves (``resolved``), when its priority changes
(the new ``impact``) and when it reopens (back to ``investigating``: the same status page
incident, so customers follow one story). With ``publish: auto`` an incident not yet published
is published when it opens, reopens or has its priority raised as P0/P1. Pure: the words come
from ``notice``, a callback rendering the ``customer_notice`` template.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from policy import Policy
from policy.spec_status_page import CHANNEL
from receiver.domain import outbox
from receiver.domain.model import (
    Changes,
    Event,
    EventKind,
    GroupSnapshot,
    Incident,
    MessageKind,
    NewOutbox,
)

IMPACT = {"P0": "critical", "P1": "major", "P2": "minor", "P3": "none"}
STATUS = {"triggered": "investigating", "acknowledged": "identified", "resolved": "resolved"}
AUTO_PRIORITIES = ("P0", "P1")
DEFAULT_NAME = "Telephony service issues"
Notice = Callable[[Incident, Sequence[Event]], str]   # the rendered customer_notice

__all__ = ["CHANNEL", "IMPACT", "STATUS", "components", "follow_up", "notice_row", "split"]


def components(policy: Policy, provider: str | None) -> list[str]:
    """The status page component ids an incident about ``provider`` affects."""
    mapped = policy.status_page.components if policy.status_page else {}
    if provider == "all":
        return list(mapped.values())
    return [mapped[provider]] if provider in mapped else []


def split(notice: str) -> tuple[str, str]:
    """(name, body) of a rendered notice: its first non-empty line, and the rest."""
    lines = notice.strip().splitlines()
    if not lines:
        return DEFAULT_NAME, ""
    return lines[0].strip() or DEFAULT_NAME, "\n".join(lines[1:]).strip()


def notice_row(incident: Incident, kind: str, name: str, body: str, *, policy: Policy,
               now: float, new_id: Callable[[], str], batch: str) -> NewOutbox:
    """One status page row about ``incident`` as it now stands (module docstring)."""
    payload = {
        "incident_id": incident.id, "channel": CHANNEL, "kind": kind,
        "priority": incident.priority, "summary": name, "provider": incident.provider,
        "text": body, "recipients": [], "dedup_key": incident.id, "links": {},
        "details": {"status": STATUS.get(incident.state, "investigating"),
                    "impact": IMPACT.get(incident.priority, "none"),
                    "components": ",".join(components(policy, incident.provider))}}
    return outbox.new_row(incident.id, CHANNEL, kind, payload, policy=policy, now=now,
                          new_id=new_id, batch=batch)


def publish_kind(snapshot: GroupSnapshot) -> str:
    """``trigger`` for the incident's first status page row, ``update`` after."""
    return MessageKind.UPDATE if CHANNEL in snapshot.notified else MessageKind.TRIGGER


def follow_up(snapshot: GroupSnapshot, changes: Changes, policy: Policy, notice: Notice, *,
              now: float, new_id: Callable[[], str]) -> list[NewOutbox]:
    """The status page rows ``changes`` call for (module docstring); [] without a status page."""
    spec = policy.status_page
    incident = changes.incident
    if spec is None or incident is None:
        return []
    published = CHANNEL in snapshot.notified and not changes.new_incident
    kind = _kind_for(changes, published=published,
                     auto=spec.publish == "auto" and incident.priority in AUTO_PRIORITIES)
    if kind is None:
        return []
    name, body = split(notice(incident, changes.events))
    return [notice_row(incident, kind, name, body, policy=policy, now=now, new_id=new_id,
                       batch=f"{CHANNEL}:{new_id()}")]


def _kind_for(changes: Changes, *, published: bool, auto: bool) -> str | None:
    """The status page row kind ``changes`` call for, or None (module docstring); ``auto``:
    the policy publishes an incident of this priority unasked."""
    kinds = {event.kind for event in changes.events}
    if published:
        if changes.resolved_incident is not None:
            return MessageKind.RESOLVE
        if changes.acknowledged_incident is not None:
            return MessageKind.ACKNOWLEDGE
        if kinds & {EventKind.REOPENED, EventKind.PRIORITY_CHANGED}:
            return MessageKind.UPDATE
        return None
    opening = changes.new_incident or EventKind.REOPENED in kinds
    if auto and (opening or EventKind.PRIORITY_CHANGED in kinds):
        return MessageKind.TRIGGER
    return None

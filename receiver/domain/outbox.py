"""The one builder of outbox rows: every notification the receiver will send is made here.

Every row is due at once, except on a ``digest`` channel, where it waits for the channel's
next ``send_at`` in its ``timezone`` (the dispatcher then sends all due rows of that channel as
one digest). ``message_rows`` composes one message per channel (``receiver.domain.messages``);
``new_row`` wraps a payload that is already composed (a vendor draft); ``fallback_copy`` is the
copy of a failing row for the route's next fallback channel. ``maybe_sent_since`` says when a
stored row about to be sent again may already have been delivered.

A page a person answers (``PERSONAL_TYPES``: a phone call) is one row per person: its lane is
the contact's key, its recipients that contact's address, and it carries a ``page`` token the
provider's callbacks bring back. Everything else is one row per channel.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from policy import Policy
from policy.model import Contact
from receiver.domain import messages, oncall
from receiver.domain.ids import new_token as random_token
from receiver.domain.model import Event, EventKind, Incident, NewOutbox, OutboxRow
from receiver.domain.times import next_local_timestamp

PERSONAL_TYPES = ("phone", "sms")   # paged person by person, each page answerable
# failures after which the far side may have done what was asked: its answer, not the request,
# was lost (a refused connection is counted too: "connection" does not tell the two apart)
UNCERTAIN_REASONS = frozenset({"timeout", "server_error", "connection", "internal"})


def due_at(policy: Policy, channel: str, now: float) -> float:
    """When a row on ``channel`` made at ``now`` is due: now, or a digest's next send time."""
    spec = policy.channels.get(channel)   # None: the status page's rows (not a policy channel)
    if spec is None or spec.type != "digest":
        return now
    return next_local_timestamp(now, str(spec.settings["send_at"]), str(spec.settings["timezone"]))


def new_row(incident_id: str, channel: str, kind: str, payload: dict[str, Any], *,
            policy: Policy, now: float, new_id: Callable[[], str], batch: str,
            fallback_of: str | None = None, page: str | None = None,
            lane: str = "") -> NewOutbox:
    """One row carrying ``payload`` (the Notification fields, see ``messages.compose``)."""
    return NewOutbox(id=new_id(), incident_id=incident_id, channel=channel, kind=kind,
                     payload=payload, next_attempt_at=due_at(policy, channel, now), batch=batch,
                     fallback_of=fallback_of, page=page, lane=lane)


def message_rows(incident: Incident, channels: Iterable[str], kind: str, *, policy: Policy,
                 now: float, new_id: Callable[[], str], batch: str, public_url: str = "",
                 alert: Mapping[str, Any] | None = None, note: str = "",
                 counts: Mapping[str, int] | None = None,
                 recipients: Mapping[str, tuple[str, ...]] | None = None,
                 people: Sequence[oncall.Paged] | None = None,
                 new_token: Callable[[], str] = random_token) -> list[NewOutbox]:
    """The rows telling ``kind`` about ``incident`` on ``channels``.

    ``alert`` is the leading alert (labels, annotations) the message quotes; ``recipients``
    replaces a channel's own recipients (an escalation pages that level's contacts);
    ``people`` are the people a personal channel pages (default: whoever the first engineering
    level reaches at ``now``, like the route).
    """
    rows = []
    for channel in channels:
        payload = messages.compose(
            incident_id=incident.id, kind=kind, channel=channel, priority=incident.priority,
            summary=incident.summary, provider=incident.provider, alert=alert, policy=policy,
            now=now, public_url=public_url, note=note, counts=counts, drill=incident.drill)
        if policy.channels[channel].type in PERSONAL_TYPES:
            rows += _personal_rows(incident, channel, kind, payload, policy=policy, now=now,
                                   new_id=new_id, batch=batch, new_token=new_token,
                                   people=people)
            continue
        if recipients and recipients.get(channel):
            payload["recipients"] = list(recipients[channel])
        rows.append(new_row(incident.id, channel, kind, payload, policy=policy, now=now,
                            new_id=new_id, batch=batch))
    return rows


def _personal_rows(incident: Incident, channel: str, kind: str, payload: dict[str, Any], *,
                   policy: Policy, now: float, new_id: Callable[[], str], batch: str,
                   new_token: Callable[[], str],
                   people: Sequence[oncall.Paged] | None) -> list[NewOutbox]:
    """One row per person reachable on ``channel``, each in the contact's own lane; the payload
    names the schedule that put them on call (``on_call_for``), when one did."""
    if people is None:
        people = oncall.first_level(policy, now).people
    rows = []
    for person in people:
        key = person.contact
        address = messages.contact_addresses(policy, (key,), channel)
        if not address:
            continue
        mine = {**payload, "recipients": list(address), "contact": key,
                "contact_name": policy.contacts[key].name, "on_call_for": person.schedule}
        rows.append(new_row(incident.id, channel, kind, mine, policy=policy, now=now,
                            new_id=new_id, batch=batch, page=new_token(), lane=key))
    return rows


def fallback_copy(row: OutboxRow, policy: Policy, now: float, new_id: Callable[[], str],
                  actor: str, new_token: Callable[[], str] = random_token
                  ) -> tuple[NewOutbox, Event] | None:
    """The copy of a failing ``row``, with its timeline event; None when there is nowhere
    further to go. A page to a person (a lane) goes to that person's next contact method, in
    the order the policy lists them; a page to a channel goes to the route's next fallback
    channel and that channel's own recipients. A row on no policy channel (the status page's)
    has no fallback: its words are for customers, not for the route."""
    if row.channel not in policy.channels:
        return None
    person = policy.contacts.get(row.lane) if row.lane else None
    if person is not None:
        target = next_method(policy, person, row.channel)
        recipients = messages.contact_addresses(policy, (person.key,), target) if target else ()
    else:
        target = next_fallback(policy, str(row.payload.get("priority", "")), row.channel)
        recipients = messages.recipients_for(policy, target, now) if target else ()
    if target is None:
        return None
    payload = dict(row.payload, channel=target, recipients=list(recipients))
    personal = person is not None and policy.channels[target].type in PERSONAL_TYPES
    copy = new_row(row.incident_id, target, row.kind, payload, policy=policy, now=now,
                   new_id=new_id, batch=row.batch, fallback_of=row.id, lane=row.lane,
                   page=new_token() if personal else None)
    event = Event(row.incident_id, now, EventKind.FALLBACK, actor,
                  {"from": row.channel, "to": target, "kind": row.kind})
    return copy, event


# the channel types a contact method reaches, in order: a phone number takes a call or a text
METHOD_TYPES = {"pagerduty": ("pagerduty",), "slack": ("slack",), "phone": ("phone", "sms"),
                "email": ("email",)}


def next_method(policy: Policy, person: Contact, channel: str) -> str | None:
    """The channel of ``person``'s next contact method after ``channel``'s type, in the order
    the policy lists their methods; None when ``channel`` was their last."""
    types = [kind for method in person.methods for kind in METHOD_TYPES[method]]
    current = policy.channels[channel].type
    following = types[types.index(current) + 1:] if current in types else []
    for kind in following:
        found = next((name for name, spec in policy.channels.items() if spec.type == kind),
                     None)
        if found is not None:
            return found
    return None


def next_fallback(policy: Policy, priority: str, channel: str) -> str | None:
    """The route's fallback channel after ``channel``: the first fallback for a primary channel,
    the following one for a fallback channel; channels the route already uses are skipped."""
    route = policy.routing.get(priority)
    if route is None:
        return None
    start = route.fallback.index(channel) + 1 if channel in route.fallback else 0
    for candidate in route.fallback[start:]:
        if candidate not in route.channels and candidate in policy.channels:
            return candidate
    return None


def maybe_sent_since(row: OutboxRow) -> float | None:
    """When an earlier send of ``row`` may already have been delivered (at or after), or None.

    A taken-over row: its holder claimed it, so sent, no earlier than ``next_attempt_at``. A
    retry after an ``UNCERTAIN_REASONS`` failure: every earlier attempt was at or after
    ``first_attempt_at``.
    """
    if row.taken_over_from is not None:
        return row.next_attempt_at
    reason = (row.last_error or "").split(":", 1)[0]
    if row.attempts and row.first_attempt_at is not None and reason in UNCERTAIN_REASONS:
        return row.first_attempt_at
    return None

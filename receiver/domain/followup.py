"""Post-incident follow-up as pure decisions: the report and post-mortem reminders, the report
marked done, action items. No I/O, no clock: the caller passes ``now``.

Rules:

- An incident of P0, P1 or P2 (``FOLLOWUP_PRIORITIES``) that resolves gets two durable timers
  of kind ``followup`` (``with_followup``, applied to every decision's ``Changes``): "incident
  report due" at resolved + 24h and "post-mortem due" at resolved + 48h (``REMINDERS``).
- A reopened incident cancels them (its next resolution schedules fresh ones).
- When one falls due (``reminder_verdict``) it is sent, unless the incident is no longer
  resolved or its report was marked done since it last (re)opened: then it is cancelled.
- A reminder goes to the acknowledger (``acked_by`` is a name: the contact whose key or name
  it is, case-insensitive; nobody when it matches none) and the team lead (whoever the
  engineering chain's ``TEAM_LEAD_LEVEL`` reaches at ``now``, ``oncall.level_people``), on
  the policy's Slack and email channels (``REMINDER_TYPES``): a reminder rings nobody.
  It is one ``reminder`` outbox row per channel (``outbox.message_rows``) and a timeline
  event ``followup_reminder`` (reminder, contacts, channels).
- ``decide_report_done``: a timeline event ``report_done`` and the pending reminders
  cancelled; a ``CHANGED`` conflict when the incident moved since the caller saw that the
  report was not yet marked done since the last (re)opening (``report_done``).
- Action items: ``action_item_event`` is the timeline event written with each added or closed
  item; ``receiver.domain.context`` reads the items back from a timeline for the
  post-incident report.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from policy import Policy
from receiver.domain import fields, messages, oncall, outbox
from receiver.domain.actions import ActionContext, Outcome
from receiver.domain.model import (
    ActionItem,
    Changes,
    Event,
    EventKind,
    GroupSnapshot,
    Incident,
    IncidentState,
    MessageKind,
    Timer,
)
from receiver.domain.times import iso

TIMER_KIND = "followup"
ACTOR = "followup"
FOLLOWUP_PRIORITIES = ("P0", "P1", "P2")
HOUR = 3600.0
REMINDERS = {"incident_report": 24 * HOUR, "post_mortem": 48 * HOUR}
WORDS = {"incident_report": "incident report", "post_mortem": "post-mortem"}
REMINDER_TYPES = ("slack", "email")
TEAM_LEAD_LEVEL = "L2"
SEND, CANCEL = "send", "cancel"


def followup_timers(incident: Incident, new_id: Callable[[], str]) -> list[Timer]:
    """The reminders a resolved ``incident`` gets: none below P2 or while it is open."""
    if incident.state != IncidentState.RESOLVED or incident.resolved_at is None \
            or incident.priority not in FOLLOWUP_PRIORITIES:
        return []
    return [Timer(new_id(), incident.id, TIMER_KIND, incident.resolved_at + after,
                  {"reminder": name, "resolved_at": incident.resolved_at})
            for name, after in REMINDERS.items()]


def with_followup(changes: Changes, new_id: Callable[[], str]) -> Changes:
    """``changes`` plus the follow-up they imply: reminders for an incident they resolve, the
    pending reminders cancelled for one they reopen. Returns the same object."""
    if changes.resolved_incident is not None:
        changes.timers.extend(followup_timers(changes.resolved_incident, new_id))
    reopened = any(event.kind == EventKind.REOPENED for event in changes.events)
    if reopened and "*" not in changes.cancel_timers:
        changes.cancel_timers = (*changes.cancel_timers, TIMER_KIND)
    return changes


def _since_reopened(timeline: Sequence[Event]) -> Sequence[Event]:
    start = max((i for i, e in enumerate(timeline) if e.kind == EventKind.REOPENED), default=-1)
    return timeline[start + 1:]


def report_done(timeline: Sequence[Event]) -> Event | None:
    """The ``report_done`` event since the incident last (re)opened, or None."""
    return next((e for e in _since_reopened(timeline) if e.kind == EventKind.REPORT_DONE), None)


def reminder_verdict(incident: Incident | None, timeline: Sequence[Event]) -> str:
    """``SEND`` a due reminder, or ``CANCEL`` it (module docstring)."""
    if incident is None or incident.state != IncidentState.RESOLVED:
        return CANCEL
    return CANCEL if report_done(timeline) is not None else SEND


def acknowledger(policy: Policy, acked_by: str | None) -> str | None:
    """The contact key ``acked_by`` names (a key, or a contact's name, any case), or None."""
    if not acked_by:
        return None
    wanted = acked_by.strip().casefold()
    for key, contact in policy.contacts.items():
        if wanted in (key.casefold(), contact.name.casefold()):
            return key
    return None


def reminder_people(incident: Incident, policy: Policy, now: float) -> tuple[str, ...]:
    """The contact keys a reminder goes to: the acknowledger, then the team lead(s)."""
    lead = oncall.level_people(policy, policy.escalation.engineering, TEAM_LEAD_LEVEL, now)
    first = acknowledger(policy, incident.acked_by)
    return tuple(dict.fromkeys([*([first] if first else []), *lead.contacts]))


def reminder_changes(incident: Incident, timer: Timer, policy: Policy, now: float,
                     new_id: Callable[[], str], public_url: str = "") -> Changes:
    """What sending ``timer``'s reminder writes: one ``reminder`` row per Slack or email
    channel that reaches one of its people, and the ``followup_reminder`` event."""
    name = str(timer.payload.get("reminder", ""))
    people = reminder_people(incident, policy, now)
    recipients = {channel: to for channel, spec in policy.channels.items()
                  if spec.type in REMINDER_TYPES
                  and (to := messages.contact_addresses(policy, people, channel))}
    note = (f"Reminder: the {WORDS.get(name, name)} for this {incident.priority} incident is "
            f"due (resolved {iso(incident.resolved_at)})")
    rows = outbox.message_rows(incident, recipients, MessageKind.REMINDER, policy=policy,
                               now=now, new_id=new_id, batch=f"{TIMER_KIND}:{timer.id}",
                               public_url=public_url, note=note, recipients=recipients)
    event = Event(incident.id, now, EventKind.FOLLOWUP_REMINDER, ACTOR,
                  {"reminder": name, "contacts": list(people),
                   "channels": [row.channel for row in rows]})
    return Changes(events=[event], outbox=rows)


CHANGED = "changed"   # Outcome.conflict: the incident changed since the caller looked


def decide_report_done(snapshot: GroupSnapshot, ctx: ActionContext, *,
                       seen_updated_at: float) -> Outcome:
    """Mark the post-incident report done: a ``report_done`` event, the pending reminders
    cancelled, ``updated_at`` moved on. The caller looked at the timeline (``report_done``)
    when the incident's ``updated_at`` was ``seen_updated_at``; if it has changed since (a
    second "done" at the same moment, a reopening) the conflict is ``CHANGED`` and nothing
    is written, so the caller looks again: two requests at once never both mark it."""
    current = snapshot.incident
    assert current is not None
    if current.updated_at != seen_updated_at:
        return Outcome(Changes(), conflict=CHANGED, incident=current)
    # it must move even on a clock that has not ticked, or a racing caller would not see it
    marked = replace(current, updated_at=max(ctx.now, current.updated_at + 0.001))
    event = Event(current.id, ctx.now, EventKind.REPORT_DONE, ctx.actor,
                  {"via": ctx.via} if ctx.via else {})
    return Outcome(Changes(incident=marked, events=[event], cancel_timers=(TIMER_KIND,)),
                   incident=marked)


# --- action items -----------------------------------------------------------------------

MAX_TITLE = 300
MAX_OWNER = 100


@dataclass(frozen=True)
class ItemInput:
    """A new action item as asked for; ``problem`` names the first bad field (field, why)."""

    title: str = ""
    owner: str = ""
    due: str = ""
    problem: tuple[str, str] | None = None


def read_item(data: dict) -> ItemInput:
    """``{"title", "owner", "due", "by"?}`` read strictly: every field a non-empty string of
    at most its limit, ``due`` a calendar date YYYY-MM-DD, no other key."""
    unknown = fields.unknown_field(data, ("title", "owner", "due", "by"))
    if unknown:
        return ItemInput(problem=unknown)
    values = fields.texts(data, {"title": MAX_TITLE, "owner": MAX_OWNER, "due": 10})
    if isinstance(values, tuple):
        return ItemInput(problem=values)
    if not is_date(values["due"]):
        return ItemInput(problem=("due", "must be an ISO date, YYYY-MM-DD"))
    return ItemInput(**values)


def is_date(text: str) -> bool:
    try:
        return len(text) == 10 and dt.date.fromisoformat(text).isoformat() == text
    except ValueError:
        return False


def item_json(item: ActionItem, policy: Policy, today: str) -> dict:
    """An item as the API answers it: ``owner_contact`` when the owner is a contact key,
    ``overdue`` when still open after its due date (``today``, YYYY-MM-DD, UTC)."""
    return {"id": item.id, "incident_id": item.incident_id, "title": item.title,
            "owner": item.owner,
            "owner_contact": item.owner if item.owner in policy.contacts else None,
            "due": item.due, "state": "closed" if item.closed_at is not None else "open",
            "overdue": item.closed_at is None and item.due < today,
            "created_at": iso(item.created_at), "created_by": item.created_by,
            "closed_at": iso(item.closed_at), "closed_by": item.closed_by}


def today(now: float) -> str:
    """``now``'s UTC date, YYYY-MM-DD (what "overdue" compares ``due`` with)."""
    return dt.datetime.fromtimestamp(now, dt.UTC).date().isoformat()


def action_item_event(item: ActionItem, closed: bool, actor: str, now: float) -> Event:
    """The timeline event recorded with an item added or closed, in the same transaction."""
    kind = EventKind.ACTION_ITEM_CLOSED if closed else EventKind.ACTION_ITEM_ADDED
    return Event(item.incident_id, now, kind, actor,
                 {"item": item.id, "title": item.title, "owner": item.owner, "due": item.due})

"""What people do to incidents, as pure decisions: acknowledge, resolve, declare by hand.

Each ``decide_*`` function gets the store's ``GroupSnapshot`` and an ``ActionContext`` (policy,
``now``, id factory, actor) and returns an ``Outcome``: the ``Changes`` to write, or a
``conflict`` (the incident is already in that state) with nothing to write. No I/O, no clock.

- acknowledge (only a triggered incident): state ``acknowledged``, ``acked_at``/``acked_by``,
  a timeline event ``acknowledged``, an ``acknowledge`` row to every channel already paged
  (a ``trigger`` row exists) except phone channels (nobody is rung to hear that someone else
  answered) and except ``skip_types`` (``("pagerduty",)`` when PagerDuty itself sent the ack).
  The engineering chain stops, the business chain does not: the pending ``escalation`` timer
  is cancelled and a new one due now is written, so the escalation worker recomputes what is
  left for an acknowledged incident.
- resolve (a triggered or acknowledged incident): state ``resolved``, a timeline event
  ``resolved``, a ``resolve`` row to every channel paged (minus ``skip_types``), all timers
  cancelled.
- declare: a new incident (group key ``manual:<id>``), ``trigger`` rows for the priority's
  route and an ``escalation`` timer due now, exactly like an incident opened by an alert.
- escalate now (a triggered incident): a timeline event ``escalation_requested`` naming the
  level (``receiver.domain.escalation.next_level``) and a fresh ``escalation`` timer due now,
  so the worker pages that level at once.
- note (an incident in any state, resolved ones too: a post-incident remark is a note): a
  timeline event ``note`` with the text; nothing else changes, nobody is told.

``ctx.via`` says where a person acted (``phone``, ``slack``...); it is recorded on the event.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from policy import Policy
from receiver.domain import messages, oncall, outbox
from receiver.domain.context import MANUAL_PREFIX
from receiver.domain.escalation import TIMER_KIND
from receiver.domain.model import (
    Changes,
    Event,
    EventKind,
    GroupSnapshot,
    Incident,
    IncidentState,
    MessageKind,
    NewOutbox,
    Timer,
)
from receiver.domain.priority import leading_alert
from receiver.domain.times import iso

NO_ACK_CHANNEL_TYPES = ("phone",)


@dataclass(frozen=True)
class ActionContext:
    """Everything a decision needs besides the snapshot; ``batch`` groups the rows it writes."""

    policy: Policy
    now: float
    new_id: Callable[[], str]
    actor: str
    public_url: str = ""
    skip_types: tuple[str, ...] = ()   # channel types not to tell (the ack came from there)
    via: str = ""                      # where the person acted: phone, slack, api...


@dataclass
class Outcome:
    """``changes`` to write, or ``conflict`` = (state the incident is already in, incident)."""

    changes: Changes
    conflict: str | None = None
    incident: Incident | None = None


def conflict_message(incident: Incident, attempted: str, actor: str | None) -> str:
    """"incident X was already acknowledged by Y at T" (the 409 detail)."""
    if incident.state == IncidentState.ACKNOWLEDGED:
        who, when = incident.acked_by or actor, incident.acked_at
    else:
        who, when = actor, incident.resolved_at
    by = f" by {who}" if who else ""
    text = f"incident {incident.id} was already {incident.state}{by} at {iso(when)}"
    if attempted == "acknowledge" and incident.state == IncidentState.RESOLVED:
        text += "; a resolved incident cannot be acknowledged"
    return text


def decide_acknowledge(snapshot: GroupSnapshot, ctx: ActionContext) -> Outcome:
    """Acknowledge a triggered incident (see the module docstring); else a conflict."""
    current = snapshot.incident
    assert current is not None
    if current.state != IncidentState.TRIGGERED:
        return Outcome(Changes(), conflict=current.state, incident=current)
    incident = replace(current, state=IncidentState.ACKNOWLEDGED, acked_at=ctx.now,
                       acked_by=ctx.actor, updated_at=ctx.now)
    event = Event(incident.id, ctx.now, EventKind.ACKNOWLEDGED, ctx.actor,
                  _with_via({"after_seconds": round(ctx.now - current.opened_at, 3)}, ctx))
    channels = _told(snapshot.notified, ctx, extra_skip=NO_ACK_CHANNEL_TYPES)
    rows = _rows(incident, channels, MessageKind.ACKNOWLEDGE, ctx,
                 note=f"Acknowledged by {ctx.actor}")
    timer = Timer(ctx.new_id(), incident.id, TIMER_KIND, ctx.now, {})
    return Outcome(Changes(incident=incident, events=[event], outbox=rows, timers=[timer],
                           cancel_timers=(TIMER_KIND,), acknowledged_incident=incident),
                   incident=incident)


def decide_resolve(snapshot: GroupSnapshot, ctx: ActionContext) -> Outcome:
    """Resolve an open incident by hand (see the module docstring); else a conflict."""
    current = snapshot.incident
    assert current is not None
    if current.state == IncidentState.RESOLVED:
        return Outcome(Changes(), conflict=current.state, incident=current)
    incident = replace(current, state=IncidentState.RESOLVED, resolved_at=ctx.now,
                       updated_at=ctx.now)
    event = Event(incident.id, ctx.now, EventKind.RESOLVED, ctx.actor,
                  {"after_seconds": round(ctx.now - current.opened_at, 3), "by_hand": True})
    rows = _rows(incident, _told(snapshot.notified, ctx), MessageKind.RESOLVE, ctx,
                 note=f"Resolved by {ctx.actor}")
    return Outcome(Changes(incident=incident, events=[event], outbox=rows, cancel_timers=("*",),
                           resolved_incident=incident), incident=incident)


def decide_declare(snapshot: GroupSnapshot, ctx: ActionContext, *, incident_id: str,
                   summary: str, priority: str, description: str,
                   provider: str | None) -> Outcome:
    """Open an incident declared by hand; the store's group is ``manual:<incident_id>``."""
    if snapshot.incident is not None:  # the group key is fresh: this cannot happen twice
        return Outcome(Changes(), conflict=snapshot.incident.state, incident=snapshot.incident)
    incident = Incident(id=incident_id, group_key=MANUAL_PREFIX + incident_id,
                        priority=priority, state=IncidentState.TRIGGERED, summary=summary,
                        provider=provider, opened_at=ctx.now, labels={"source": "manual"},
                        updated_at=ctx.now)
    found = oncall.first_level(ctx.policy, ctx.now)
    events = [Event(incident.id, ctx.now, EventKind.OPENED, ctx.actor,
                    {"priority": priority, "declared": True, "description": description,
                     "paged": [person.describe() for person in found.people]})]
    first = ctx.policy.escalation.engineering[0].level
    empty = oncall.schedule_empty_event(incident.id, first, found, ctx.now, ctx.actor)
    events += [empty] if empty is not None else []
    channels = messages.route_channels(ctx.policy, priority)
    rows = _rows(incident, channels, MessageKind.TRIGGER, ctx,
                 note=f"Declared by {ctx.actor}: {description}", people=found.people)
    timer = Timer(ctx.new_id(), incident.id, TIMER_KIND, ctx.now, {})
    return Outcome(Changes(incident=incident, new_incident=True, events=events, outbox=rows,
                           timers=[timer]), incident=incident)


def decide_escalate_now(snapshot: GroupSnapshot, ctx: ActionContext, *,
                        level: str | None) -> Outcome:
    """Page ``level`` at once (see the module docstring); a conflict when the incident is not
    triggered; nothing to write when there is no further level (``level`` None)."""
    current = snapshot.incident
    assert current is not None
    if current.state != IncidentState.TRIGGERED:
        return Outcome(Changes(), conflict=current.state, incident=current)
    if level is None:
        return Outcome(Changes(), incident=current)
    event = Event(current.id, ctx.now, EventKind.ESCALATION_REQUESTED, ctx.actor,
                  _with_via({"level": level}, ctx))
    timer = Timer(ctx.new_id(), current.id, TIMER_KIND, ctx.now, {})
    return Outcome(Changes(incident=current, events=[event], timers=[timer],
                           cancel_timers=(TIMER_KIND,)), incident=current)


def decide_note(snapshot: GroupSnapshot, ctx: ActionContext, *, text: str) -> Outcome:
    """Put ``text`` on the incident's timeline as ``ctx.actor``'s note; never a conflict."""
    current = snapshot.incident
    assert current is not None
    event = Event(current.id, ctx.now, EventKind.NOTE, ctx.actor, _with_via({"text": text}, ctx))
    return Outcome(Changes(events=[event]), incident=current)


def _with_via(detail: dict, ctx: ActionContext) -> dict:
    return {**detail, "via": ctx.via} if ctx.via else detail


def _told(notified: Iterable[str], ctx: ActionContext,
          extra_skip: tuple[str, ...] = ()) -> list[str]:
    """The paged channels still in the policy, minus the channel types not to tell."""
    skip = set(ctx.skip_types) | set(extra_skip)
    return [name for name in sorted(notified)
            if (spec := ctx.policy.channels.get(name)) is not None and spec.type not in skip]


def _rows(incident: Incident, channels: Iterable[str], kind: str, ctx: ActionContext,
          note: str, people: tuple[oncall.Paged, ...] | None = None) -> list[NewOutbox]:
    """One outbox row per channel, one batch per decision, quoting the leading alert."""
    lead = leading_alert(incident, ctx.policy)
    alert = ({"labels": dict(lead.get("labels", {})),
              "annotations": dict(lead.get("annotations", {}))} if lead else None)
    return outbox.message_rows(
        incident, channels, kind, policy=ctx.policy, now=ctx.now, new_id=ctx.new_id,
        batch=f"{kind}:{ctx.new_id()}", public_url=ctx.public_url, alert=alert, note=note,
        people=people)

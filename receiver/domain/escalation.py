"""Escalation as a pure function of (incident, policy, now).

``due_actions`` says what must happen now that has not happened yet; ``next_due`` says when
the next thing will be due, so the receiver can keep one timer per incident in the store and a
restart resumes exactly where it stopped. Nothing here reads a clock or does I/O.

Rules, from the policy's ``escalation`` section:

- Engineering chain: each step whose ``priorities`` include the incident's priority is due at
  ``opened_at + after``. Acknowledgement stops it.
- Deadlines: per priority, the engineering level reached at the latest (P1: engineering manager
  after 1h; P2: team lead after 4h...). At the deadline, every engineering step of that level
  is due whatever its own ``priorities``. Acknowledgement stops these too.
- Business chain: like the engineering chain, but acknowledgement does not stop it (managers
  still hear of a long P0 or P1); resolution does.
- Response SLA: an incident not acknowledged within its priority's response time is a breach,
  counted once, when the time passes.
- Vendor escalation: an incident about a provider whose vendor criteria name one of its firing
  alerts, firing for at least ``lasting``.

A priority upgrade applies the new priority's steps measured from the opening, so steps
already overdue at the new priority are due at once. Every action has a stable ``key``; the
receiver stores the keys of the actions it carried out (``done``) so none happens twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from policy.model import EscalationStep, Policy
from receiver.domain import messages, oncall, outbox
from receiver.domain.ids import new_id
from receiver.domain.model import (
    Changes,
    Event,
    EventKind,
    Incident,
    IncidentState,
    MessageKind,
    NewOutbox,
    Timer,
)

ENGINEERING = "engineering"
BUSINESS = "business"
SLA = "sla"
VENDOR = "vendor"


@dataclass(frozen=True)
class FiringAlert:
    alertname: str
    provider: str | None
    since: float                # when it started firing (epoch seconds)


@dataclass(frozen=True)
class EscalationCase:
    """What escalation needs to know about an incident."""

    priority: str
    state: str                  # triggered | acknowledged | resolved
    opened_at: float
    provider: str | None = None  # "twilio", "telnyx", "all" or None
    alerts: tuple[FiringAlert, ...] = ()
    done: frozenset[str] = field(default_factory=frozenset)
    requested: tuple[tuple[str, float], ...] = ()   # (level, when): "escalate now" by a person


@dataclass(frozen=True)
class Action:
    """Something due: page a level (``contacts`` on ``channels``), count a breach, or draft a
    vendor escalation (``provider``)."""

    key: str                    # stable: "engineering:L2", "business:L1", "sla", "vendor:twilio"
    kind: str                   # engineering | business | sla | vendor
    due_at: float
    level: str | None = None
    contacts: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    provider: str | None = None


def _step_action(kind: str, step: EscalationStep, due_at: float) -> Action:
    return Action(f"{kind}:{step.level}", kind, due_at, step.level, step.contacts, step.channels)


def _engineering(incident: EscalationCase, policy: Policy) -> list[Action]:
    if policy.escalation.owner == "pagerduty":
        return []  # PagerDuty's escalation policy pages the levels; nobody is paged twice
    chain = policy.escalation.engineering
    actions = [_step_action(ENGINEERING, step, incident.opened_at + step.after_seconds)
               for step in chain if incident.priority in step.priorities]
    deadline = policy.escalation.deadlines.get(incident.priority)
    if deadline is not None:
        due = incident.opened_at + deadline.after_seconds
        actions += [_step_action(ENGINEERING, step, due)
                    for step in chain if step.level == deadline.level]
    actions += [_step_action(ENGINEERING, step, at)
                for level, at in incident.requested for step in chain if step.level == level]
    return actions


def next_level(incident: EscalationCase, policy: Policy) -> str | None:
    """The engineering level "escalate now" reaches: the first step after the first level
    (whose people the route paged) that applies to the incident (its priority, or its
    deadline's level) and has neither been paged nor been asked for already; None when every
    level has."""
    if policy.escalation.owner == "pagerduty":
        return None  # PagerDuty's escalation policy owns the levels
    asked = {level for level, _ in incident.requested}
    deadline = policy.escalation.deadlines.get(incident.priority)
    chain = policy.escalation.engineering
    first = chain[0].level if chain else None
    for step in chain:
        if step.level == first:
            continue
        applies = incident.priority in step.priorities or (
            deadline is not None and step.level == deadline.level)
        if applies and f"{ENGINEERING}:{step.level}" not in incident.done \
                and step.level not in asked:
            return step.level
    return None


def _business(incident: EscalationCase, policy: Policy) -> list[Action]:
    return [_step_action(BUSINESS, step, incident.opened_at + step.after_seconds)
            for step in policy.escalation.business if incident.priority in step.priorities]


def _sla(incident: EscalationCase, policy: Policy) -> list[Action]:
    response = policy.priorities[incident.priority].response_seconds
    return [Action(SLA, SLA, incident.opened_at + response)]


def _vendor(incident: EscalationCase, policy: Policy) -> list[Action]:
    actions = []
    for provider, vendor in policy.vendors.items():
        starts = [alert.since + criterion.lasting_seconds
                  for criterion in vendor.criteria for alert in incident.alerts
                  if alert.alertname in criterion.alerts and alert.provider in (provider, "all")]
        if starts:
            actions.append(Action(f"{VENDOR}:{provider}", VENDOR, min(starts), provider=provider))
    return actions


def pending_actions(incident: EscalationCase, policy: Policy) -> list[Action]:
    """Every action still to come for ``incident`` (due or not), earliest first, one per key."""
    if incident.state == IncidentState.RESOLVED:
        return []
    candidates = _business(incident, policy) + _vendor(incident, policy)
    if incident.state == IncidentState.TRIGGERED:
        candidates += _engineering(incident, policy) + _sla(incident, policy)
    earliest: dict[str, Action] = {}
    for action in candidates:
        if action.key in incident.done:
            continue
        if action.key not in earliest or action.due_at < earliest[action.key].due_at:
            earliest[action.key] = action
    return sorted(earliest.values(), key=lambda action: (action.due_at, action.key))


def due_actions(incident: EscalationCase, policy: Policy, now: float) -> list[Action]:
    """The actions due at ``now`` that have not been carried out yet."""
    return [action for action in pending_actions(incident, policy) if action.due_at <= now]


def next_due(incident: EscalationCase, policy: Policy) -> float | None:
    """When the next action falls due, or None when nothing more will happen."""
    pending = pending_actions(incident, policy)
    return pending[0].due_at if pending else None


# --- timers and what firing one writes -------------------------------------------------

TIMER_KIND = "escalation"
ACTOR = "escalation"
DONE_EVENTS = {EventKind.ESCALATED, EventKind.SLA_BREACHED, EventKind.VENDOR_ESCALATION}


def escalation_timer(incident_id: str, due_at: float) -> Timer:
    """The timer that (re)starts escalation for an incident at ``due_at``."""
    return Timer(new_id(), incident_id, TIMER_KIND, due_at, {})


def done_keys(timeline: list[Event]) -> set[str]:
    """The escalation actions already carried out since the incident last (re)opened: an
    incident that fires again after resolving pages its people again."""
    return {str(e.detail.get("key")) for e in _since_reopened(timeline) if e.kind in DONE_EVENTS}


def requested_levels(timeline: list[Event]) -> tuple[tuple[str, float], ...]:
    """The (level, when) of every "escalate now" since the incident last (re)opened."""
    return tuple((str(e.detail.get("level")), e.at) for e in _since_reopened(timeline)
                 if e.kind == EventKind.ESCALATION_REQUESTED)


def _since_reopened(timeline: list[Event]) -> list[Event]:
    start = max((i for i, e in enumerate(timeline) if e.kind == EventKind.REOPENED), default=-1)
    return timeline[start + 1:]


def escalation_case(incident: Incident, done: set[str],
                    requested: tuple[tuple[str, float], ...] = ()) -> EscalationCase:
    """What escalation needs. An alert counts as firing since the incident opened: the moment
    callwatch knew, whatever ``startsAt`` a late or replayed delivery carries."""
    alerts = tuple(FiringAlert(a.get("labels", {}).get("alertname", ""),
                               a.get("labels", {}).get("provider") or incident.provider,
                               incident.opened_at)
                   for a in incident.alerts if a.get("status", "firing") == "firing")
    return EscalationCase(incident.priority, incident.state, incident.opened_at, incident.provider,
                          alerts, frozenset(done), requested)


def recipients(policy: Policy, contacts: tuple[str, ...], channel: str) -> tuple[str, ...] | None:
    """Addresses of ``contacts`` on ``channel``; None when none of them is reachable there."""
    if policy.channels[channel].type == "pagerduty":
        return () if any(policy.contacts[key].pagerduty for key in contacts) else None
    return messages.contact_addresses(policy, contacts, channel) or None


def action_people(incident: Incident, action: Action, policy: Policy,
                  now: float) -> oncall.LevelPeople:
    """Who paging ``action``'s level reaches at ``now``: its schedules resolved, and a level
    with nobody on call passed over for the chain's next (``oncall.level_people``)."""
    chain = policy.escalation.engineering if action.kind == ENGINEERING \
        else policy.escalation.business
    return oncall.level_people(policy, chain, action.level or "", now, incident.priority)


def action_rows(incident: Incident, action: Action, found: oncall.LevelPeople, policy: Policy,
                now: float, batch: str, public_url: str) -> list[NewOutbox]:
    """The outbox rows paging the people ``found`` for one level (one per reachable channel;
    a level passed over for nobody on call pages the next level's people on its channels)."""
    minutes = max(0, round((now - incident.opened_at) / 60))
    level = found.level or action.level
    who = found.labels(policy)
    note = (f"Escalated to {level} ({who}): not acknowledged after {minutes} min"
            if action.kind == ENGINEERING else
            f"Business escalation {level} ({who}) after {minutes} min")
    if found.skipped:
        note += f"; nobody on call for {', '.join(found.empty)} at {', '.join(found.skipped)}"
    reachable = {channel: to for channel in _level_channels(policy, action, found)
                 if (to := recipients(policy, found.contacts, channel)) is not None
                 and not (action.kind == ENGINEERING and _is_route(policy, action, incident,
                                                                     channel))}
    return outbox.message_rows(
        incident, reachable, MessageKind.ESCALATE, policy=policy, now=now, new_id=new_id,
        batch=batch, public_url=public_url, note=note, recipients=reachable,
        people=found.people, alert=incident.alerts[0] if incident.alerts else None)


def _level_channels(policy: Policy, action: Action, found: oncall.LevelPeople) -> list[str]:
    """The channels of the level actually paged: the action's own, then the channels of the
    level it fell to (an empty L1 on PagerDuty and Slack falls to L2 on Slack and phone)."""
    if found.level in (None, action.level):
        return list(action.channels)
    chain = policy.escalation.engineering if action.kind == ENGINEERING \
        else policy.escalation.business
    fallen = [c for step in chain if step.level == found.level for c in step.channels]
    return list(dict.fromkeys([*action.channels, *fallen]))


def _is_route(policy: Policy, action: Action, incident: Incident, channel: str) -> bool:
    """The route already paged the first engineering level (its recipients are that level's
    contacts): the first step adds only the channels the route lacks (P1: PagerDuty)."""
    first = policy.escalation.engineering[0].level
    return action.level == first and channel in messages.route_channels(
        policy, incident.priority)


def escalation_changes(incident: Incident, due: list[Action], policy: Policy, now: float,
                       timer_id: str, vendor_rows: dict[str, list[NewOutbox]],
                       public_url: str = "") -> Changes:
    """What firing ``due`` writes: each level's outbox rows (vendor rows drafted by the caller)
    and one timeline event per action, whose ``key`` marks it done."""
    changes = Changes()
    for action in due:
        batch = f"{timer_id}:{action.key}"
        if action.kind in (ENGINEERING, BUSINESS):
            found = action_people(incident, action, policy, now)
            rows = action_rows(incident, action, found, policy, now, batch, public_url)
            kind, detail = EventKind.ESCALATED, {"level": action.level, "chain": action.kind,
                                         "contacts": list(found.contacts),
                                         "paged": [p.describe() for p in found.people],
                                         "channels": [r.channel for r in rows]}
            empty = oncall.schedule_empty_event(incident.id, action.level or "", found, now,
                                                ACTOR)
            changes.events.extend([empty] if empty is not None else [])
        elif action.kind == VENDOR:
            rows = vendor_rows.get(action.key, [])
            kind, detail = EventKind.VENDOR_ESCALATION, {"provider": action.provider,
                                                 "channels": [r.channel for r in rows]}
        else:
            rows = []
            kind, detail = EventKind.SLA_BREACHED, {
                "response_seconds": policy.priorities[incident.priority].response_seconds}
        changes.outbox.extend(rows)
        changes.events.append(Event(incident.id, now, kind, ACTOR,
                                    {"key": action.key, **detail}))
    return changes

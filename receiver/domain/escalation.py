"""Escalation as a pure function of (incident, policy, now).

``due_actions`` says what must happen now that has not happened yet; ``next_due`` says when
the next thing will be due, so the receiver can keep one timer per incident in the store and a
restart resumes exactly where it stopped. Nothing here reads a clock or does I/O.

Rules, from the policy (seed "Internal Escalation Matrix", "Business Escalation"):

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
class IncidentState:
    """What escalation needs to know about an incident."""

    priority: str
    state: str                  # triggered | acknowledged | resolved
    opened_at: float
    provider: str | None = None  # "twilio", "telnyx", "all" or None
    alerts: tuple[FiringAlert, ...] = ()
    done: frozenset[str] = field(default_factory=frozenset)


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


def _engineering(incident: IncidentState, policy: Policy) -> list[Action]:
    chain = policy.escalation.engineering
    actions = [_step_action(ENGINEERING, step, incident.opened_at + step.after_seconds)
               for step in chain if incident.priority in step.priorities]
    deadline = policy.escalation.deadlines.get(incident.priority)
    if deadline is not None:
        due = incident.opened_at + deadline.after_seconds
        actions += [_step_action(ENGINEERING, step, due)
                    for step in chain if step.level == deadline.level]
    return actions


def _business(incident: IncidentState, policy: Policy) -> list[Action]:
    return [_step_action(BUSINESS, step, incident.opened_at + step.after_seconds)
            for step in policy.escalation.business if incident.priority in step.priorities]


def _sla(incident: IncidentState, policy: Policy) -> list[Action]:
    response = policy.priorities[incident.priority].response_seconds
    return [Action(SLA, SLA, incident.opened_at + response)]


def _vendor(incident: IncidentState, policy: Policy) -> list[Action]:
    actions = []
    for provider, vendor in policy.vendors.items():
        starts = [alert.since + criterion.lasting_seconds
                  for criterion in vendor.criteria for alert in incident.alerts
                  if alert.alertname in criterion.alerts and alert.provider in (provider, "all")]
        if starts:
            actions.append(Action(f"{VENDOR}:{provider}", VENDOR, min(starts), provider=provider))
    return actions


def pending_actions(incident: IncidentState, policy: Policy) -> list[Action]:
    """Every action still to come for ``incident`` (due or not), earliest first, one per key."""
    if incident.state == "resolved":
        return []
    candidates = _business(incident, policy) + _vendor(incident, policy)
    if incident.state == "triggered":
        candidates += _engineering(incident, policy) + _sla(incident, policy)
    earliest: dict[str, Action] = {}
    for action in candidates:
        if action.key in incident.done:
            continue
        if action.key not in earliest or action.due_at < earliest[action.key].due_at:
            earliest[action.key] = action
    return sorted(earliest.values(), key=lambda action: (action.due_at, action.key))


def due_actions(incident: IncidentState, policy: Policy, now: float) -> list[Action]:
    """The actions due at ``now`` that have not been carried out yet."""
    return [action for action in pending_actions(incident, policy) if action.due_at <= now]


def next_due(incident: IncidentState, policy: Policy) -> float | None:
    """When the next action falls due, or None when nothing more will happen."""
    pending = pending_actions(incident, policy)
    return pending[0].due_at if pending else None

"""Incident lifecycle as pure logic: one Alertmanager delivery -> the changes to store.

``decide(group, snapshot, ctx)`` never does I/O and never reads the clock (``ctx.now``); the
store calls it inside the delivery's transaction. Rules:

- one incident per Alertmanager group (``groupKey`` without its route: see
  ``AlertGroup.incident_key``; an alert's warning and critical arrive through two priority
  routes but are one incident, open while any of their alerts fires); its priority is the
  highest among its firing alerts (each alert's from ``receiver.domain.priority``);
- a new incident notifies every channel of its priority's route ("trigger");
- a priority upgrade re-routes at once: "trigger" to the new route's channels not yet paged,
  "update" to those already paged; a downgrade is recorded, nobody is paged;
- the group resolving resolves the incident and sends "resolve" to every channel paged
  except phone channels (``NO_RESOLVE_TYPES``);
- a group firing again after resolving reopens the incident within
  ``policy.notifications.reopen_window_seconds``, else opens a new one;
- every transition is a timeline event;
- escalation runs from one durable timer per open incident (``receiver.services.escalation``):
  opening and reopening start it, a priority change restarts it (the new priority's steps are
  measured from the opening), resolution cancels every timer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from policy import Policy
from policy.model import PRIORITIES
from receiver.domain import messages, oncall, outbox
from receiver.domain.alertmanager import Alert, AlertGroup, stored_alert
from receiver.domain.escalation import TIMER_KIND, escalation_timer
from receiver.domain.model import (
    Changes,
    Event,
    EventKind,
    GroupSnapshot,
    Incident,
    IncidentState,
    MessageKind,
    NewOutbox,
)
from receiver.domain.priority import alert_priority, highest

NO_RESOLVE_TYPES = ("phone",)  # nobody is woken by a call to hear that it is over
ACTOR = "alertmanager"


@dataclass(frozen=True)
class Context:
    """What ``decide`` needs besides the delivery: policy, time, ids, the batch (delivery key)."""

    policy: Policy
    now: float
    new_id: Callable[[], str]
    batch: str
    public_url: str = ""


def decide(group: AlertGroup, snapshot: GroupSnapshot, ctx: Context) -> Changes:
    """The changes one delivery makes to its group's incident (see the module docstring)."""
    current = snapshot.incident
    group = _with_other_routes(group, current)
    resolved = current is not None and current.state == IncidentState.RESOLVED
    if group.status == "resolved" or not group.firing_alerts:
        return _resolve(group, snapshot, ctx) if current and not resolved else Changes()
    if current is None or (resolved and not _within_reopen(current, ctx)):
        return _open(group, ctx)
    if current.state == IncidentState.RESOLVED:
        return _reopen(group, current, ctx)
    return _update(group, snapshot, ctx)


def _with_other_routes(group: AlertGroup, current: Incident | None) -> AlertGroup:
    """``group`` plus the still-firing alerts the open incident holds from its other route
    groups; each group's latest delivery replaces that group's earlier alerts."""
    if current is None or current.state == IncidentState.RESOLVED:
        return group
    others = tuple(stored_alert(a) for a in current.alerts
                   if a.get("status") == "firing" and a.get("group")
                   and a.get("group") != group.group_key)
    if not others:
        return group
    alerts = group.alerts + others
    status = "firing" if any(a.firing for a in alerts) else "resolved"
    return replace(group, alerts=alerts, status=status)


def _within_reopen(incident: Incident, ctx: Context) -> bool:
    window = ctx.policy.notifications.reopen_window_seconds
    return incident.resolved_at is not None and ctx.now - incident.resolved_at <= window


def _leading(group: AlertGroup, ctx: Context) -> tuple[str, Alert]:
    """The group's priority and the alert that sets it (first of the highest priority)."""
    ranked = [(alert_priority(a.labels, ctx.policy), a) for a in group.firing_alerts]
    top = highest([p for p, _ in ranked])
    return top, next(a for p, a in ranked if p == top)


def _summary(group: AlertGroup, alert: Alert) -> str:
    summary = alert.annotations.get("summary") or group.common_annotations.get("summary")
    if summary:
        return summary
    name = alert.labels.get("alertname", "alert")
    provider = alert.labels.get("provider")
    return f"{name} on {provider}" if provider else name


def _refresh(incident: Incident, group: AlertGroup, ctx: Context) -> Incident:
    """``incident`` carrying the delivery's alerts, labels and truncation count."""
    return replace(incident, labels=dict(group.common_labels), updated_at=ctx.now,
                   alerts=[a.as_dict() for a in group.alerts],
                   truncated_alerts=group.truncated_alerts)


def _open(group: AlertGroup, ctx: Context) -> Changes:
    priority, alert = _leading(group, ctx)
    incident = _refresh(Incident(
        id=ctx.new_id(), group_key=group.incident_key, priority=priority,
        state=IncidentState.TRIGGERED, summary=_summary(group, alert),
        provider=alert.labels.get("provider") or group.common_labels.get("provider"),
        opened_at=ctx.now), group, ctx)
    found = oncall.first_level(ctx.policy, ctx.now)
    detail = {"priority": priority, "alerts": len(group.firing_alerts),
              "truncated_alerts": group.truncated_alerts,
              "paged": [person.describe() for person in found.people]}
    channels = messages.route_channels(ctx.policy, priority)
    return Changes(incident=incident, new_incident=True,
                   events=[Event(incident.id, ctx.now, EventKind.OPENED, ACTOR, detail),
                           *_empty_schedules(incident, found, ctx)],
                   outbox=_notify(incident, channels, MessageKind.TRIGGER, group, alert, ctx,
                                  people=found.people),
                   timers=[escalation_timer(incident.id, ctx.now)])


def _empty_schedules(incident: Incident, found: oncall.LevelPeople, ctx: Context) -> list[Event]:
    first = ctx.policy.escalation.engineering[0].level if ctx.policy.escalation.engineering \
        else ""
    event = oncall.schedule_empty_event(incident.id, first, found, ctx.now, ACTOR)
    return [event] if event is not None else []


def _reopen(group: AlertGroup, current: Incident, ctx: Context) -> Changes:
    priority, alert = _leading(group, ctx)
    incident = _refresh(replace(current, state=IncidentState.TRIGGERED, priority=priority,
                                resolved_at=None, acked_at=None, acked_by=None,
                                summary=_summary(group, alert)), group, ctx)
    found = oncall.first_level(ctx.policy, ctx.now)
    event = Event(incident.id, ctx.now, EventKind.REOPENED, ACTOR,
                  {"priority": priority, "resolved_at": current.resolved_at,
                   "paged": [person.describe() for person in found.people]})
    channels = messages.route_channels(ctx.policy, priority)
    rows = _notify(incident, channels, MessageKind.TRIGGER, group, alert, ctx,
                   note="Reopened: the alert fired again", people=found.people)
    return Changes(incident=incident, events=[event, *_empty_schedules(incident, found, ctx)],
                   outbox=rows, cancel_timers=(TIMER_KIND,),
                   timers=[escalation_timer(incident.id, ctx.now)])


def _update(group: AlertGroup, snapshot: GroupSnapshot, ctx: Context) -> Changes:
    current = snapshot.incident
    assert current is not None
    priority, alert = _leading(group, ctx)
    incident = _refresh(replace(current, priority=priority), group, ctx)
    changes = Changes(incident=incident)
    before = {a.get("fingerprint") for a in current.alerts if a.get("status") == "firing"}
    after = {a.fingerprint for a in group.firing_alerts}
    if before != after:
        changes.events.append(Event(incident.id, ctx.now, EventKind.ALERTS_CHANGED, ACTOR, {
            "firing": len(after), "added": len(after - before), "cleared": len(before - after)}))
    if priority == current.priority:
        return changes
    changes.events.append(Event(incident.id, ctx.now, EventKind.PRIORITY_CHANGED, ACTOR,
                                {"from": current.priority, "to": priority}))
    changes.cancel_timers = (TIMER_KIND,)
    changes.timers.append(escalation_timer(incident.id, ctx.now))
    if PRIORITIES.index(priority) > PRIORITIES.index(current.priority):
        return changes  # a downgrade pages nobody
    note = f"Priority raised from {current.priority} to {priority}"
    route = messages.route_channels(ctx.policy, priority)
    fresh = [c for c in route if c not in snapshot.notified]
    paged = [c for c in sorted(snapshot.notified) if ctx.policy.channels.get(c)]
    changes.outbox = (_notify(incident, fresh, MessageKind.TRIGGER, group, alert, ctx, note=note)
                      + _notify(incident, paged, MessageKind.UPDATE, group, alert, ctx, note=note))
    return changes


def _resolve(group: AlertGroup, snapshot: GroupSnapshot, ctx: Context) -> Changes:
    current = snapshot.incident
    assert current is not None
    incident = _refresh(replace(current, state=IncidentState.RESOLVED, resolved_at=ctx.now),
                        group, ctx)
    event = Event(incident.id, ctx.now, EventKind.RESOLVED, ACTOR,
                  {"after_seconds": round(ctx.now - current.opened_at, 3)})
    alert = group.alerts[0]
    channels = [c for c in sorted(snapshot.notified) if ctx.policy.channels.get(c)
                and ctx.policy.channels[c].type not in NO_RESOLVE_TYPES]
    return Changes(incident=incident, events=[event], resolved_incident=incident,
                   outbox=_notify(incident, channels, MessageKind.RESOLVE, group, alert, ctx),
                   cancel_timers=("*",))


def _notify(incident: Incident, channels, kind: str, group: AlertGroup, alert: Alert,
            ctx: Context, note: str = "",
            people: tuple[oncall.Paged, ...] | None = None) -> list[NewOutbox]:
    """One outbox row per channel, quoting ``alert`` and the group's alert counts."""
    counts = {"firing": len(group.firing_alerts),
              "resolved": len(group.alerts) - len(group.firing_alerts)}
    return outbox.message_rows(
        incident, channels, kind, policy=ctx.policy, now=ctx.now, new_id=ctx.new_id,
        batch=ctx.batch, public_url=ctx.public_url, note=note, counts=counts, people=people,
        alert={"labels": dict(alert.labels), "annotations": dict(alert.annotations)})

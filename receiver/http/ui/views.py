"""The console's pages as plain data: stored incidents, timelines and outbox rows shaped for
the templates. Pure: no I/O; ``now`` is passed in.

- ``row``: one line of the incident list (priority, summary, provider, age, state, who is
  paged or who acknowledged);
- ``entries``: the timeline as sentences (who was paged, each send and its outcome, calls
  answered or not and the key pressed, Slack buttons, text replies, escalation, acks, notes);
- ``pages``: each page sent (an outbox row): channel, person, delivery outcome, call answers,
  and what the person did from it;
- ``sla``: the countdown to the response deadline (the priority's ``response_time`` from the
  opening), or how the incident met it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from policy import Policy
from receiver.domain.model import Event, EventKind, Incident, IncidentState, OutboxRow
from receiver.domain.pages import KEYS
from receiver.domain.times import iso

# what a person's action looked like where they took it
_KEY_OF = {action: key for key, action in KEYS.items()}
VIA = {"phone": "pressed {key} on the call", "slack": "clicked the Slack button",
       "sms": "replied by text", "console": "in the console", "api": "through the API",
       "pagerduty": "in PagerDuty"}


def duration(seconds: float) -> str:
    """``45s``, ``12m``, ``3h 5m``, ``2d 4h``: a short age or countdown."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if minutes < 60:
        return f"{minutes}m"
    if hours < 24:
        return f"{hours}h {minutes % 60}m" if minutes % 60 else f"{hours}h"
    return f"{days}d {hours % 24}h" if hours % 24 else f"{days}d"


def person(policy: Policy, paged: str) -> str:
    """``Chloe Martin (on call for primary)`` from an event's ``eng_c, on call for primary``."""
    key, _, why = paged.partition(", ")
    contact = policy.contacts.get(key)
    name = contact.name if contact is not None else key
    return f"{name} ({why})" if why else name


def paged_now(events: Sequence[Event], policy: Policy) -> list[str]:
    """Everyone the incident's opening and escalations have paged, in order, each once."""
    found: list[str] = []
    for event in events:
        if event.kind in (EventKind.OPENED, EventKind.REOPENED, EventKind.ESCALATED):
            for paged in event.detail.get("paged") or ():
                label = person(policy, str(paged))
                if label not in found:
                    found.append(label)
    return found


def who(incident: Incident, events: Sequence[Event] | None, policy: Policy) -> str:
    """The list's "who" column: who acknowledged it, else who is being paged."""
    if incident.acked_by:
        return f"acknowledged by {incident.acked_by}"
    if incident.state == IncidentState.RESOLVED:
        return "resolved unacknowledged"
    people = paged_now(events or (), policy)
    return "paging " + ", ".join(people) if people else "paging"


def row(incident: Incident, events: Sequence[Event] | None, policy: Policy,
        now: float) -> dict[str, Any]:
    return {"id": incident.id, "priority": incident.priority, "summary": incident.summary,
            "provider": incident.provider or "", "state": incident.state,
            "opened_at": iso(incident.opened_at), "age": duration(now - incident.opened_at),
            "who": who(incident, events, policy)}


def open_first(incidents: Sequence[Incident]) -> list[Incident]:
    """Open incidents first (P0 first, a triggered one before an acknowledged one, newest
    first), then the rest newest first."""
    def order(incident: Incident) -> tuple:
        resolved = incident.state == IncidentState.RESOLVED
        return (resolved, "" if resolved else incident.priority,
                incident.state != IncidentState.TRIGGERED, -incident.opened_at, incident.id)
    return sorted(incidents, key=order)


def sla(incident: Incident, policy: Policy, now: float) -> dict[str, Any]:
    """``{"deadline": iso, "deadline_ts", "response", "open": bool, "text", "breached"}``:
    counting down while the incident waits for an acknowledgement, else how it was met."""
    spec = policy.priorities.get(incident.priority)
    response = spec.response_seconds if spec else 0.0
    deadline = incident.opened_at + response
    answered = incident.acked_at
    if answered is None and incident.state == IncidentState.RESOLVED:
        answered = incident.resolved_at  # resolved without an ack: resolution is the response
    waiting = answered is None
    at = now if waiting else answered
    assert at is not None
    breached = at > deadline
    if waiting:
        text = (f"{duration(at - deadline)} past the response deadline" if breached
                else f"{duration(deadline - at)} left to acknowledge")
    else:
        text = (f"answered in {duration(at - incident.opened_at)}, "
                + (f"{duration(at - deadline)} late" if breached else "within the SLA"))
    return {"deadline": iso(deadline), "deadline_ts": int(deadline), "open": waiting,
            "response": duration(response), "text": text, "breached": breached}


def _paged_text(detail: dict, policy: Policy) -> str:
    people = [person(policy, str(p)) for p in detail.get("paged") or ()]
    return f"; paged {', '.join(people)}" if people else ""


def _acted(event: Event, verb: str) -> str:
    via = str(event.detail.get("via") or "")
    how = VIA.get(via, f"via {via}" if via else "")
    if via == "phone":
        how = how.format(key=_KEY_OF.get("escalate" if verb.startswith("asked") else
                                         "acknowledge", "?"))
    return f"{event.actor} {verb}" + (f" ({how})" if how else "")


def sentence(event: Event, policy: Policy) -> str:
    """One timeline event as a sentence."""
    d, kind = event.detail, event.kind
    if kind == EventKind.OPENED:
        what = (f"declared by {event.actor}: {d.get('description', '')}" if d.get("declared")
                else f"opened at {d.get('priority', '')} by {event.actor}")
        return what[0].upper() + what[1:] + _paged_text(d, policy)
    if kind == EventKind.REOPENED:
        return f"Reopened at {d.get('priority', '')}" + _paged_text(d, policy)
    if kind == EventKind.ESCALATED:
        channels = ", ".join(d.get("channels") or ()) or "the route's channels"
        return (f"Escalation {d.get('chain', '')} {d.get('level', '')} on {channels}"
                + _paged_text(d, policy))
    if kind == EventKind.ESCALATION_REQUESTED:
        return _acted(event, f"asked to escalate to {d.get('level', '')} now")
    if kind == EventKind.ACKNOWLEDGED:
        return _acted(event, "acknowledged")
    if kind == EventKind.RESOLVED:
        return _acted(event, "resolved") if d.get("by_hand") else \
            f"Resolved by {event.actor} (the alerts cleared)"
    if kind == EventKind.NOTIFIED:
        outcome = "call placed, waiting for an answer" if d.get("awaiting_answer") else "sent"
        return f"{d.get('kind', '')} on {d.get('channel', '')}: {outcome} " \
               f"(attempt {d.get('attempts', 1)})"
    if kind in (EventKind.PAGE_ANSWERED, EventKind.PAGE_UNANSWERED):
        name = person(policy, str(d.get("contact") or "")) or "someone"
        heard = "answered" if kind == EventKind.PAGE_ANSWERED else \
            f"did not answer ({d.get('status', '')})"
        return f"{name} {heard} call {d.get('attempt', '')} on {d.get('channel', '')}"
    if kind in (EventKind.NOTIFY_FAILED, EventKind.NOTIFY_ABANDONED):
        gave_up = "failed" if kind == EventKind.NOTIFY_FAILED else "abandoned"
        return f"{d.get('kind', '')} on {d.get('channel', '')} {gave_up}: {d.get('reason', '')}"
    if kind == EventKind.FALLBACK:
        return f"{d.get('kind', '')} moved from {d.get('from', '')} to {d.get('to', '')}"
    if kind == EventKind.NOTE:
        return f"Note by {event.actor}: {d.get('text', '')}"
    if kind == EventKind.DRILL:
        return (f"Drill recorded by {event.actor}: alert to first page "
                f"{d.get('alert_to_page_seconds', '?')} s, page to acknowledgement "
                f"{d.get('page_to_ack_seconds', '?')} s (by {d.get('acked_by', '?')})")
    if kind == EventKind.SLA_BREACHED:
        return "Response SLA breached: not acknowledged in time"
    if kind == EventKind.PRIORITY_CHANGED:
        return f"Priority changed from {d.get('from', '')} to {d.get('to', '')}"
    rest = ", ".join(f"{k}={v}" for k, v in d.items() if v not in (None, "", [], {}))
    return f"{kind.replace('_', ' ').capitalize()}" + (f": {rest}" if rest else "")


def entries(events: Sequence[Event], policy: Policy) -> list[dict[str, str]]:
    return [{"at": iso(e.at) or "", "kind": e.kind, "actor": e.actor,
             "text": sentence(e, policy)} for e in events]


def pages(rows: Sequence[OutboxRow], events: Sequence[Event],
          policy: Policy) -> list[dict[str, Any]]:
    """Each outbox row with its person, outcome, the calls' answers and what the person did
    from the page (a key on the call, the Slack button, a text reply)."""
    out = []
    for r in rows:
        contact = policy.contacts.get(r.lane) if r.lane else None
        name = contact.name if contact is not None else ""
        calls = [e for e in events
                 if e.kind in (EventKind.PAGE_ANSWERED, EventKind.PAGE_UNANSWERED)
                 and e.detail.get("channel") == r.channel and e.detail.get("contact") == r.lane]
        answers = [("answered" if e.kind == EventKind.PAGE_ANSWERED
                    else str(e.detail.get("status", ""))) for e in calls]
        via = policy.channels[r.channel].type if r.channel in policy.channels else ""
        did = [sentence(e, policy) for e in events
               if e.kind in (EventKind.ACKNOWLEDGED, EventKind.ESCALATION_REQUESTED)
               and e.detail.get("via") == via and name and e.actor.startswith(name)]
        out.append({"channel": r.channel, "kind": r.kind, "person": name or ", ".join(
            r.payload.get("recipients", ())) or "the channel", "state": r.state,
            "attempts": r.attempts, "error": r.last_error or "",
            "answers": ", ".join(answers), "did": "; ".join(did),
            "fallback": bool(r.fallback_of)})
    return out

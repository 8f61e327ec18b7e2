"""The demo's phone acknowledgement, read from an incident's timeline.

A person answers the phone page callwatch places and presses 1: the receiver acknowledges the
incident as that person (``acked_by`` their name, the ``acknowledged`` event's ``via`` is
``phone``) and the engineering chain stops. Nothing here claims that: it reads the timeline
(``GET /incidents/{id}``) and says what it shows. Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from policy.model import Policy
from receiver.domain import oncall

ENGINEERING = "engineering"


@dataclass(frozen=True)
class Answerer:
    """The contact who answers their phone page and presses 1."""

    key: str
    name: str
    number: str


@dataclass(frozen=True)
class PhoneAck:
    """The timeline's acknowledgement from the phone."""

    by: str
    at: float                   # epoch seconds
    provider: str | None        # the provider that carried the answered call, when recorded


@dataclass(frozen=True)
class Step:
    """The next engineering level the chain would have paged."""

    level: str
    names: str
    after_seconds: float        # policy seconds after the opening


def answerer(policy: Policy, key: str) -> Answerer:
    contact = policy.contacts[key]
    if not contact.phone:
        raise ValueError(f"contact {key!r} has no phone number to answer")
    return Answerer(key, contact.name, contact.phone)


def epoch(stamp: str) -> float:
    """Seconds since the epoch of an ISO 8601 time as the incident API writes it."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def phone_ack(detail: dict) -> PhoneAck | None:
    """The incident's acknowledgement made from a phone page, if that is how it was made."""
    timeline = detail.get("timeline", [])
    event = next((e for e in timeline if e.get("kind") == "acknowledged"), None)
    if event is None or event.get("detail", {}).get("via") != "phone":
        return None
    answered = [e for e in timeline if e.get("kind") == "page_answered"
                and epoch(e["at"]) <= epoch(event["at"])]
    provider = answered[-1].get("detail", {}).get("via") if answered else None
    return PhoneAck(str(event.get("actor")), epoch(event["at"]), provider)


def engineering_after(detail: dict, at: float) -> list[str]:
    """The engineering levels the timeline shows paged after ``at`` (epoch seconds)."""
    return [str(e.get("detail", {}).get("level")) for e in detail.get("timeline", [])
            if e.get("kind") == "escalated" and epoch(e["at"]) > at
            and e.get("detail", {}).get("chain") == ENGINEERING]


def next_step(policy: Policy, priority: str, after_seconds: float, now: float) -> Step | None:
    """The first engineering level due later than ``after_seconds`` (policy seconds since the
    opening) for an incident of ``priority``: its own steps and its deadline's level, naming
    who it reaches at ``now`` (a schedule's on-call person)."""
    if policy.escalation.owner != "callwatch":
        return None
    due: list[tuple[float, str]] = []
    for step in policy.escalation.engineering:
        if priority in step.priorities:
            due.append((step.after_seconds, step.level))
    deadline = policy.escalation.deadlines.get(priority)
    if deadline is not None:
        due.append((deadline.after_seconds, deadline.level))
    later = sorted(d for d in due if d[0] > after_seconds)
    if not later:
        return None
    seconds, level = later[0]
    found = oncall.level_people(policy, policy.escalation.engineering, level, now, priority)
    return Step(level, found.labels(policy), seconds)


def paged_line(detail: dict, policy: Policy) -> str | None:
    """Who the incident's opening paged and why, from its timeline: ``paged Ben Okafor (eng_b,
    on call for primary)``; the schedule that had nobody on call, when one had not."""
    timeline = detail.get("timeline", [])
    opened = next((e for e in timeline if e.get("kind") in ("opened", "reopened")), None)
    if opened is None:
        return None
    people = []
    for described in opened.get("detail", {}).get("paged", []):
        key = str(described).split(",", 1)[0]
        person = policy.contacts.get(key)
        people.append(f"{person.name} ({described})" if person else str(described))
    line = f"paged {', '.join(people) or 'nobody'}"
    empty = next((e for e in timeline if e.get("kind") == "schedule_empty"), None)
    if empty is not None:
        found = empty.get("detail", {})
        line += (f"; nobody was on call for {', '.join(found.get('schedules', []))}, so "
                 f"{found.get('paged_level') or 'no level'} was paged instead")
    return line


def stop_line(detail: dict, ack: PhoneAck, step: Step, opened: float, now: float,
              time_scale: float) -> str:
    """Whether the engineering chain stopped after ``ack``, as the timeline shows it at ``now``
    (epoch seconds), ``step`` being the level that was due next."""
    checked = minutes(now - opened, time_scale)
    paged = engineering_after(detail, ack.at)
    if paged:
        return (f"escalation did NOT stop: {', '.join(paged)} paged after the acknowledgement "
                f"(checked at {checked})")
    due = f"{step.level}, {step.names}, was due at {step.after_seconds / 60:.0f} min"
    resolved = detail.get("resolved_at")
    if resolved and epoch(resolved) < opened + step.after_seconds / time_scale:
        return (f"no engineering level paged after the acknowledgement; the incident resolved "
                f"at {minutes(epoch(resolved) - opened, time_scale)}, before {due}")
    return (f"escalation stopped: no engineering level paged after the acknowledgement; {due} "
            f"(checked at {checked})")


def minutes(real_seconds: float, time_scale: float) -> str:
    """Real seconds as policy minutes, e.g. ``15 min``."""
    return f"{real_seconds * time_scale / 60:.0f} min"

"""Which change of an incident publishes or updates its status page notice
(``receiver.domain.status_page.follow_up``, pure)."""

from __future__ import annotations

import dataclasses

import pytest

from policy.model import StatusPage
from receiver.domain.model import Changes, Event, EventKind, GroupSnapshot, Incident
from receiver.domain.status_page import CHANNEL, follow_up

INCIDENT = Incident(id="inc1", group_key="g", priority="P1", state="triggered",
                    summary="Call drop rate critical", provider="twilio", opened_at=100.0)


def event(kind: str) -> Event:
    return Event("inc1", 200.0, kind, "receiver", {})


def case(*, published: bool, new: bool = False, events: tuple[str, ...] = (),
         priority: str = "P1", state: str = "triggered", acked: bool = False,
         resolved: bool = False) -> tuple[GroupSnapshot, Changes]:
    incident = dataclasses.replace(INCIDENT, priority=priority, state=state)
    snapshot = GroupSnapshot("g", None if new else INCIDENT,
                             frozenset({CHANNEL} if published else ()))
    changes = Changes(incident=incident, new_incident=new,
                      events=[event(kind) for kind in events],
                      acknowledged_incident=incident if acked else None,
                      resolved_incident=incident if resolved else None)
    return snapshot, changes


CASES = [
    ("an auto P1 that opens is published", "auto",
     case(published=False, new=True), ("trigger", "investigating", "major")),
    ("an auto P2 that opens is not published", "auto",
     case(published=False, new=True, priority="P2"), None),
    ("a manual P0 that opens waits for a person", "manual",
     case(published=False, new=True, priority="P0"), None),
    ("a published incident acknowledged shows identified", "manual",
     case(published=True, acked=True, state="acknowledged"),
     ("acknowledge", "identified", "major")),
    ("a published incident resolved shows resolved", "manual",
     case(published=True, resolved=True, state="resolved"), ("resolve", "resolved", "major")),
    ("a published incident raised to P0 shows the critical impact", "manual",
     case(published=True, events=(EventKind.PRIORITY_CHANGED,), priority="P0"),
     ("update", "investigating", "critical")),
    ("a published incident lowered to P2 shows the minor impact", "auto",
     case(published=True, events=(EventKind.PRIORITY_CHANGED,), priority="P2"),
     ("update", "investigating", "minor")),
    ("a published incident that reopens is the same notice, investigating again", "manual",
     case(published=True, events=(EventKind.REOPENED,)), ("update", "investigating", "major")),
    ("an auto incident raised from P2 to P1 is published then", "auto",
     case(published=False, events=(EventKind.PRIORITY_CHANGED,)),
     ("trigger", "investigating", "major")),
    ("an auto P1 that reopens unpublished is published then", "auto",
     case(published=False, events=(EventKind.REOPENED,)), ("trigger", "investigating", "major")),
    ("an unpublished incident acknowledged stays off the page", "auto",
     case(published=False, acked=True, state="acknowledged"), None),
    ("a published incident whose alerts change alone is not updated", "auto",
     case(published=True, events=(EventKind.ALERTS_CHANGED,)), None),
]


@pytest.mark.parametrize("publish, given, expected", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_status_page_follow_up(policy, publish, given, expected):
    spec = StatusPage(provider="statuspage", page_id="p", api_key_env="K", publish=publish,
                      components={"twilio": "cmp-twilio"})
    snapshot, changes = given
    rows = follow_up(snapshot, changes, dataclasses.replace(policy, status_page=spec),
                     lambda incident, events: "Service alert\n\nCalls fail.",
                     now=200.0, new_id=iter(f"id{n}" for n in range(9)).__next__)
    got = [(r.kind, r.payload["details"]["status"], r.payload["details"]["impact"])
           for r in rows]
    assert got == ([expected] if expected else [])
    assert all(r.payload["details"]["components"] == "cmp-twilio" for r in rows)

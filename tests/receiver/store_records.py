"""Records the store contract files build: an incident, an outbox row, an opening decision, a
send attempt."""

from __future__ import annotations

from receiver.domain.model import Attempt, Changes, Event, GroupSnapshot, Incident, NewOutbox


def incident(id="inc1", group="{}:{alertname=\"X\"}", priority="P1", state="triggered", at=100.0):
    return Incident(id=id, group_key=group, priority=priority, state=state, summary="drops high",
                    provider="twilio", opened_at=at, labels={"alertname": "X"},
                    alerts=[{"fingerprint": "f1"}], updated_at=at)


def row(id, inc="inc1", channel="slack", kind="trigger", due=100.0, batch="b1", fallback_of=None):
    return NewOutbox(id=id, incident_id=inc, channel=channel, kind=kind,
                     payload={"summary": "s", "priority": "P1"}, next_attempt_at=due, batch=batch,
                     fallback_of=fallback_of)


def opening(inc: Incident, *rows: NewOutbox, timers=()):
    def decide(snapshot: GroupSnapshot) -> Changes:
        return Changes(incident=inc, new_incident=snapshot.incident is None,
                       events=[Event(inc.id, inc.opened_at, "opened", "alertmanager", {"n": 1})],
                       outbox=list(rows), timers=list(timers))
    return decide


def attempt(id, outcome="sent", at=101.0, worker="w1", reason=None):
    return Attempt(id, at, worker, outcome, reason, None if reason is None else "boom")

"""The pure decisions behind acknowledge / resolve / declare, over an injected time."""

from __future__ import annotations

import itertools

import pytest

from receiver.domain.actions import (
    ActionContext,
    conflict_message,
    decide_acknowledge,
    decide_declare,
    decide_resolve,
)
from receiver.domain.model import GroupSnapshot, Incident

T0 = 1_800_000_000.0


def incident(state: str = "triggered", priority: str = "P0", **extra) -> Incident:
    return Incident(id="inc-1", group_key="g", priority=priority, state=state,
                    summary="TelephonyServiceDown on twilio", provider="twilio", opened_at=T0,
                    alerts=[{"status": "firing", "labels": {"alertname": "TelephonyServiceDown",
                                                            "severity": "critical"},
                             "annotations": {"description": "every provider down"}}], **extra)


def ctx(policy, now: float = T0 + 300, actor: str = "Ada", skip=()) -> ActionContext:
    counter = itertools.count()
    return ActionContext(policy=policy, now=now, new_id=lambda: f"id{next(counter)}",
                         actor=actor, skip_types=skip)


def snapshot(current: Incident, notified=("pagerduty", "slack", "phone")) -> GroupSnapshot:
    return GroupSnapshot("g", current, frozenset(notified))


@pytest.mark.parametrize("notified,skip,told", [
    pytest.param(("pagerduty", "slack", "phone"), (), ["pagerduty", "slack"],
                 id="an ack tells PagerDuty and Slack but rings no phone"),
    pytest.param(("pagerduty", "slack", "phone"), ("pagerduty",), ["slack"],
                 id="an ack that came from PagerDuty is not echoed to PagerDuty"),
    pytest.param(("slack", "email"), (), ["email", "slack"],
                 id="a P1 ack tells Slack and email"),
    pytest.param((), (), [], id="an ack before anything was paged tells nobody"),
    pytest.param(("slack", "retired-channel"), (), ["slack"],
                 id="a channel no longer in the policy is not told"),
])
def test_who_hears_of_an_acknowledgement(policy, notified, skip, told):
    outcome = decide_acknowledge(snapshot(incident(), notified), ctx(policy, skip=skip))
    assert outcome.conflict is None
    assert [row.channel for row in outcome.changes.outbox] == told
    assert {row.kind for row in outcome.changes.outbox} <= {"acknowledge"}
    assert len({row.batch for row in outcome.changes.outbox}) <= 1


def test_an_acknowledgement_stops_the_chain_and_asks_for_a_fresh_escalation_pass(policy):
    outcome = decide_acknowledge(snapshot(incident()), ctx(policy, now=T0 + 300))
    changes = outcome.changes
    assert (changes.incident.state, changes.incident.acked_at, changes.incident.acked_by) == (
        "acknowledged", T0 + 300, "Ada")
    assert changes.cancel_timers == ("escalation",)
    assert [(t.kind, t.due_at, t.incident_id) for t in changes.timers] == [
        ("escalation", T0 + 300, "inc-1")]
    assert [(e.kind, e.actor, e.detail["after_seconds"]) for e in changes.events] == [
        ("acknowledged", "Ada", 300)]


def test_an_acknowledgement_on_a_digest_channel_waits_for_the_digest(policy):
    outcome = decide_acknowledge(snapshot(incident(priority="P3"), ("digest",)), ctx(policy))
    (row,) = outcome.changes.outbox
    assert row.channel == "digest" and row.next_attempt_at > T0 + 300


@pytest.mark.parametrize("state,decide,conflict", [
    pytest.param("acknowledged", decide_acknowledge, "acknowledged",
                 id="acknowledging an acknowledged incident is a conflict"),
    pytest.param("resolved", decide_acknowledge, "resolved",
                 id="acknowledging a resolved incident is a conflict"),
    pytest.param("resolved", decide_resolve, "resolved",
                 id="resolving a resolved incident is a conflict"),
])
def test_conflicts_change_nothing(policy, state, decide, conflict):
    outcome = decide(snapshot(incident(state=state)), ctx(policy))
    assert outcome.conflict == conflict
    assert (outcome.changes.incident, outcome.changes.outbox, outcome.changes.timers) == (
        None, [], [])


def test_resolving_cancels_every_timer_and_tells_every_paged_channel(policy):
    outcome = decide_resolve(snapshot(incident(state="acknowledged", acked_at=T0 + 1,
                                               acked_by="Ada")), ctx(policy))
    changes = outcome.changes
    assert changes.cancel_timers == ("*",) and changes.timers == []
    assert changes.resolved_incident is changes.incident
    assert changes.incident.acked_by == "Ada"  # who acknowledged stays on record
    assert sorted(row.channel for row in changes.outbox) == ["pagerduty", "phone", "slack"]


def test_a_declared_incident_is_routed_and_escalated_like_an_alert(policy):
    outcome = decide_declare(GroupSnapshot("manual:m1", None, frozenset()), ctx(policy),
                             incident_id="m1", summary="Data breach", priority="P1",
                             description="Leaked call recordings", provider=None)
    changes = outcome.changes
    assert changes.new_incident and changes.incident.group_key == "manual:m1"
    assert [row.channel for row in changes.outbox] == list(policy.routing["P1"].channels)
    assert all("Leaked call recordings" in row.payload["details"]["note"] for row in changes.outbox)
    assert [(t.kind, t.due_at) for t in changes.timers] == [("escalation", T0 + 300)]


def test_the_conflict_message_names_who_and_when():
    acked = incident(state="acknowledged", acked_at=T0, acked_by="Ada")
    assert conflict_message(acked, "acknowledge", None) == (
        "incident inc-1 was already acknowledged by Ada at 2027-01-15T08:00:00.000Z")
    resolved = incident(state="resolved", resolved_at=T0)
    assert conflict_message(resolved, "acknowledge", "alertmanager") == (
        "incident inc-1 was already resolved by alertmanager at 2027-01-15T08:00:00.000Z; "
        "a resolved incident cannot be acknowledged")

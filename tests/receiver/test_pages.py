"""A page a person answers: what each report about a call does to the page (pure)."""

from __future__ import annotations

import dataclasses

import pytest

from receiver.domain import pages
from receiver.domain.model import Incident, OutboxRow
from receiver.domain.pages import CallReport

NOW = 1_800_000_000.0


def awaiting(attempts=1, state="awaiting") -> OutboxRow:
    return OutboxRow(id="row1", seq=1, incident_id="inc1", channel="phone", kind="trigger",
                     payload={"priority": "P0", "contact_name": "On-call Engineer"},
                     state=state, attempts=attempts, next_attempt_at=NOW + 600,
                     created_at=NOW - 60, batch="b1", page="pg1", lane="oncall")


def settle(policy, row, status, attempt=1):
    ids = iter(f"id{n}" for n in range(10))
    return pages.settle_call(row, CallReport(attempt, status, "twilio", "CA1"), policy, NOW,
                             lambda: next(ids))


def test_a_person_answering_delivers_the_page(policy):
    finish = settle(policy, awaiting(), "answered")
    assert (finish.state, finish.delivered_ref, finish.delivered_via) == ("sent", "CA1", "twilio")
    [event] = finish.events
    assert (event.kind, event.detail["contact"], event.detail["attempt"]) == (
        "page_answered", "oncall", 1)


@pytest.mark.parametrize("status", ["no-answer", "busy", "failed", "canceled", "machine",
                                    "no-report"])
def test_an_unanswered_first_call_rings_again_after_the_interval(policy, status):
    finish = settle(policy, awaiting(), status)
    assert (finish.state, finish.next_attempt_at, finish.attempt.reason) == (
        "pending", NOW + 120, status)
    assert [e.kind for e in finish.events] == ["page_unanswered"]
    assert finish.fallbacks == ()


def test_the_last_unanswered_call_fails_the_page_and_falls_back(policy):
    finish = settle(policy, awaiting(attempts=3), "no-answer", attempt=3)
    assert finish.state == "failed"
    assert [e.kind for e in finish.events] == ["page_unanswered", "notify_failed"]
    [copy] = finish.fallbacks
    assert (copy.channel, copy.fallback_of) == ("email", "row1")
    assert [e.detail for e in finish.fallback_events] == [
        {"from": "phone", "to": "email", "kind": "trigger"}]


def test_the_policy_decides_how_many_calls_a_page_gets(policy):
    phone = policy.channels["phone"]
    once = dataclasses.replace(policy, channels={**policy.channels, "phone": dataclasses.replace(
        phone, settings={**phone.settings, "retry": {"attempts": 1, "interval_seconds": 60.0,
                                                     "outcome_within_seconds": 300.0}})})
    assert settle(once, awaiting(), "busy").state == "failed"


@pytest.mark.parametrize(("row", "attempt"), [
    pytest.param(awaiting(attempts=2), 1, id="a report about an earlier call changes nothing"),
    pytest.param(awaiting(state="sent"), 1, id="a page already answered is not settled again"),
    pytest.param(awaiting(state="pending"), 1,
                 id="a replayed report after the retry was scheduled changes nothing"),
])
def test_late_or_replayed_reports_change_nothing(policy, row, attempt):
    assert settle(policy, row, "no-answer", attempt=attempt) is None


@pytest.mark.parametrize(("digits", "action"), [
    ("1", "acknowledge"), ("2", "escalate"), ("9", "repeat"), ("", "repeat"), ("#", "repeat"),
    ("12", "acknowledge"),
])
def test_each_key_does_one_thing_and_any_other_repeats_the_page(digits, action):
    assert pages.key_action(digits) == action


def test_a_late_keypress_hears_who_acknowledged_and_when():
    incident = Incident(id="inc1", group_key="g", priority="P0", state="acknowledged",
                        summary="s", provider=None, opened_at=NOW, acked_at=NOW + 125.0,
                        acked_by="Team Lead")
    assert pages.conflict_reply(incident) == (
        "This incident was already acknowledged by Team Lead at 08:02 UTC. Goodbye.")

"""The one row builder: who a page goes to, one row per person on the phone."""

from __future__ import annotations

import dataclasses
import itertools

from receiver.domain import outbox
from receiver.domain.model import Incident, OutboxRow
from tests.conftest import named, on_call

NOW = 1_800_000_000.0


def incident(priority="P0") -> Incident:
    return Incident(id="inc1", group_key="g", priority=priority, state="triggered",
                    summary="Twilio down", provider="twilio", opened_at=NOW)


def build(policy, channels, **kwargs):
    ids = (f"id{n}" for n in itertools.count())
    tokens = (f"page{n}" for n in itertools.count())
    return outbox.message_rows(incident(), channels, "trigger", policy=policy, now=NOW,
                               new_id=lambda: next(ids), batch="b1",
                               new_token=lambda: next(tokens), **kwargs)


def test_a_phone_page_is_one_row_per_person_with_its_own_lane_page_and_number(policy):
    rows = build(policy, ["phone"], people=named("eng_a", "team_lead", "operations_manager"))
    # the operations manager has no phone: nobody is rung for them
    assert [(r.lane, r.page, r.payload["recipients"], r.payload["contact_name"])
            for r in rows] == [("eng_a", "page0", ["+15005550001"], "Ana Weber"),
                               ("team_lead", "page1", ["+15005550002"], "Team Lead")]
    assert {r.batch for r in rows} == {"b1"}


def test_a_route_page_on_the_phone_goes_to_whoever_the_first_levels_schedule_has_on_call(policy):
    [row] = build(policy, ["phone"])
    # 2027-01-15 09:00 Berlin: week 53 of the primary rotation from 2026-01-05, Chloe's
    assert (row.lane, row.payload["recipients"], row.payload["on_call_for"]) == (
        "eng_c", ["+15005550009"], "primary")
    assert on_call(policy, NOW).key == "eng_c"


def test_other_channels_stay_one_row_per_channel_without_a_page(policy):
    rows = build(policy, ["slack", "email"], people=named("eng_a", "team_lead"))
    assert [(r.channel, r.lane, r.page) for r in rows] == [("slack", "", None),
                                                           ("email", "", None)]


def test_a_fallback_copy_goes_to_the_routes_next_fallback_channel(policy):
    [row] = build(policy, ["phone"])
    failing = OutboxRow(id=row.id, seq=1, incident_id="inc1", channel="phone", kind="trigger",
                        payload=row.payload, state="pending", attempts=3,
                        next_attempt_at=NOW, created_at=NOW, batch="b1", page=row.page,
                        lane=row.lane)
    copy, event = outbox.fallback_copy(failing, policy, NOW + 60, lambda: "fb1", "dispatcher")
    assert (copy.channel, copy.fallback_of, copy.payload["recipients"]) == (
        "email", row.id, ["chloe@example.com"])  # the paged person's own next method
    assert (event.kind, event.detail) == ("fallback", {"from": "phone", "to": "email",
                                                       "kind": "trigger"})


def failing(row) -> OutboxRow:
    return OutboxRow(id=row.id, seq=1, incident_id="inc1", channel=row.channel, kind=row.kind,
                     payload=row.payload, state="pending", attempts=3, next_attempt_at=NOW,
                     created_at=NOW, batch=row.batch, page=row.page, lane=row.lane)


def test_when_the_vps_phone_page_fails_the_fallback_emails_the_vp_not_the_on_call_list(policy):
    [row] = build(policy, ["phone"], people=named("vp_engineering"))
    copy, event = outbox.fallback_copy(failing(row), policy, NOW, lambda: "fb1", "dispatcher")
    assert (copy.channel, copy.lane, copy.payload["recipients"]) == (
        "email", "vp_engineering", ["vp-eng@example.com"])
    assert event.detail == {"from": "phone", "to": "email", "kind": "trigger"}


def test_a_persons_fallback_follows_the_order_they_list_their_methods_in(policy):
    # the team lead lists slack, phone, email: a failing slack page to them goes to the phone
    rows = outbox.message_rows(incident(), ["slack"], "escalate", policy=policy, now=NOW,
                               new_id=lambda: "r1", batch="b1")
    lead = dataclasses.replace(rows[0], lane="team_lead")
    copy, _ = outbox.fallback_copy(failing(lead), policy, NOW, lambda: "fb1", "dispatcher",
                                   new_token=lambda: "page9")
    assert (copy.channel, copy.payload["recipients"], copy.page) == (
        "phone", ["+15005550002"], "page9")
    [email] = build(policy, ["email"], people=named("team_lead"))
    last = dataclasses.replace(email, lane="team_lead")
    assert outbox.fallback_copy(failing(last), policy, NOW, lambda: "x", "d") is None


def test_a_channel_page_without_a_person_uses_the_routes_fallback_and_its_list(policy):
    [slack] = build(policy, ["slack"])
    stored = dataclasses.replace(failing(slack), payload={**slack.payload, "priority": "P2"})
    assert outbox.fallback_copy(stored, policy, NOW, lambda: "fb1", "d") is None  # P2: none
    p1 = dataclasses.replace(failing(slack), channel="email",
                             payload={**slack.payload, "priority": "P1"})
    copy, _ = outbox.fallback_copy(p1, policy, NOW, lambda: "fb1", "d")
    assert (copy.channel, copy.lane) == ("phone", "")

"""Paging through schedules: a route or an escalation step naming ``schedule:primary`` pages
whoever is on call at that moment, names them and the schedule, and a level whose schedule has
nobody on call falls to the next level with a timeline event saying so."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime, timedelta

import pytest

from policy.model import EscalationStep, Schedule, ScheduleLayer, ScheduleOverride
from receiver.domain import oncall
from receiver.domain.alertmanager import parse_payload
from receiver.domain.escalation import Action, escalation_changes
from receiver.domain.incidents import Context, decide
from receiver.domain.model import GroupSnapshot
from tests.receiver.standins import alert, payload

BERLIN_MONDAY_9 = datetime(2027, 1, 11, 8, 0, tzinfo=UTC)   # 09:00 in Berlin, a handoff
_ids = itertools.count(1)


def at(moment: datetime) -> float:
    return moment.timestamp()


def with_schedule(policy, layers=None, overrides=()):
    """The shipped policy with ``primary`` replaced: a weekly a/b/c rotation from a Monday."""
    layers = layers or (ScheduleLayer("weekly", datetime(2027, 1, 4, 9, 0), timedelta(weeks=1),
                                      ("eng_a", "eng_b", "eng_c")),)
    schedule = Schedule("primary", "Europe/Berlin", tuple(layers), tuple(overrides))
    return dataclasses.replace(policy, schedules={"primary": schedule})


def open_p0(policy, now: float):
    group = parse_payload(payload(alert("TelephonyServiceDown")))
    ctx = Context(policy=policy, now=now, new_id=lambda: f"id{next(_ids)}", batch="b")
    return decide(group, GroupSnapshot("g", None, frozenset()), ctx)


def phoned(changes) -> list[tuple[str, str | None]]:
    return [(row.lane, row.payload.get("on_call_for")) for row in changes.outbox
            if row.channel == "phone"]


@pytest.mark.parametrize("moment,expected", [
    pytest.param(BERLIN_MONDAY_9 - timedelta(minutes=1), "eng_a",
                 id="a minute before the Monday handoff the first week's engineer is paged"),
    pytest.param(BERLIN_MONDAY_9, "eng_b",
                 id="at the Monday 09:00 handoff the incoming engineer is paged"),
    pytest.param(BERLIN_MONDAY_9 + timedelta(weeks=2), "eng_a",
                 id="the rotation comes back to the first engineer after three weeks"),
])
def test_a_new_incident_pages_whoever_the_schedule_has_on_call(policy, moment, expected):
    changes = open_p0(with_schedule(policy), at(moment))
    assert phoned(changes) == [(expected, "primary")]
    opened = changes.events[0]
    assert opened.detail["paged"] == [f"{expected}, on call for primary"]


def test_an_override_changes_who_is_phoned(policy):
    override = ScheduleOverride("eng_c", datetime(2027, 1, 11, 8, 0), datetime(2027, 1, 12, 8, 0))
    changes = open_p0(with_schedule(policy, overrides=[override]), at(BERLIN_MONDAY_9))
    assert phoned(changes) == [("eng_c", "primary")]


def test_an_empty_schedule_pages_the_next_level_and_the_timeline_says_so(policy):
    # the rotation starts next week: nobody is on call for primary now
    future = ScheduleLayer("weekly", datetime(2027, 1, 18, 9, 0), timedelta(weeks=1), ("eng_a",))
    changes = open_p0(with_schedule(policy, layers=[future]), at(BERLIN_MONDAY_9))
    assert phoned(changes) == [("team_lead", None)]
    [empty] = [e for e in changes.events if e.kind == "schedule_empty"]
    assert empty.detail == {"schedules": ["primary"], "level": "L1", "paged_level": "L2",
                            "skipped": ["L1"]}


def test_an_escalation_step_pages_whoever_is_on_call_when_it_fires_not_at_the_opening(policy):
    chosen = with_schedule(policy)
    chain = list(chosen.escalation.engineering)
    chain[1] = dataclasses.replace(chain[1], contacts=("schedule:primary",))
    chosen = dataclasses.replace(chosen, escalation=dataclasses.replace(
        chosen.escalation, engineering=tuple(chain)))
    opened_at = at(BERLIN_MONDAY_9 - timedelta(minutes=5))        # eng_a's last minutes
    incident = open_p0(chosen, opened_at).incident
    step: EscalationStep = chain[1]
    action = Action(f"engineering:{step.level}", "engineering", opened_at + step.after_seconds,
                    step.level, step.contacts, step.channels)
    changes = escalation_changes(incident, [action], chosen, opened_at + 15 * 60, "t1", {})
    assert {row.lane for row in changes.outbox if row.channel == "phone"} == {"eng_b"}
    [escalated] = [e for e in changes.events if e.kind == "escalated"]
    assert escalated.detail["contacts"] == ["eng_b"]
    assert escalated.detail["paged"] == ["eng_b, on call for primary"]


def test_a_chain_with_nobody_anywhere_pages_nobody_and_says_so(policy):
    future = ScheduleLayer("weekly", datetime(2027, 2, 1, 9, 0), timedelta(weeks=1), ("eng_a",))
    chosen = with_schedule(policy, layers=[future])
    only_schedule = tuple(dataclasses.replace(step, contacts=("schedule:primary",))
                          for step in chosen.escalation.engineering)
    chosen = dataclasses.replace(chosen, escalation=dataclasses.replace(
        chosen.escalation, engineering=only_schedule))
    found = oncall.first_level(chosen, at(BERLIN_MONDAY_9))
    assert (found.level, found.people, found.skipped) == (None, (), ("L1", "L2", "L3", "L4"))
    changes = open_p0(chosen, at(BERLIN_MONDAY_9))
    assert phoned(changes) == []
    [empty] = [e for e in changes.events if e.kind == "schedule_empty"]
    assert empty.detail["paged_level"] is None


def test_a_fallback_level_only_counts_when_it_pages_the_incidents_priority(policy):
    # L4 pages P0 only: a P1 whose L3 is empty skips it and finds nobody further
    chosen = with_schedule(policy, layers=[ScheduleLayer(
        "weekly", datetime(2027, 2, 1, 9, 0), timedelta(weeks=1), ("eng_a",))])
    chain = tuple(dataclasses.replace(step, contacts=("schedule:primary",))
                  if step.level == "L3" else step for step in chosen.escalation.engineering)
    chosen = dataclasses.replace(chosen, escalation=dataclasses.replace(
        chosen.escalation, engineering=chain))
    found = oncall.level_people(chosen, chain, "L3", at(BERLIN_MONDAY_9), "P1")
    assert (found.level, found.skipped) == (None, ("L3",))
    assert oncall.level_people(chosen, chain, "L3", at(BERLIN_MONDAY_9), "P0").contacts == (
        "vp_engineering",)

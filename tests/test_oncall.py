"""On-call schedule resolution (policy.oncall): wall-clock rotations across DST, restrictions,
layers, overrides, gaps and handoffs, checked against exact UTC instants.

Every schedule here is in Europe/Berlin: CET (+1) until 2027-03-28 02:00, which jumps to 03:00
CEST (+2); CEST until 2027-10-31 03:00, which falls back to 02:00 CET. Local times are written
``L(...)`` (naive wall clock, as the model holds them) and instants ``Z(...)`` (UTC).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from policy.model import Restriction, Schedule, ScheduleLayer, ScheduleOverride
from policy.oncall import (
    MAX_SEARCH,
    Shift,
    gap_seconds,
    handoffs,
    on_call,
    schedule_ref,
    shifts,
)

TZ = "Europe/Berlin"
HOUR, DAY, WEEK = timedelta(hours=1), timedelta(days=1), timedelta(weeks=1)
EVERY_DAY = (0, 1, 2, 3, 4, 5, 6)
WEEKDAYS = (0, 1, 2, 3, 4)
WEEKEND = (5, 6)


def L(*fields: int) -> datetime:
    """A naive Europe/Berlin wall-clock time."""
    return datetime(*fields)


def Z(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=UTC)


def layer(name: str, start: datetime, every: timedelta, *people: str,
          restrictions: tuple[Restriction, ...] = ()) -> ScheduleLayer:
    return ScheduleLayer(name, start, every, people, restrictions)


def window(days: tuple[int, ...], start: str, end: str) -> Restriction:
    def minute(clock: str) -> int:
        hours, minutes = clock.split(":")
        return int(hours) * 60 + int(minutes)
    return Restriction(days, minute(start), minute(end))


def override(contact: str, start: datetime, end: datetime) -> ScheduleOverride:
    return ScheduleOverride(contact, start, end)


def schedule(*layers: ScheduleLayer, overrides: tuple[ScheduleOverride, ...] = ()) -> Schedule:
    return Schedule("primary", TZ, layers, overrides)


def S(contact: str | None, layer_name: str | None, start: datetime, end: datetime) -> Shift:
    return Shift("primary", contact, layer_name, start, end)


# Schedules several tables share.
WEEKLY_SPRING = schedule(layer("weekly", L(2027, 3, 22, 9), WEEK, "alice", "bob"))
DAY_LAYER = layer("day", L(2027, 6, 7, 9), WEEK, "alice", "bob")           # Mon 2027-06-07
NIGHTS = schedule(DAY_LAYER, layer("night", L(2027, 6, 1, 22), DAY, "nina", "omar",
                                   restrictions=(window(EVERY_DAY, "22:00", "06:00"),)))
FUTURE = schedule(layer("weekly", L(2027, 6, 9, 12), DAY, "alice", "bob"))  # 10:00 UTC
DAILY = layer("daily", L(2027, 6, 7, 9), DAY, "alice", "bob")               # 07:00 UTC
OSCAR = override("oscar", L(2027, 6, 8, 20), L(2027, 6, 9, 12))             # over the 09:00 handoff
OLGA = override("olga", L(2027, 6, 8, 22), L(2027, 6, 8, 23))
BUSINESS = layer("business", L(2027, 6, 1, 9), WEEK, "alice",
                 restrictions=(window(WEEKDAYS, "09:00", "17:00"),))
SATURDAYS = layer("saturday", L(2027, 1, 2, 0), WEEK, "alice",
                  restrictions=(window((5,), "00:00", "24:00"),))


@pytest.mark.parametrize(("sched", "start", "end", "expected"), [
    pytest.param(WEEKLY_SPRING, Z(2027, 3, 22, 8), Z(2027, 4, 5, 8), [
        S("alice", "weekly", Z(2027, 3, 22, 8), Z(2027, 3, 29, 7)),  # 167 hours
        S("bob", "weekly", Z(2027, 3, 29, 7), Z(2027, 4, 5, 7)),
        S("alice", "weekly", Z(2027, 4, 5, 7), Z(2027, 4, 5, 8)),
    ], id="a weekly 09:00 handoff stays at 09:00 local across the 2027-03-28 change in "
          "Europe/Berlin"),
    pytest.param(schedule(layer("weekly", L(2027, 10, 25, 9), WEEK, "alice", "bob")),
                 Z(2027, 10, 25, 7), Z(2027, 11, 8, 8), [
        S("alice", "weekly", Z(2027, 10, 25, 7), Z(2027, 11, 1, 8)),  # 169 hours
        S("bob", "weekly", Z(2027, 11, 1, 8), Z(2027, 11, 8, 8)),
    ], id="a weekly 09:00 handoff stays at 09:00 local across the 2027-10-31 change in "
          "Europe/Berlin"),
    pytest.param(schedule(layer("daily", L(2027, 3, 27, 9), DAY, "alice", "bob", "carol")),
                 Z(2027, 3, 27, 8), Z(2027, 3, 29, 7), [
        S("alice", "daily", Z(2027, 3, 27, 8), Z(2027, 3, 28, 7)),  # 23 hours
        S("bob", "daily", Z(2027, 3, 28, 7), Z(2027, 3, 29, 7)),
    ], id="a daily 09:00 rotation keeps 09:00 local and the shift over the spring change "
          "lasts 23 hours"),
    pytest.param(schedule(layer("daily", L(2027, 10, 30, 9), DAY, "alice", "bob", "carol")),
                 Z(2027, 10, 30, 7), Z(2027, 11, 1, 8), [
        S("alice", "daily", Z(2027, 10, 30, 7), Z(2027, 10, 31, 8)),  # 25 hours
        S("bob", "daily", Z(2027, 10, 31, 8), Z(2027, 11, 1, 8)),
    ], id="a daily 09:00 rotation keeps 09:00 local and the shift over the autumn change "
          "lasts 25 hours"),
    pytest.param(schedule(layer("daily", L(2027, 3, 26, 2, 30), DAY, "alice", "bob")),
                 Z(2027, 3, 27, 0), Z(2027, 3, 29, 1), [
        S("alice", "daily", Z(2027, 3, 27, 0), Z(2027, 3, 27, 1, 30)),
        S("bob", "daily", Z(2027, 3, 27, 1, 30), Z(2027, 3, 28, 1, 30)),
        S("alice", "daily", Z(2027, 3, 28, 1, 30), Z(2027, 3, 29, 0, 30)),
        S("bob", "daily", Z(2027, 3, 29, 0, 30), Z(2027, 3, 29, 1)),
    ], id="a 02:30 handoff on 2027-03-28, a time that does not exist, happens at 01:30 UTC "
          "(fold=0: the offset before the change)"),
    pytest.param(schedule(layer("daily", L(2027, 3, 26, 2, 50), DAY, "alice", "bob")),
                 Z(2027, 3, 28, 1, 45), Z(2027, 3, 28, 2), [
        S("bob", "daily", Z(2027, 3, 28, 1, 45), Z(2027, 3, 28, 1, 50)),
        S("alice", "daily", Z(2027, 3, 28, 1, 50), Z(2027, 3, 28, 2)),
    ], id="a window opening at 03:45 CEST, after the skipped 02:50 on the wall clock but before "
          "its fold=0 instant (01:50 UTC), still starts with the shift before it"),
    pytest.param(schedule(layer("daily", L(2027, 10, 30, 2, 30), DAY, "alice", "bob")),
                 Z(2027, 10, 30, 0, 30), Z(2027, 11, 1, 1, 30), [
        S("alice", "daily", Z(2027, 10, 30, 0, 30), Z(2027, 10, 31, 0, 30)),
        S("bob", "daily", Z(2027, 10, 31, 0, 30), Z(2027, 11, 1, 1, 30)),
    ], id="a 02:30 handoff on 2027-10-31, a time that occurs twice, happens at its first "
          "occurrence (fold=0)"),
    pytest.param(schedule(layer("daily", L(2027, 10, 29, 2, 20), DAY, "alice", "bob")),
                 Z(2027, 10, 31, 0), Z(2027, 10, 31, 1, 10), [
        S("bob", "daily", Z(2027, 10, 31, 0), Z(2027, 10, 31, 0, 20)),
        S("alice", "daily", Z(2027, 10, 31, 0, 20), Z(2027, 10, 31, 1, 10)),
    ], id="a window closing at the second 02:10, before 02:20 on the wall clock but after "
          "02:20's first occurrence, includes the shift begun at that first occurrence"),
    pytest.param(schedule(layer("half-hourly", L(2027, 3, 28, 1), timedelta(minutes=30),
                                "a", "b", "c", "d")),
                 Z(2027, 3, 28, 0), Z(2027, 3, 28, 2), [
        S("a", "half-hourly", Z(2027, 3, 28, 0), Z(2027, 3, 28, 0, 30)),
        S("b", "half-hourly", Z(2027, 3, 28, 0, 30), Z(2027, 3, 28, 1)),
        S("a", "half-hourly", Z(2027, 3, 28, 1), Z(2027, 3, 28, 1, 30)),
        S("b", "half-hourly", Z(2027, 3, 28, 1, 30), Z(2027, 3, 28, 2)),
    ], id="half-hourly handoffs at 02:00 and 02:30 on 2027-03-28 never run: 03:00 starts no "
          "later than they would"),
    pytest.param(NIGHTS, Z(2027, 6, 7, 22), Z(2027, 6, 8, 22), [
        S("nina", "night", Z(2027, 6, 7, 22), Z(2027, 6, 8, 4)),
        S("alice", "day", Z(2027, 6, 8, 4), Z(2027, 6, 8, 20)),
        S("omar", "night", Z(2027, 6, 8, 20), Z(2027, 6, 8, 22)),
    ], id="a 22:00-06:00 restriction spans midnight: the night layer covers 22:00 to 06:00 "
          "local and names whoever its rotation has then"),
    pytest.param(schedule(DAY_LAYER, layer("night", L(2027, 6, 1, 22), WEEK, "nina",
                                           restrictions=(window((4,), "22:00", "06:00"),))),
                 Z(2027, 6, 10, 22), Z(2027, 6, 12, 22), [
        S("alice", "day", Z(2027, 6, 10, 22), Z(2027, 6, 11, 20)),
        S("nina", "night", Z(2027, 6, 11, 20), Z(2027, 6, 12, 4)),
        S("alice", "day", Z(2027, 6, 12, 4), Z(2027, 6, 12, 22)),
    ], id="a Friday-only 22:00-06:00 window runs into Saturday 06:00 and not again on Saturday "
          "night"),
    pytest.param(schedule(layer("weekly", L(2027, 6, 7, 9), WEEK, "alice", "bob", "carol"),
                          layer("weekend", L(2027, 6, 5, 0), WEEK, "wendy", "walt",
                                restrictions=(window(WEEKEND, "00:00", "24:00"),))),
                 Z(2027, 6, 7, 7), Z(2027, 6, 14, 7), [
        S("alice", "weekly", Z(2027, 6, 7, 7), Z(2027, 6, 11, 22)),
        S("walt", "weekend", Z(2027, 6, 11, 22), Z(2027, 6, 13, 22)),
        S("alice", "weekly", Z(2027, 6, 13, 22), Z(2027, 6, 14, 7)),
    ], id="the issue's weekend cover (days sat, sun 00:00-24:00) takes over a weekly layer from "
          "Saturday 00:00 to Monday 00:00 local"),
    pytest.param(schedule(layer("base", L(2027, 6, 1, 9), DAY, "alice"),
                          layer("top", L(2027, 6, 9, 12), WEEK, "zoe")),
                 Z(2027, 6, 9, 0), Z(2027, 6, 10, 0), [
        S("alice", "base", Z(2027, 6, 9, 0), Z(2027, 6, 9, 10)),
        S("zoe", "top", Z(2027, 6, 9, 10), Z(2027, 6, 10, 0)),
    ], id="where two unrestricted layers overlap, the later layer wins from its start"),
    pytest.param(schedule(layer("top", L(2027, 6, 9, 12), WEEK, "zoe"),
                          layer("base", L(2027, 6, 1, 9), DAY, "alice")),
                 Z(2027, 6, 9, 0), Z(2027, 6, 10, 0), [
        S("alice", "base", Z(2027, 6, 9, 0), Z(2027, 6, 10, 0)),
    ], id="the same two layers in the other order: the later one, alice's, covers the whole day"),
    pytest.param(schedule(DAILY, overrides=(OSCAR,)), Z(2027, 6, 8, 7), Z(2027, 6, 9, 15), [
        S("bob", "daily", Z(2027, 6, 8, 7), Z(2027, 6, 8, 18)),
        S("oscar", "override", Z(2027, 6, 8, 18), Z(2027, 6, 9, 10)),
        S("alice", "daily", Z(2027, 6, 9, 10), Z(2027, 6, 9, 15)),
    ], id="an override from 20:00 to 12:00 the next day, over a 09:00 handoff, leaves three "
          "pieces"),
    pytest.param(schedule(DAILY, overrides=(OSCAR, OLGA)), Z(2027, 6, 8, 7), Z(2027, 6, 9, 15), [
        S("bob", "daily", Z(2027, 6, 8, 7), Z(2027, 6, 8, 18)),
        S("oscar", "override", Z(2027, 6, 8, 18), Z(2027, 6, 8, 20)),
        S("olga", "override", Z(2027, 6, 8, 20), Z(2027, 6, 8, 21)),
        S("oscar", "override", Z(2027, 6, 8, 21), Z(2027, 6, 9, 10)),
        S("alice", "daily", Z(2027, 6, 9, 10), Z(2027, 6, 9, 15)),
    ], id="a later override wins over an earlier one where they overlap"),
    pytest.param(schedule(DAILY, overrides=(OLGA, OSCAR)), Z(2027, 6, 8, 7), Z(2027, 6, 9, 15), [
        S("bob", "daily", Z(2027, 6, 8, 7), Z(2027, 6, 8, 18)),
        S("oscar", "override", Z(2027, 6, 8, 18), Z(2027, 6, 9, 10)),
        S("alice", "daily", Z(2027, 6, 9, 10), Z(2027, 6, 9, 15)),
    ], id="the same overrides in the other order: the later, oscar's, hides olga's"),
    pytest.param(schedule(DAILY, overrides=(override("alice", L(2027, 6, 8, 12),
                                                     L(2027, 6, 8, 14)),)),
                 Z(2027, 6, 7, 7), Z(2027, 6, 8, 7), [
        S("alice", "daily", Z(2027, 6, 7, 7), Z(2027, 6, 8, 7)),
    ], id="an override outside the window changes nothing inside it"),
    pytest.param(schedule(BUSINESS, overrides=(override("oscar", L(2027, 6, 12, 10),
                                                        L(2027, 6, 12, 12)),)),
                 Z(2027, 6, 11, 22), Z(2027, 6, 12, 22), [
        S(None, None, Z(2027, 6, 11, 22), Z(2027, 6, 12, 8)),
        S("oscar", "override", Z(2027, 6, 12, 8), Z(2027, 6, 12, 10)),
        S(None, None, Z(2027, 6, 12, 10), Z(2027, 6, 12, 22)),
    ], id="an override on a Saturday covers part of a weekday-only layer's gap"),
    pytest.param(FUTURE, Z(2027, 6, 9, 0), Z(2027, 6, 11, 0), [
        S(None, None, Z(2027, 6, 9, 0), Z(2027, 6, 9, 10)),
        S("alice", "weekly", Z(2027, 6, 9, 10), Z(2027, 6, 10, 10)),
        S("bob", "weekly", Z(2027, 6, 10, 10), Z(2027, 6, 11, 0)),
    ], id="a rotation whose start lies in the future covers nobody until its start"),
    pytest.param(schedule(layer("solo", L(2027, 6, 1, 9), DAY, "alice")),
                 Z(2027, 6, 7, 0), Z(2027, 6, 10, 0), [
        S("alice", "solo", Z(2027, 6, 7, 0), Z(2027, 6, 10, 0)),
    ], id="consecutive shifts of a single participant merge into one"),
    pytest.param(schedule(DAILY, overrides=(override("alice", L(2027, 6, 7, 12),
                                                     L(2027, 6, 7, 14)),)),
                 Z(2027, 6, 7, 7), Z(2027, 6, 8, 7), [
        S("alice", "daily", Z(2027, 6, 7, 7), Z(2027, 6, 7, 10)),
        S("alice", "override", Z(2027, 6, 7, 10), Z(2027, 6, 7, 12)),
        S("alice", "daily", Z(2027, 6, 7, 12), Z(2027, 6, 8, 7)),
    ], id="an override for the person already on call is a piece of its own (the layer "
          "differs)"),
])
def test_shifts_resolve_the_schedule(sched, start, end, expected) -> None:
    assert shifts(sched, start, end) == expected


@pytest.mark.parametrize(("sched", "at", "expected"), [
    pytest.param(WEEKLY_SPRING, Z(2027, 3, 25, 12),
                 S("alice", "weekly", Z(2027, 3, 22, 8), Z(2027, 3, 29, 7)),
                 id="mid-week on a weekly rotation, since and until are the 09:00 local "
                    "handoffs, an hour apart in UTC across the spring change"),
    pytest.param(WEEKLY_SPRING, Z(2027, 3, 29, 7),
                 S("bob", "weekly", Z(2027, 3, 29, 7), Z(2027, 4, 5, 7)),
                 id="at the very instant of a handoff the incoming person is on call"),
    pytest.param(WEEKLY_SPRING, datetime(2027, 3, 29, 8, 59, tzinfo=ZoneInfo(TZ)),
                 S("alice", "weekly", Z(2027, 3, 22, 8), Z(2027, 3, 29, 7)),
                 id="an instant given in another zone is read as that instant, the answer "
                    "is in UTC"),
    pytest.param(NIGHTS, Z(2027, 6, 8, 1),
                 S("nina", "night", Z(2027, 6, 7, 20), Z(2027, 6, 8, 4)),
                 id="inside a 22:00-06:00 window, since is 22:00 and until 06:00 local"),
    pytest.param(schedule(DAILY, overrides=(OSCAR,)), Z(2027, 6, 9, 12),
                 S("alice", "daily", Z(2027, 6, 9, 10), Z(2027, 6, 10, 7)),
                 id="after an override the rotation's person is on call since the override "
                    "ended"),
    pytest.param(FUTURE, Z(2027, 6, 9, 5),
                 S(None, None, Z(2027, 6, 9, 5) - MAX_SEARCH, Z(2027, 6, 9, 10)),
                 id="before a rotation starts it is a gap, since the 90-day search limit, "
                    "until the rotation's start"),
    pytest.param(schedule(layer("solo", L(2027, 1, 4, 9), DAY, "alice")), Z(2027, 6, 9, 12),
                 S("alice", "solo", Z(2027, 6, 9, 12) - MAX_SEARCH,
                   Z(2027, 6, 9, 12) + MAX_SEARCH),
                 id="a single participant's stretch is clamped 90 days either way"),
])
def test_on_call_names_the_person_and_the_true_bounds(sched, at, expected) -> None:
    assert on_call(sched, at) == expected


@pytest.mark.parametrize(("sched", "start", "end", "expected"), [
    pytest.param(schedule(layer("daily", L(2027, 6, 7, 9), DAY, "alice", "bob", "carol")),
                 Z(2027, 6, 7, 7), Z(2027, 6, 10, 7), [
        S("bob", "daily", Z(2027, 6, 8, 7), Z(2027, 6, 9, 7)),
        S("carol", "daily", Z(2027, 6, 9, 7), Z(2027, 6, 10, 7)),
        S("alice", "daily", Z(2027, 6, 10, 7), Z(2027, 6, 11, 7)),
    ], id="a handoff at exactly end counts, one at exactly start does not, and the last keeps "
          "its true end"),
    pytest.param(schedule(BUSINESS, overrides=(override("alice", L(2027, 6, 7, 17),
                                                        L(2027, 6, 7, 18)),)),
                 Z(2027, 6, 7, 6), Z(2027, 6, 8, 10), [
        S("alice", "business", Z(2027, 6, 7, 7), Z(2027, 6, 7, 15)),
        S("alice", "business", Z(2027, 6, 8, 7), Z(2027, 6, 8, 15)),
    ], id="a person coming on after a gap is a handoff; the same person moving on to an "
          "override is not"),
    pytest.param(schedule(DAILY, overrides=(OSCAR,)), Z(2027, 6, 8, 0), Z(2027, 6, 9, 12), [
        S("bob", "daily", Z(2027, 6, 8, 7), Z(2027, 6, 8, 18)),
        S("oscar", "override", Z(2027, 6, 8, 18), Z(2027, 6, 9, 10)),
        S("alice", "daily", Z(2027, 6, 9, 10), Z(2027, 6, 10, 7)),
    ], id="an override taking over is a handoff, and so is the rotation taking back"),
    pytest.param(schedule(layer("solo", L(2027, 6, 9, 12), DAY, "alice")),
                 Z(2027, 6, 9), Z(2027, 6, 10), [
        S("alice", "solo", Z(2027, 6, 9, 10), Z(2027, 6, 9, 10) + MAX_SEARCH),
    ], id="a handoff to someone on call for good ends at the 90-day search limit"),
    pytest.param(FUTURE, Z(2027, 6, 9, 10), Z(2027, 6, 10, 9), [],
                 id="no shift begins inside the window: no handoff"),
])
def test_handoffs_are_the_people_taking_over(sched, start, end, expected) -> None:
    assert handoffs(sched, start, end) == expected


@pytest.mark.parametrize(("sched", "start", "end", "expected"), [
    pytest.param(schedule(BUSINESS), Z(2027, 6, 6, 22), Z(2027, 6, 7, 22), 16 * 3600.0,
                 id="a weekday 09:00-17:00 layer leaves 16 hours of a Monday uncovered"),
    pytest.param(schedule(SATURDAYS), Z(2027, 3, 26, 23), Z(2027, 3, 28, 22), 23 * 3600.0,
                 id="a Saturday-only layer leaves Sunday 2027-03-28 uncovered, 23 hours long"),
    pytest.param(schedule(SATURDAYS), Z(2027, 10, 29, 22), Z(2027, 10, 31, 23), 25 * 3600.0,
                 id="a Saturday-only layer leaves Sunday 2027-10-31 uncovered, 25 hours long"),
    pytest.param(FUTURE, Z(2027, 6, 9, 0), Z(2027, 6, 10, 0), 10 * 3600.0,
                 id="a rotation starting in the future leaves the time before it as a gap"),
    pytest.param(schedule(), Z(2027, 3, 23), Z(2027, 3, 24), 86400.0,
                 id="a schedule without layers is one gap"),
    pytest.param(WEEKLY_SPRING, Z(2027, 3, 23), Z(2027, 4, 23), 0.0,
                 id="an unrestricted rotation that has started leaves no gap"),
])
def test_gap_seconds_counts_the_time_nobody_is_on_call(sched, start, end, expected) -> None:
    assert gap_seconds(sched, start, end) == expected


def test_a_window_of_exactly_90_days_is_resolved() -> None:
    result = shifts(WEEKLY_SPRING, Z(2027, 3, 1), Z(2027, 3, 1) + MAX_SEARCH)
    assert result[0] == S(None, None, Z(2027, 3, 1), Z(2027, 3, 22, 8))
    assert result[-1].end == Z(2027, 5, 30)


@pytest.mark.parametrize(("start", "end", "message"), [
    pytest.param(Z(2027, 3, 1), Z(2027, 3, 1) + MAX_SEARCH + timedelta(seconds=1), "more than 90",
                 id="a window a second longer than 90 days is rejected"),
    pytest.param(Z(2027, 3, 1), Z(2027, 3, 1), "end after it starts",
                 id="an empty window is rejected"),
    pytest.param(Z(2027, 3, 2), Z(2027, 3, 1), "end after it starts",
                 id="a window ending before it starts is rejected"),
    pytest.param(datetime(2027, 3, 1), Z(2027, 3, 2), "aware",
                 id="a naive start is rejected: it would be a guess at the zone"),
])
def test_shifts_rejects_a_bad_window(start, end, message) -> None:
    with pytest.raises(ValueError, match=message):
        shifts(WEEKLY_SPRING, start, end)
    with pytest.raises(ValueError, match=message):
        gap_seconds(WEEKLY_SPRING, start, end)


def test_a_layer_without_participants_is_rejected_by_name() -> None:
    empty = schedule(layer("empty", L(2027, 6, 1, 9), WEEK))
    with pytest.raises(ValueError, match="'empty'"):
        shifts(empty, Z(2027, 6, 2), Z(2027, 6, 3))


@pytest.mark.parametrize(("reference", "expected"), [
    pytest.param("schedule:primary", "primary", id="a schedule reference names the schedule"),
    pytest.param("alice", None, id="a plain contact key is no schedule reference"),
    pytest.param("schedules:primary", None, id="only the exact prefix makes a reference"),
])
def test_schedule_ref(reference, expected) -> None:
    assert schedule_ref(reference) == expected


def test_a_schedule_reference_without_a_name_is_rejected() -> None:
    with pytest.raises(ValueError, match="needs a schedule name"):
        schedule_ref("schedule:")

"""policy.oncall's shifts cross-checked against a per-instant reference: who is on call,
straight from the definitions, one instant at a time, around both Europe/Berlin DST changes
(the schedule helpers and their conventions are tests/test_oncall.py's)."""

from __future__ import annotations

import bisect
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from policy.model import Schedule, ScheduleLayer
from policy.oncall import on_call, shifts
from tests.test_oncall import (
    DAY,
    HOUR,
    TZ,
    WEEK,
    WEEKDAYS,
    WEEKEND,
    L,
    layer,
    override,
    schedule,
    window,
)


def _utc(local: datetime) -> datetime:
    return local.replace(tzinfo=ZoneInfo(TZ)).astimezone(UTC)


def _midnight(day) -> datetime:
    return datetime.combine(day, datetime.min.time())


def _reference(sched: Schedule, t: datetime) -> tuple[str | None, str | None]:
    """Who is on call at ``t``, straight from the definitions, one instant at a time."""
    for o in reversed(sched.overrides):
        if _utc(o.start) <= t < _utc(o.end):
            return o.contact, "override"
    local_day = t.astimezone(ZoneInfo(TZ)).date()
    for lay in reversed(sched.layers):
        started = None  # the highest-numbered shift that has started is on
        k = 0
        while lay.start + k * lay.rotate_every <= _midnight(local_day) + 3 * DAY:
            if _utc(lay.start + k * lay.rotate_every) <= t:
                started = k
            k += 1
        if started is None or (lay.restrictions and not _in_window(lay, t, local_day)):
            continue
        return lay.participants[started % len(lay.participants)], lay.name
    return None, None


def _in_window(lay: ScheduleLayer, t: datetime, local_day) -> bool:
    for day in (local_day + d * DAY for d in (-2, -1, 0, 1)):
        for r in lay.restrictions:
            end_day = day + DAY if r.end_minute <= r.start_minute else day
            if day.weekday() in r.days and (
                    _utc(_midnight(day) + timedelta(minutes=r.start_minute)) <= t
                    < _utc(_midnight(end_day) + timedelta(minutes=r.end_minute))):
                return True
    return False


def _busy_schedule(base: datetime) -> Schedule:
    """Three layers and overlapping overrides around the DST change on ``base`` (a Sunday)."""
    monday = base - 13 * DAY + 9 * HOUR
    return schedule(
        layer("weekly", monday, WEEK, "alice", "bob", "carol"),
        layer("nights", base - 8 * DAY + 2 * HOUR, 12 * HOUR, "nina", "omar", "pat",
              restrictions=(window(WEEKDAYS, "20:00", "08:00"),)),
        layer("weekend", base - 15 * DAY, WEEK, "wendy", "walt",
              restrictions=(window(WEEKEND, "00:00", "24:00"),)),
        layer("small-hours", base - 3 * DAY + timedelta(hours=2, minutes=30), DAY, "sam", "sue",
              restrictions=(window((6,), "01:00", "04:00"),)),
        overrides=(override("oscar", base - DAY + 20 * HOUR, base + timedelta(minutes=30)),
                   override("olga", base + 3 * HOUR, base + timedelta(hours=3, minutes=30)),
                   override("otto", base + 2 * DAY + 12 * HOUR, base + 3 * DAY + 9 * HOUR)),
    )


@pytest.mark.parametrize("base", [
    pytest.param(L(2027, 3, 28), id="around the spring change"),
    pytest.param(L(2027, 10, 31), id="around the autumn change"),
])
def test_shifts_agree_with_a_per_instant_reference(base: datetime) -> None:
    sched = _busy_schedule(base)
    lo, hi = _utc(base - 5 * DAY), _utc(base + 5 * DAY)
    result = shifts(sched, lo, hi)
    assert result[0].start == lo and result[-1].end == hi
    for prev, cur in pairwise(result):
        assert prev.end == cur.start
        assert (prev.contact, prev.layer) != (cur.contact, cur.layer)  # merged
    for s in result:  # each shift's first and last microsecond, and on_call in its middle
        assert _reference(sched, s.start) == (s.contact, s.layer), s
        assert _reference(sched, s.end - timedelta(microseconds=1)) == (s.contact, s.layer), s
        if lo < s.start and s.end < hi:
            assert on_call(sched, s.start + (s.end - s.start) / 2) == s
    starts = [s.start for s in result]
    t = lo
    while t < hi:  # and every 7 min 13 s in between
        s = result[bisect.bisect_right(starts, t) - 1]
        assert _reference(sched, t) == (s.contact, s.layer), (t, s)
        t += timedelta(minutes=7, seconds=13)

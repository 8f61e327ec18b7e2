"""What a loaded policy's on-call schedules will not cover: gaps, found at load time.

``schedule_warnings(policy, now)`` names, for each schedule with nobody on call at some point
in the ``GAP_HORIZON`` after ``now``, its first such gap in the schedule's local time: the
lines ``callwatch render`` and the receiver's start-up log show beside the policy's own
warnings. ``local_time`` is the one way a schedule instant is written for people ("Mon 19 Jan
2026 09:00 CET (Europe/Berlin)"); the receiver's handoff notices use it too. Pure: ``now`` is
passed in, nothing is read.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from policy.durations import format_duration
from policy.model import Policy
from policy.oncall import MAX_SEARCH, on_call, shifts

GAP_HORIZON = timedelta(days=14)   # how far ahead a gap is looked for (and gauged)
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def schedule_warnings(policy: Policy, now: datetime) -> tuple[str, ...]:
    """One line per schedule that has nobody on call somewhere in [now, now + GAP_HORIZON):
    the policy file, the schedule, its first gap's local start (``now`` if it has begun) and
    end (past the horizon if it lasts), and how much of the horizon is uncovered. ``now`` must
    be aware."""
    found = []
    for name in sorted(policy.schedules):
        schedule = policy.schedules[name]
        window = shifts(schedule, now, now + GAP_HORIZON)
        gaps = [s for s in window if s.contact is None]
        if not gaps:
            continue
        total = sum((s.end - s.start).total_seconds() for s in gaps)
        uncovered = format_duration(round(total / 60) * 60)   # to the minute
        start = gaps[0].start                       # ``now`` when the gap has begun
        # its true end (not clipped to the horizon); none found within the search: "at least"
        end = on_call(schedule, start).end
        until = " at least" if end >= start + MAX_SEARCH else ""
        found.append(
            f"{policy.source}: schedules.{name}: nobody is on call from "
            f"{local_time(start, schedule.timezone)} to{until} "
            f"{local_time(end, schedule.timezone)} ({uncovered} uncovered in the next "
            f"{GAP_HORIZON.days} days); pages to schedule:{name} then go to the next "
            "escalation level")
    return tuple(found)


def local_time(at: datetime, timezone: str) -> str:
    """``at`` (aware) on the wall clock of ``timezone``: "Mon 19 Jan 2026 09:00 CET
    (Europe/Berlin)"; the zone's name is left out where it is its abbreviation ("UTC").
    English names whatever the process locale."""
    local = at.astimezone(ZoneInfo(timezone))
    abbreviation = local.tzname() or ""
    zone = abbreviation if abbreviation == timezone else f"{abbreviation} ({timezone})".strip()
    return (f"{_DAYS[local.weekday()]} {local.day:02d} {_MONTHS[local.month - 1]} "
            f"{local.year} {local:%H:%M} {zone}")

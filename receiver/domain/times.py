"""Time helpers: RFC 3339 text of a Unix time, and the next moment a wall clock shows HH:MM.

``next_local_time`` is the one place that answers "when is it next 09:00 in Europe/Berlin"
(the daily digest's send time), daylight-saving changes included.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def iso(ts: float | None) -> str | None:
    """Unix seconds as RFC 3339 UTC with milliseconds ("2026-11-27T03:00:00.123Z"); None stays."""
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="milliseconds") \
        .replace("+00:00", "Z")


def next_local_time(now: dt.datetime, send_at: str, timezone: str) -> dt.datetime:
    """The first moment strictly after ``now`` whose wall clock in ``timezone`` reads ``send_at``.

    ``now`` must be timezone-aware; the result is aware, in UTC (a local datetime inside an
    autumn repeat compares unequal to every other zone's datetimes, PEP 495). A ``send_at`` that
    does not exist on a day (inside a spring-forward gap) fires at the same instant the clock
    would have shown it (e.g. 02:30 in a 02:00→03:00 gap is 03:30 local); in an autumn repeat it
    fires at the first occurrence only. Raises ValueError on a naive ``now``, a bad time or zone.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    hour, minute = parse_send_at(send_at)
    tz = zone(timezone)
    local_day = now.astimezone(tz).date()
    for offset in range(3):
        day = local_day + dt.timedelta(days=offset)
        wall = dt.datetime.combine(day, dt.time(hour, minute), tzinfo=tz)
        # In UTC: normalises wall times in a DST gap, and compares safely.
        candidate = wall.astimezone(dt.UTC)
        if candidate > now:
            return candidate
    raise AssertionError("unreachable: a send time exists within three days")


def next_local_timestamp(now: float, send_at: str, timezone: str) -> float:
    """``next_local_time`` for Unix seconds."""
    moment = dt.datetime.fromtimestamp(now, dt.UTC)
    return next_local_time(moment, send_at, timezone).timestamp()


def parse_send_at(send_at: str) -> tuple[int, int]:
    """"HH:MM" → (hour, minute); ValueError otherwise."""
    try:
        hour_text, minute_text = send_at.split(":")
        hour, minute = int(hour_text), int(minute_text)
    except ValueError:
        raise ValueError(f"send_at must be HH:MM, got {send_at!r}") from None
    if not (0 <= hour < 24 and 0 <= minute < 60 and len(hour_text) == 2 and len(minute_text) == 2):
        raise ValueError(f"send_at must be HH:MM, got {send_at!r}")
    return hour, minute


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {name!r}") from None

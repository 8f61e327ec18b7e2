"""Who is on call, shaped for ``GET /oncall``, its shifts and calendar feed, and the CLI.

Pure: the caller passes ``now`` (the receiver's clock, or the CLI's) and the policy; the
answers come from ``policy.oncall``. Every instant in a body is RFC 3339 UTC with milliseconds,
as in the incident API (``receiver.domain.times.iso``).

Input rules, the same for every route and the CLI (``parse_instant``): an instant is ISO 8601
with a UTC offset or ``Z`` (``2027-01-15T09:00:00Z``, ``2027-01-15T10:00+01:00``). A time
without one is rejected, not guessed: the schedules' own times are local to their zone, so a
bare ``09:00`` would be ambiguous. A ``+`` sent unencoded in a query string arrives as a space
(``10:00 01:00``); that one form is read as the ``+`` it was. Bad input raises ``BadQuery``
(the field and the problem), an unknown schedule or contact ``Unknown``; the HTTP layer makes
them 400 and 404.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from policy.model import Policy, Schedule
from policy.oncall import MAX_SEARCH, Shift, on_call, shifts
from receiver.domain.times import iso

MAX_SPAN = MAX_SEARCH                   # the longest from..to one request may ask for (90 days)
DEFAULT_SPAN = timedelta(days=14)       # ``to`` when only ``from`` (or nothing) is given
FEED_PAST = timedelta(days=30)          # the calendar feed: shifts from now - 30 days ...
FEED_AHEAD = timedelta(days=90)         # ... to now + 90 days
# Instants far outside any schedule's life would only overflow datetime arithmetic.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
_TICK = timedelta(microseconds=1)
# "2027-01-15T10:00:00 01:00": an offset whose "+" a query string decoded into a space
_SPACED_OFFSET = re.compile(r"^(.*T\d\d:\d\d(?::\d\d(?:\.\d+)?)?) (\d\d(?::?\d\d)?)$")


class BadQuery(ValueError):
    """An input the caller must fix: ``field`` (the query parameter) and the problem."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class Unknown(LookupError):
    """A schedule or contact the policy does not have."""

    def __init__(self, what: str, name: str) -> None:
        super().__init__(f"no {what} named {name[:80]!r}")


@dataclass(frozen=True)
class CalendarEvent:
    """One shift of one contact as a calendar entry (``GET /oncall/{schedule}.ics``)."""

    uid: str            # stable for (schedule, contact, start): a re-fetch updates, never adds
    summary: str        # "On call: primary (weekly)"
    start: datetime     # aware UTC, the shift's true start (not clipped to the feed's window)
    end: datetime       # aware UTC, likewise


# -- input --------------------------------------------------------------------------------
def parse_instant(text: str, field: str) -> datetime:
    """``text`` (ISO 8601 with an offset) as an aware UTC datetime; BadQuery otherwise."""
    raw = text.strip()
    repaired = _SPACED_OFFSET.sub(r"\1+\2", raw)
    try:
        value = datetime.fromisoformat(repaired)
    except ValueError:
        raise BadQuery(field, f"not an ISO 8601 time: {raw[:60]!r} "
                              "(e.g. 2027-01-15T09:00:00Z)") from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise BadQuery(field, f"{raw[:60]!r} has no UTC offset; add Z or +HH:MM "
                              "(e.g. 2027-01-15T09:00:00Z)")
    value = value.astimezone(UTC)
    if not EARLIEST <= value < LATEST:
        raise BadQuery(field, f"must be from {EARLIEST.year} to before {LATEST.year}")
    return value


def window(now: datetime, start_text: str | None, end_text: str | None
           ) -> tuple[datetime, datetime]:
    """The ``from``/``to`` window: ``from`` defaults to ``now``, ``to`` to ``from`` + 14 days;
    BadQuery (naming the field) when malformed, ``to`` not after ``from``, or over 90 days."""
    start = parse_instant(start_text, "from") if start_text else now
    end = parse_instant(end_text, "to") if end_text else start + DEFAULT_SPAN
    if end <= start:
        raise BadQuery("to", f"must be after from ({iso(start.timestamp())})")
    if end - start > MAX_SPAN:
        raise BadQuery("to", f"at most {MAX_SPAN.days} days from `from` per request, "
                             f"asked for {_days(end - start)}")
    return start, end


def schedule(policy: Policy, name: str) -> Schedule:
    found = policy.schedules.get(name)
    if found is None:
        raise Unknown("schedule", name)
    return found


def contact(policy: Policy, key: str | None) -> str:
    if not key:
        raise BadQuery("contact", "required: the contact key whose shifts the feed lists")
    if key not in policy.contacts:
        raise Unknown("contact", key)
    return key


# -- bodies -------------------------------------------------------------------------------
def oncall_body(policy: Policy, at: datetime, only: str | None = None) -> dict[str, Any]:
    """``GET /oncall``: who is on call at ``at`` in every schedule (or in ``only``).

    ``since`` / ``until`` are where that stretch (same contact, same layer) began and ends;
    each is null when it lies more than 90 days from ``at`` (``on_call`` searches no further).
    """
    names = [schedule(policy, only).name] if only else sorted(policy.schedules)
    return {"at": _iso(at),
            "schedules": {name: _now_json(policy, on_call(policy.schedules[name], at), at)
                          for name in names}}


def shifts_body(policy: Policy, name: str, start: datetime, end: datetime) -> dict[str, Any]:
    """``GET /oncall/{schedule}/shifts``: the shifts covering [start, end), overrides applied,
    the first and last clipped to the window, a gap as contact null."""
    found = schedule(policy, name)
    return {"schedule": found.name, "timezone": found.timezone,
            "from": _iso(start), "to": _iso(end),
            "shifts": [_shift_json(policy, s) for s in shifts(found, start, end)]}


def calendar_events(policy: Policy, name: str, key: str, now: datetime) -> list[CalendarEvent]:
    """The calendar feed: ``key``'s shifts in ``name`` overlapping [now - 30 d, now + 90 d),
    each with its true bounds, so an event and its UID stay the same from one fetch to the
    next as the window slides."""
    found = schedule(policy, name)
    return [CalendarEvent(uid=_uid(found.name, key, s.start),
                          summary=f"On call: {found.name} ({s.layer})",
                          start=s.start, end=s.end)
            for s in _unclipped(found, now - FEED_PAST, now + FEED_AHEAD) if s.contact == key]


def _unclipped(found: Schedule, lo: datetime, hi: datetime) -> list[Shift]:
    """Every stretch overlapping [lo, hi) (which may exceed 90 days: asked in pieces, joined),
    the first and last with their true bounds (as far as ``on_call`` searches)."""
    out: list[Shift] = []
    cursor = lo
    while cursor < hi:
        piece_end = min(cursor + MAX_SPAN, hi)
        for s in shifts(found, cursor, piece_end):
            if out and (out[-1].contact, out[-1].layer) == (s.contact, s.layer):
                out[-1] = Shift(s.schedule, s.contact, s.layer, out[-1].start, s.end)
            else:
                out.append(s)
        cursor = piece_end
    first, last = on_call(found, lo), on_call(found, hi - _TICK)
    out[0] = Shift(found.name, out[0].contact, out[0].layer, first.start, out[0].end)
    out[-1] = Shift(found.name, out[-1].contact, out[-1].layer, out[-1].start, last.end)
    return out


def _now_json(policy: Policy, shift: Shift, at: datetime) -> dict[str, Any]:
    return {"contact": shift.contact, "name": _name(policy, shift.contact),
            "layer": shift.layer,
            "since": None if shift.start <= at - MAX_SEARCH else _iso(shift.start),
            "until": None if shift.end >= at + MAX_SEARCH else _iso(shift.end)}


def _shift_json(policy: Policy, shift: Shift) -> dict[str, Any]:
    return {"contact": shift.contact, "name": _name(policy, shift.contact), "layer": shift.layer,
            "start": _iso(shift.start), "end": _iso(shift.end)}


def _name(policy: Policy, key: str | None) -> str | None:
    person = policy.contacts.get(key) if key else None
    return person.name if person is not None else None


def _uid(name: str, key: str, start: datetime) -> str:
    return f"{name}.{key}.{start.astimezone(UTC):%Y%m%dT%H%M%SZ}@callwatch"


def _iso(at: datetime) -> str:
    return iso(at.timestamp()) or ""


def _days(span: timedelta) -> str:
    days = span / timedelta(days=1)
    return f"{days:g} days" if days == int(days) else f"{days:.2f} days"

"""Who is on call when: an on-call ``Schedule`` (``policy.model``) resolved as pure functions.

No clock is read and nothing is fetched: every answer follows from the schedule and the
instants passed in. Instants passed in are aware datetimes (any zone); every one returned is
aware UTC. The schedule's own datetimes are naive wall-clock times in ``schedule.timezone``.

Semantics:

- A layer's k-th shift (k = 0, 1, ...) starts at wall-clock ``start + k * rotate_every`` and
  belongs to ``participants[k % len(participants)]``; before ``start`` the layer covers nobody.
  The arithmetic is in wall-clock time, so a weekly 09:00 handoff stays at 09:00 across a DST
  change and the shift holding the change is an hour shorter or longer in real time.
- A layer with restrictions is active only inside their windows: on each of ``days``, from
  ``start_minute`` to ``end_minute`` local (an end at or before the start is on the next day).
  Inside a window, the person is whoever the rotation names at that instant.
- Later layers win where they are active; overrides win over every layer, a later override
  over an earlier one. An instant nothing covers is a gap (contact None).

Wall-clock times that do not exist or occur twice convert with zoneinfo's fold=0 rule (PEP 495):
a repeated time (autumn) is its first occurrence, and a skipped time (spring) is read with the
offset before the change, so Europe/Berlin's 2027-03-28 02:30 is 01:30 UTC (03:30 CEST). A
handoff so converted can land after the next one (02:30 then 03:00 = 01:00 UTC); at any instant
the shift on call is the highest-numbered one that has started, so such a shift never runs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from policy.model import SCHEDULE_PREFIX, Schedule, ScheduleLayer, ScheduleOverride

MAX_SEARCH = timedelta(days=90)
OVERRIDE = "override"  # the ``layer`` of a Shift an override decides

# UTC offsets lie within -12h..+14h, so two of them differ by at most 26 hours: a wall-clock
# time 26 hours before (after) an instant's own converts to no later (no earlier) than it,
# whatever changes lie between (Pacific/Apia once skipped a whole day). Local bounds widened by
# this bracket every shift and window that can touch a UTC range.
_SLACK = timedelta(hours=26)
# Datetimes count microseconds: resolving one past ``end`` shows a shift that begins at ``end``.
_TICK = timedelta(microseconds=1)
# on_call widens its search only as far as the stretch around ``at`` needs: a weekend or a
# night first, then a week or a fortnight, then the limit.
_REACHES = (timedelta(days=3), timedelta(days=15), MAX_SEARCH)

_Piece = tuple[datetime, datetime, str]  # [start, end) UTC and who is on call


@dataclass(frozen=True)
class Shift:
    """A stretch of ``schedule`` with one (contact, layer), in UTC."""

    schedule: str
    contact: str | None     # None: a gap, nobody on call
    layer: str | None       # the layer's name, "override" for an override, None for a gap
    start: datetime         # aware, UTC
    end: datetime           # aware, UTC


def on_call(schedule: Schedule, at: datetime) -> Shift:
    """Who is on call at ``at`` (aware), with the true bounds of that stretch: ``start`` is
    where (contact, layer) last changed and ``end`` where it next changes, each searched at
    most MAX_SEARCH away from ``at`` and clamped there."""
    at = _as_utc(at, "at")
    for reach in _REACHES:
        lo, hi = at - reach, at + reach
        found = next(s for s in _resolve(schedule, lo, hi) if s.start <= at < s.end)
        last = reach == MAX_SEARCH
        if (found.start > lo or last) and (found.end < hi or last):
            return found
    raise AssertionError("unreachable: the last reach always returns")


def shifts(schedule: Schedule, start: datetime, end: datetime) -> list[Shift]:
    """The resolved shifts covering [start, end) (aware), overrides applied, consecutive equal
    (contact, layer) merged, the first and last clipped to the window, gaps included as contact
    None. Raises ValueError when ``end <= start``, ``end - start > MAX_SEARCH`` or an instant
    is naive, and when a layer has no participants or a non-positive ``rotate_every``."""
    return _resolve(schedule, *_window(start, end))


def gap_seconds(schedule: Schedule, start: datetime, end: datetime) -> float:
    """Seconds in [start, end) with nobody on call; the window rules of ``shifts`` apply."""
    return sum((s.end - s.start).total_seconds() for s in shifts(schedule, start, end)
               if s.contact is None)


def handoffs(schedule: Schedule, start: datetime, end: datetime) -> list[Shift]:
    """The shifts that begin in (start, end] with a contact other than the previous shift's
    (a person taking over, also from a gap): each is a handoff the incoming person is told
    about. Each carries its true end (as ``on_call`` finds it), not clipped to ``end``. The
    window rules of ``shifts`` apply."""
    lo, hi = _window(start, end)
    resolved = _resolve(schedule, lo, hi + _TICK)
    out = [cur for prev, cur in pairwise(resolved)
           if cur.contact is not None and cur.contact != prev.contact]
    if out and out[-1].end == hi + _TICK:  # clipped by the window: look further for its end
        out[-1] = dataclasses.replace(out[-1], end=_stretch_end(schedule, out[-1].start))
    return out


def schedule_ref(reference: str) -> str | None:
    """The schedule a contact reference names ("schedule:primary" -> "primary"), None for a
    plain contact key. Raises ValueError for the prefix alone ("schedule:")."""
    if not reference.startswith(SCHEDULE_PREFIX):
        return None
    name = reference[len(SCHEDULE_PREFIX):]
    if not name:
        raise ValueError(f"{reference!r}: a schedule reference needs a schedule name")
    return name


def _stretch_end(schedule: Schedule, start: datetime) -> datetime:
    """Where the stretch beginning at ``start`` ends: ``on_call(schedule, start).end``, found
    looking forward only."""
    for reach in _REACHES:
        end = _resolve(schedule, start, start + reach)[0].end
        if end < start + reach:
            return end
    return start + MAX_SEARCH


# -- resolution ---------------------------------------------------------------------------
def _resolve(schedule: Schedule, lo: datetime, hi: datetime) -> list[Shift]:
    """The merged shifts covering [lo, hi) (UTC) exactly. Every edge of every layer piece and
    override is a boundary; each segment between two boundaries is decided once."""
    tz = ZoneInfo(schedule.timezone)
    sources = [(layer.name, _layer_pieces(layer, tz, lo, hi)) for layer in schedule.layers]
    sources += [(OVERRIDE, _override_pieces(o, tz, lo, hi)) for o in schedule.overrides]
    ranked = [s for s in reversed(sources) if s[1]]  # highest priority first, empty ones dropped
    edges = sorted({lo, hi, *(t for _, pieces in ranked for p in pieces for t in p[:2])})
    cursors = [0] * len(ranked)
    runs: list[list] = []  # [contact, layer, start, end], merged as they are appended
    for a, b in pairwise(edges):
        contact = label = None
        for i, (name, pieces) in enumerate(ranked):
            c = cursors[i]
            while c < len(pieces) and pieces[c][1] <= a:  # pieces only ever pass by: O(n) total
                c += 1
            cursors[i] = c
            if c < len(pieces) and pieces[c][0] <= a:  # edges include piece edges: covers [a, b)
                contact, label = pieces[c][2], name
                break
        last = runs[-1] if runs else None
        if last is not None and last[0] == contact and last[1] == label:
            last[3] = b
        else:
            runs.append([contact, label, a, b])
    return [Shift(schedule.name, c, layer, a, b) for c, layer, a, b in runs]


def _layer_pieces(layer: ScheduleLayer, tz: ZoneInfo, lo: datetime, hi: datetime) -> list[_Piece]:
    """Where the layer is active in [lo, hi) and who it names, sorted, clipped, disjoint."""
    pieces = _rotation(layer, tz, lo, hi)
    if not layer.restrictions:
        return pieces
    return _intersect(pieces, _windows(layer, tz, lo, hi))


def _rotation(layer: ScheduleLayer, tz: ZoneInfo, lo: datetime, hi: datetime) -> list[_Piece]:
    """The layer's shifts overlapping [lo, hi), clipped to it, restrictions ignored."""
    step, people = layer.rotate_every, layer.participants
    if not people or step <= timedelta(0):
        raise ValueError(f"layer {layer.name!r}: needs participants and a positive rotate_every")
    # ``first`` starts at or before lo (or is shift 0), ``last`` at or after hi (see _SLACK)
    first = max(0, (_local(lo, tz) - _SLACK - layer.start) // step)
    last = (_local(hi, tz) + _SLACK - layer.start) // step + 1
    if last <= first:
        return []
    starts = [_utc(layer.start + k * step, tz) for k in range(first, last + 1)]
    pieces: list[_Piece] = []
    until = starts[-1]  # the earliest start of any later shift: where this one is taken over
    for k in range(len(starts) - 2, -1, -1):
        if starts[k] >= until:
            continue  # a handoff in a skipped hour, overtaken by the next one (fold=0)
        a, b = max(starts[k], lo), min(until, hi)
        if a < b:
            pieces.append((a, b, people[(first + k) % len(people)]))
        until = starts[k]
    pieces.reverse()
    return pieces


def _windows(layer: ScheduleLayer, tz: ZoneInfo, lo: datetime, hi: datetime
             ) -> list[tuple[datetime, datetime]]:
    """The layer's restriction windows overlapping [lo, hi) in UTC, clipped, merged, sorted."""
    # a window ends at most two local days after its day's midnight (22:00 to 06:00)
    first = (_local(lo, tz) - _SLACK).date() - timedelta(days=1)
    stop = (_local(hi, tz) + _SLACK).date()
    spans = []
    for r in layer.restrictions:
        for weekday in set(r.days):  # visit only the days the restriction names
            day = first + timedelta(days=(weekday - first.weekday()) % 7)
            while day <= stop:
                midnight = datetime.combine(day, time())
                ends = midnight if r.end_minute > r.start_minute else midnight + timedelta(days=1)
                a = max(_utc(midnight + timedelta(minutes=r.start_minute), tz), lo)
                b = min(_utc(ends + timedelta(minutes=r.end_minute), tz), hi)
                if a < b:  # empty too when both ends fall in a skipped hour
                    spans.append((a, b))
                day += timedelta(weeks=1)
    return _union(spans)


def _override_pieces(override: ScheduleOverride, tz: ZoneInfo, lo: datetime, hi: datetime
                     ) -> list[_Piece]:
    a = max(_utc(override.start, tz), lo)
    b = min(_utc(override.end, tz), hi)
    return [(a, b, override.contact)] if a < b else []


def _union(spans: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Overlapping or touching spans joined: windows of adjacent days make one stretch."""
    out: list[tuple[datetime, datetime]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _intersect(pieces: list[_Piece], windows: list[tuple[datetime, datetime]]) -> list[_Piece]:
    """Both sorted and disjoint: one merge-like pass."""
    out: list[_Piece] = []
    i = j = 0
    while i < len(pieces) and j < len(windows):
        (pa, pb, who), (wa, wb) = pieces[i], windows[j]
        a, b = max(pa, wa), min(pb, wb)
        if a < b:
            out.append((a, b, who))
        if pb <= wb:
            i += 1
        else:
            j += 1
    return out


# -- time ---------------------------------------------------------------------------------
def _utc(local: datetime, tz: ZoneInfo) -> datetime:
    """A naive wall-clock time in ``tz`` as aware UTC (fold=0: see the module docstring)."""
    return local.replace(tzinfo=tz, fold=0).astimezone(UTC)


def _local(at: datetime, tz: ZoneInfo) -> datetime:
    """The naive wall-clock time in ``tz`` at the aware instant ``at``."""
    return at.astimezone(tz).replace(tzinfo=None, fold=0)


def _as_utc(at: datetime, what: str) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{what} must be an aware datetime, got naive {at.isoformat()}")
    return at.astimezone(UTC)


def _window(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    lo, hi = _as_utc(start, "start"), _as_utc(end, "end")
    if hi <= lo:
        raise ValueError(f"the window must end after it starts: {lo} .. {hi}")
    if hi - lo > MAX_SEARCH:
        raise ValueError(f"the window is {hi - lo}, more than {MAX_SEARCH.days} days")
    return lo, hi

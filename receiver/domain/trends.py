"""Response trends over the last weeks: MTTA and MTTR per priority per week, incidents per
alert name. The figures of ``GET /reports/trends`` and the console's trends page.

Pure: the caller passes the incidents and ``now``. The rules:

- Weeks are ISO weeks in UTC, Monday 00:00 to the next Monday 00:00. ``weeks`` = 12 is the
  current week (still running: it ends at ``now``) and the eleven before it, oldest first;
  ``window_start`` is the first one's Monday.
- An incident counts in the week it was opened (``opened_at``), under the priority it has now.
- MTTA of a (week, priority): the mean of ``acked_at - opened_at`` over its incidents that were
  acknowledged; MTTR: the mean of ``resolved_at - opened_at`` over those resolved. The same
  durations the ``callwatch_incident_ack_seconds`` / ``_resolve_seconds`` histograms observe
  (``ReceiverMetrics.record_response_times``). Null when no incident of the cell has one.
- Drills (``Incident.drill``: ``callwatch drill``'s incidents) count nowhere: not in a cell,
  not per alert name.
- Incidents per alert name: every incident of the window by its ``alertname`` label (null for
  one declared by hand), most first, then by name.

Seconds are rounded to the millisecond.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from receiver.domain.model import Incident
from receiver.domain.times import iso

DAY = 86_400.0
WEEK = 7 * DAY
_A_MONDAY = 4 * DAY          # 1970-01-05T00:00Z: the epoch was a Thursday
DEFAULT_WEEKS = 12
MAX_WEEKS = 104


def week_start(at: float) -> float:
    """The Monday 00:00 UTC that begins ``at``'s ISO week."""
    return at - (at - _A_MONDAY) % WEEK


def window_start(now: float, weeks: int) -> float:
    """The Monday 00:00 UTC of the first of the ``weeks`` weeks ending with ``now``'s."""
    return week_start(now) - (weeks - 1) * WEEK


@dataclass(frozen=True)
class Cell:
    """One (week, priority): how many incidents were opened, acknowledged, resolved, and the
    mean seconds to acknowledge and to resolve (None: none was)."""

    opened: int = 0
    acknowledged: int = 0
    mtta_seconds: float | None = None
    resolved: int = 0
    mttr_seconds: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"opened": self.opened, "acknowledged": self.acknowledged,
                "mtta_seconds": self.mtta_seconds, "resolved": self.resolved,
                "mttr_seconds": self.mttr_seconds}


def _cell(incidents: Sequence[Incident]) -> Cell:
    acks = [max(0.0, i.acked_at - i.opened_at) for i in incidents if i.acked_at is not None]
    fixes = [max(0.0, i.resolved_at - i.opened_at) for i in incidents
             if i.resolved_at is not None]
    return Cell(opened=len(incidents), acknowledged=len(acks), mtta_seconds=_mean(acks),
                resolved=len(fixes), mttr_seconds=_mean(fixes))


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 3) if values else None


def trends(incidents: Iterable[Incident], now: float, weeks: int,
           priorities: Sequence[str]) -> dict[str, Any]:
    """The figures (module docstring) as ``GET /reports/trends`` answers them:
    ``{"weeks", "from", "to", "series": [{"start", "end", "priorities": {P: Cell}}],
    "alertnames": [{"alertname", "incidents"}]}``; incidents outside the window are ignored."""
    first = window_start(now, weeks)
    starts = [first + n * WEEK for n in range(weeks)]
    cells: dict[tuple[int, str], list[Incident]] = {}
    names: Counter[str | None] = Counter()
    for incident in incidents:
        if incident.drill or not first <= incident.opened_at <= now:
            continue
        index = int((incident.opened_at - first) // WEEK)
        cells.setdefault((index, incident.priority), []).append(incident)
        names[incident.labels.get("alertname")] += 1
    series = [{"start": iso(start), "end": iso(min(start + WEEK, now)),
               "priorities": {p: _cell(cells.get((n, p), ())).as_dict() for p in priorities}}
              for n, start in enumerate(starts)]
    ranked = sorted(names.items(), key=lambda item: (-item[1], item[0] is None, item[0] or ""))
    return {"weeks": weeks, "from": iso(first), "to": iso(now), "series": series,
            "alertnames": [{"alertname": name, "incidents": count} for name, count in ranked]}

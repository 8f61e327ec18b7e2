"""The monthly review: one calendar month's incidents, response times, SLA breaches, noisy
alerts, pages and action items, as ``GET /reports/monthly`` answers them. Pure: the caller
passes what the store holds and ``now``.

Rules:

- A month is a UTC calendar month, ``YYYY-MM``; an incident belongs to the month it was
  opened in, under the priority it has now (as on the trends page).
- Drills (label ``drill="true"``) count in no figure; they are listed under ``drills``, each
  with its recorded ``result`` (the latest ``drill`` event's figures, ``receiver.domain.drill``;
  null when none was recorded). Every list of incidents is oldest first.
- MTTA and MTTR per priority are the trends page's own cell (``receiver.domain.trends``):
  the mean seconds from opening to acknowledgement / resolution over the incidents that
  were; null when none was. The month stands beside the three before it (``response``,
  oldest first): the trend.
- SLA breaches: ``receiver.domain.context.sla_breached`` on each incident with its
  ``sla_breached`` events, at ``now``.
- Noisiest alerts: per alert name, the incidents and the flaps (``reopened`` events of those
  incidents), most incidents first, then most flaps, then by name; the first ``NOISIEST``.
- Pages: the outbox rows created in the month (handoff notices too) per channel and state;
  ``failed`` and ``abandoned`` are the failures.
- Action items: every open one (whatever month its incident), ``overdue`` when its due date
  is before ``now``'s UTC date; a drill's open items are listed apart (``drills``), outside
  the open and overdue counts.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from policy import Policy
from receiver.domain import drill, trends
from receiver.domain.context import sla_breached
from receiver.domain.followup import item_json, today
from receiver.domain.model import ActionItem, Event, EventKind, Incident, OutboxState
from receiver.domain.times import iso

TREND_MONTHS = 3
NOISIEST = 10
FAILURES = (OutboxState.FAILED, OutboxState.ABANDONED)
MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class Month:
    year: int
    month: int

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def start(self) -> float:
        return dt.datetime(self.year, self.month, 1, tzinfo=dt.UTC).timestamp()

    @property
    def end(self) -> float:
        return self.shift(1).start

    def shift(self, months: int) -> Month:
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1)


FIRST_YEAR, LAST_YEAR = 1971, 9998   # the review reads three months back and one ahead


def parse_month(text: str) -> Month | None:
    """``YYYY-MM`` (month 01..12, year 1971..9998), or None."""
    found = MONTH.match(text)
    if found is None or not FIRST_YEAR <= int(found.group(1)) <= LAST_YEAR:
        return None
    return Month(int(found.group(1)), int(found.group(2)))


def window(month: Month) -> tuple[float, float]:
    """[start, end) of the incidents the review reads: the three months before, and it."""
    return month.shift(-TREND_MONTHS).start, month.end


def is_drill(incident: Incident) -> bool:
    return incident.drill   # the one test: Incident.drill


@dataclass(frozen=True)
class Inputs:
    """What the store holds for a review: the incidents opened in ``window(month)``; the
    ``sla_breached``, ``reopened`` and ``drill`` events of the month's incidents; the outbox
    rows created in the month as (incident_id, channel, state, count); every open action item,
    and which of their incidents are drills (``drill_item_incidents``, any month)."""

    incidents: Sequence[Incident]
    events: Sequence[Event]
    outbox: Sequence[tuple[str | None, str, str, int]]
    open_items: Sequence[ActionItem]
    drill_item_incidents: frozenset[str] = frozenset()


def monthly(month: Month, data: Inputs, policy: Policy, now: float,
            priorities: Sequence[str]) -> dict[str, Any]:
    """The review (module docstring) as JSON-ready data."""
    inside = sorted((i for i in data.incidents if month.start <= i.opened_at < month.end),
                    key=lambda i: (i.opened_at, i.id))
    counted = [i for i in inside if not is_drill(i)]
    drills = {i.id for i in inside if is_drill(i)}
    by_incident: dict[str, list[Event]] = defaultdict(list)
    for event in data.events:
        by_incident[event.incident_id].append(event)
    breaches = [i for i in counted if sla_breached(i, by_incident[i.id], policy, now)]
    measured = drill.results(data.events)
    return {
        "month": month.label, "from": iso(month.start), "to": iso(month.end),
        "generated_at": iso(now),
        "incidents": {"total": len(counted),
                      "by_priority": {p: sum(i.priority == p for i in counted)
                                      for p in priorities},
                      "by_alertname": _by_alertname(counted)},
        "response": _response(month, data.incidents, priorities),
        "sla_breaches": {"total": len(breaches),
                         "by_priority": {p: sum(i.priority == p for i in breaches)
                                         for p in priorities},
                         "incidents": [_brief(i) for i in breaches]},
        "noisiest": _noisiest(counted, by_incident),
        "pages": _pages(data.outbox, drills),
        "action_items": _items(data.open_items, data.drill_item_incidents, policy, now),
        "drills": [{**_brief(i), "result": measured.get(i.id)} for i in inside
                   if i.id in drills],
    }


def _brief(incident: Incident) -> dict[str, Any]:
    return {"id": incident.id, "priority": incident.priority, "summary": incident.summary,
            "alertname": incident.labels.get("alertname"), "opened_at": iso(incident.opened_at)}


def _by_alertname(incidents: Iterable[Incident]) -> list[dict[str, Any]]:
    names = Counter(i.labels.get("alertname") for i in incidents)
    ranked = sorted(names.items(), key=lambda item: (-item[1], item[0] is None, item[0] or ""))
    return [{"alertname": name, "incidents": count} for name, count in ranked]


def _response(month: Month, incidents: Sequence[Incident],
              priorities: Sequence[str]) -> dict[str, Any]:
    months = [month.shift(n) for n in range(-TREND_MONTHS, 1)]
    cells: dict[tuple[str, str], list[Incident]] = defaultdict(list)
    for incident in incidents:
        if is_drill(incident):
            continue
        for m in months:
            if m.start <= incident.opened_at < m.end:
                cells[(m.label, incident.priority)].append(incident)
    # the trends page's cell: one definition of MTTA and MTTR
    return {"months": [m.label for m in months],
            "by_priority": {p: [trends._cell(cells[(m.label, p)]).as_dict() for m in months]
                            for p in priorities}}


def _noisiest(incidents: Sequence[Incident],
              events: dict[str, list[Event]]) -> list[dict[str, Any]]:
    found: dict[str | None, list[int]] = defaultdict(lambda: [0, 0])
    for incident in incidents:
        counts = found[incident.labels.get("alertname")]
        counts[0] += 1
        counts[1] += sum(e.kind == EventKind.REOPENED for e in events[incident.id])
    ranked = sorted(found.items(),
                    key=lambda item: (-item[1][0], -item[1][1], item[0] is None, item[0] or ""))
    return [{"alertname": name, "incidents": n, "flaps": flaps}
            for name, (n, flaps) in ranked[:NOISIEST]]


def _pages(rows: Iterable[tuple[str | None, str, str, int]],
           drills: set[str]) -> dict[str, Any]:
    channels: dict[str, Counter[str]] = defaultdict(Counter)
    for incident_id, channel, state, count in rows:
        if incident_id in drills:
            continue
        channels[channel][state] += count
    by_channel = [{"channel": name, "total": sum(states.values()),
                   "failures": sum(states[s] for s in FAILURES),
                   "states": dict(sorted(states.items()))}
                  for name, states in sorted(channels.items())]
    return {"total": sum(c["total"] for c in by_channel),
            "failures": sum(c["failures"] for c in by_channel), "by_channel": by_channel}


def _items(items: Sequence[ActionItem], drills: frozenset[str], policy: Policy,
           now: float) -> dict[str, Any]:
    shown = [item_json(item, policy, today(now)) for item in items
             if item.incident_id not in drills]
    return {"open": len(shown), "overdue": sum(item["overdue"] for item in shown),
            "items": shown,
            "drills": [item_json(item, policy, today(now)) for item in items
                       if item.incident_id in drills]}

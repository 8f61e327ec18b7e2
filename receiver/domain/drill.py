"""A drill's result on its incident's timeline: what ``callwatch drill`` measured. Pure.

``read_result`` reads ``POST /incidents/{id}/drill`` strictly: ``{"by", "alert_to_page_seconds",
"page_to_ack_seconds", "acked_by"}``, the seconds numbers from 0 to ``MAX_SECONDS``, the names
non-empty strings of at most ``MAX_NAME`` characters, no other key. ``decide_drill_result``
writes it as one ``drill`` event (actor ``by``, detail the figures and ``acked_by``) on an
incident whose alerts carried ``drill="true"`` (``Incident.drill``); any other incident is a
``NOT_A_DRILL`` conflict, so a real incident never gets drill figures. ``results`` reads the
figures back per incident for the monthly review (the latest when a drill was recorded twice).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from receiver.domain import fields
from receiver.domain.actions import ActionContext, Outcome
from receiver.domain.model import Changes, Event, EventKind, GroupSnapshot

MAX_SECONDS = 7 * 24 * 3600.0
MAX_NAME = 100
NOT_A_DRILL = "not_a_drill"
FIGURES = ("alert_to_page_seconds", "page_to_ack_seconds")
FIELDS = ("by", *FIGURES, "acked_by")


@dataclass(frozen=True)
class DrillResult:
    """A drill's figures as asked for; ``problem`` names the first bad field (field, why)."""

    by: str = ""
    alert_to_page_seconds: float = 0.0
    page_to_ack_seconds: float = 0.0
    acked_by: str = ""
    problem: tuple[str, str] | None = None

    def detail(self) -> dict[str, Any]:
        return {"alert_to_page_seconds": round(self.alert_to_page_seconds, 3),
                "page_to_ack_seconds": round(self.page_to_ack_seconds, 3),
                "acked_by": self.acked_by}


def read_result(data: Mapping[str, Any]) -> DrillResult:
    """The body read strictly (module docstring)."""
    unknown = fields.unknown_field(data, FIELDS)
    if unknown:
        return DrillResult(problem=unknown)
    names = fields.texts(data, {"by": MAX_NAME, "acked_by": MAX_NAME})
    if isinstance(names, tuple):
        return DrillResult(problem=names)
    values: dict[str, Any] = dict(names)
    for field in FIGURES:
        value = data.get(field)
        if (isinstance(value, bool) or not isinstance(value, int | float)
                or not math.isfinite(value) or not 0 <= value <= MAX_SECONDS):
            return DrillResult(problem=(field, f"required, seconds from 0 to {MAX_SECONDS:g}"))
        values[field] = float(value)
    return DrillResult(**values)


def decide_drill_result(snapshot: GroupSnapshot, ctx: ActionContext, *,
                        result: DrillResult) -> Outcome:
    """The ``drill`` event on a drill's incident; a ``NOT_A_DRILL`` conflict otherwise."""
    current = snapshot.incident
    assert current is not None
    if not current.drill:
        return Outcome(Changes(), conflict=NOT_A_DRILL, incident=current)
    event = Event(current.id, ctx.now, EventKind.DRILL, ctx.actor, result.detail())
    return Outcome(Changes(events=[event]), incident=current)


def results(events: Iterable[Event]) -> dict[str, dict[str, Any]]:
    """Per incident id, its latest ``drill`` event's detail."""
    latest: dict[str, Event] = {}
    for event in events:
        if event.kind == EventKind.DRILL and (event.incident_id not in latest
                                              or event.at >= latest[event.incident_id].at):
            latest[event.incident_id] = event
    return {incident_id: dict(event.detail) for incident_id, event in latest.items()}

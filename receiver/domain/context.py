"""The template context of one incident: exactly the variables receiver/domain/templates/*.j2 use.

``incident_context(incident, timeline, policy, public_url, vendor=..., contact=..., now=...)``
turns a stored ``Incident`` and its timeline into ``service``, ``incident``, ``links``,
``timeline``, ``report``, ``vendor``, ``contact`` (see tests/receiver/test_communications.py
``_context()`` for the shape). Pure: no I/O, no clock (``now`` is passed in when wanted).

- ``incident.impact``: the leading alert's ``description`` annotation (the leading alert is
  the first firing alert of the highest priority, as the incident logic picks it); for an
  incident declared by hand, the description given when it was declared.
- ``report.mtta`` / ``report.mttr``: human durations ("4m12s"), None until acked / resolved.
- ``report.sla_breached``: a timeline event of kind ``sla_breached``, or acknowledgement later
  than the priority's response time, or (given ``now``) still unacknowledged past it.
- ``action_items``: the post-incident action items added on the timeline (``action_item_added``
  events), each ``open`` or ``closed`` (a later ``action_item_closed``), in the order added.
- ``incident.response_time``: the priority's response time, human ("30m").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from policy import Policy
from policy.durations import format_duration
from receiver.domain import oncall
from receiver.domain.model import Event, EventKind, Incident, IncidentState
from receiver.domain.priority import leading_alert
from receiver.domain.times import iso

SERVICE = "Telephony Platform"   # the service every notice is about
MANUAL_PREFIX = "manual:"        # group_key of an incident declared by hand


def human(seconds: float | None) -> str | None:
    """Whole seconds as a Prometheus-style duration ("1h4m5s"); None stays None."""
    if seconds is None:
        return None
    return format_duration(max(0, round(seconds)))


def declared_description(timeline: Sequence[Event]) -> str:
    """The description given when the incident was declared by hand ("" otherwise)."""
    for event in timeline:
        if event.kind == EventKind.OPENED and isinstance(event.detail.get("description"), str):
            return event.detail["description"]
    return ""


def impact(incident: Incident, timeline: Sequence[Event], policy: Policy) -> str:
    lead = leading_alert(incident, policy)
    if lead is not None:
        annotations = lead.get("annotations", {})
        text = annotations.get("description") or annotations.get("summary")
        if text:
            return str(text)
    return declared_description(timeline) or incident.summary


def sla_breached(incident: Incident, timeline: Sequence[Event], policy: Policy,
                 now: float | None = None) -> bool:
    if any(event.kind == EventKind.SLA_BREACHED for event in timeline):
        return True
    spec = policy.priorities.get(incident.priority)
    if spec is None:
        return False
    acked = incident.acked_at
    if acked is None and incident.state == IncidentState.RESOLVED:
        acked = incident.resolved_at  # resolved without an ack: resolution is the response
    if acked is None:
        return now is not None and now - incident.opened_at > spec.response_seconds
    return acked - incident.opened_at > spec.response_seconds


def default_contact(policy: Policy, now: float | None) -> dict[str, str]:
    """Who signs the vendor email: the first person the first engineering level reaches at
    ``now`` (the on-call; without ``now``, the level's first named contact)."""
    if now is not None:
        first = oncall.first_level(policy, now).contacts
    else:
        steps = policy.escalation.engineering
        first = tuple(ref for ref in (steps[0].contacts if steps else ())
                      if ref in policy.contacts)
    person = policy.contacts.get(first[0]) if first else None
    if person is None:
        return {"name": "On-call engineer", "title": "On-call engineer", "company": "",
                "phone": "", "email": ""}
    return {"name": person.name, "title": "On-call engineer", "company": "",
            "phone": person.phone or "", "email": person.email or ""}


def _alert_rows(incident: Incident) -> list[dict[str, str]]:
    rows = []
    for alert in incident.alerts:
        labels, annotations = alert.get("labels", {}), alert.get("annotations", {})
        rows.append({"alertname": labels.get("alertname", ""),
                     "severity": labels.get("severity", ""),
                     "provider": labels.get("provider") or incident.provider or "",
                     "description": annotations.get("description")
                     or annotations.get("summary", "")})
    return rows


def _detail_text(detail: Mapping[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in detail.items()
                     if value not in (None, "", [], {}))


def incident_context(incident: Incident, timeline: Sequence[Event], policy: Policy,
                     public_url: str, *, vendor: Mapping[str, Any] | None = None,
                     contact: Mapping[str, Any] | None = None,
                     now: float | None = None) -> dict[str, Any]:
    """Every template variable for ``incident`` (see the module docstring)."""
    spec = policy.priorities.get(incident.priority)
    lead = leading_alert(incident, policy) or {}
    annotations = lead.get("annotations", {})
    mtta = incident.acked_at - incident.opened_at if incident.acked_at is not None else None
    mttr = (incident.resolved_at - incident.opened_at
            if incident.resolved_at is not None else None)
    return {
        "service": SERVICE,
        "incident": {
            "id": incident.id, "priority": incident.priority,
            "priority_name": spec.name if spec else incident.priority,
            "response_time": human(spec.response_seconds) if spec else "n/a",
            "state": incident.state, "summary": incident.summary,
            "impact": impact(incident, timeline, policy), "provider": incident.provider,
            "opened_at": iso(incident.opened_at), "acked_at": iso(incident.acked_at),
            "acked_by": incident.acked_by, "resolved_at": iso(incident.resolved_at),
            "owner": incident.acked_by, "alerts": _alert_rows(incident),
        },
        "links": {"runbook": annotations.get("runbook_url", ""),
                  "dashboard": annotations.get("dashboard_url") or policy.links.dashboard_url,
                  "status_page": policy.links.status_page_url,
                  "incident": f"{public_url.rstrip('/')}/incidents/{incident.id}"},
        "timeline": [{"at": iso(e.at), "kind": e.kind, "actor": e.actor,
                      "detail": _detail_text(e.detail)} for e in timeline],
        "action_items": report_items(timeline),
        "report": {"mtta": human(mtta), "mttr": human(mttr),
                   "sla_breached": sla_breached(incident, timeline, policy, now)},
        "vendor": dict(vendor) if vendor is not None else {},
        "contact": dict(contact) if contact is not None else default_contact(policy, now),
    }


def report_items(timeline: Sequence[Event]) -> list[dict[str, str]]:
    """The action items of a timeline, in the order added, each with its state: what the
    post-incident report lists."""
    items: dict[str, dict[str, str]] = {}
    for event in timeline:
        ident = str(event.detail.get("item", ""))
        if event.kind == EventKind.ACTION_ITEM_ADDED:
            items[ident] = {"id": ident, "title": str(event.detail.get("title", "")),
                            "owner": str(event.detail.get("owner", "")),
                            "due": str(event.detail.get("due", "")), "state": "open"}
        elif event.kind == EventKind.ACTION_ITEM_CLOSED and ident in items:
            items[ident]["state"] = "closed"
    return list(items.values())

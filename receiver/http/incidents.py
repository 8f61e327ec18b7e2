"""Read-only incident API: ``GET /incidents`` and ``GET /incidents/{id}`` (JSON).

Each incident has at least ``id``, ``priority``, ``state``, ``summary``, ``group_key``,
``opened_at`` (RFC 3339 UTC); ``/incidents/{id}`` adds the timeline and the outbox rows.
``?state=triggered|acknowledged|resolved`` and ``?limit=1..1000`` filter the list.
"""

from __future__ import annotations

from aiohttp import web

from callwatch.web import ApiError
from receiver.domain.model import INCIDENT_STATES, Incident
from receiver.domain.times import iso
from receiver.http.common import RECEIVER, store_errors


def incident_json(incident: Incident) -> dict:
    return {
        "id": incident.id, "priority": incident.priority, "state": incident.state,
        "summary": incident.summary, "group_key": incident.group_key,
        "provider": incident.provider, "opened_at": iso(incident.opened_at),
        "acked_at": iso(incident.acked_at), "acked_by": incident.acked_by,
        "resolved_at": iso(incident.resolved_at), "truncated_alerts": incident.truncated_alerts,
        "labels": incident.labels,
        "alerts_firing": sum(1 for a in incident.alerts if a.get("status") == "firing"),
    }


async def list_incidents(request: web.Request) -> web.Response:
    state_filter = request.query.get("state") or None
    if state_filter is not None and state_filter not in INCIDENT_STATES:
        raise ApiError(400, "bad_request",
                       f"state must be one of {', '.join(INCIDENT_STATES)}")
    raw_limit = request.query.get("limit", "100")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 1000:
        raise ApiError(400, "bad_request", "limit must be an integer from 1 to 1000")
    with store_errors():
        found = await request.app[RECEIVER].opened_store().list_incidents(
            state=state_filter, limit=int(raw_limit))
    return web.json_response({"incidents": [incident_json(i) for i in found]})


async def get_incident(request: web.Request) -> web.Response:
    incident_id = request.match_info["incident_id"]
    with store_errors():
        store = request.app[RECEIVER].opened_store()
        incident = await store.get_incident(incident_id)
        if incident is None:
            raise ApiError(404, "not_found", f"no incident with id {incident_id[:80]!r}")
        events = await store.timeline(incident_id)
        outbox = await store.outbox_for(incident_id)
    body = incident_json(incident)
    body["alerts"] = incident.alerts
    body["timeline"] = [{"at": iso(e.at), "kind": e.kind, "actor": e.actor, "detail": e.detail}
                        for e in events]
    body["notifications"] = [{"id": r.id, "channel": r.channel, "kind": r.kind, "state": r.state,
                              "attempts": r.attempts, "fallback_of": r.fallback_of,
                              "delivered_ref": r.delivered_ref} for r in outbox]
    return web.json_response(body)


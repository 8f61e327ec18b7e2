"""Read-only incident API: ``GET /incidents`` and ``GET /incidents/{id}`` (JSON).

Each incident has at least ``id``, ``priority``, ``state``, ``summary``, ``group_key``,
``opened_at`` (RFC 3339 UTC); ``/incidents/{id}`` adds the timeline and the outbox rows.

``GET /incidents`` answers ``{"incidents": [...], "next": cursor or null}``: one page, newest
first (opened_at, then id, descending), ``?limit=1..1000`` (100) long, strictly after
``?before=<a page's next>``, filtered by ``state``, ``priority``, ``provider``, ``alertname``,
``since`` and ``until`` (receiver.domain.incident_query has the rules). A bad parameter is 400
``invalid_request`` naming it in ``field``.
"""

from __future__ import annotations

from aiohttp import web

from callwatch.web import ApiError
from receiver.domain.incident_query import encode_cursor, parse_query
from receiver.domain.model import Incident
from receiver.domain.oncall_views import BadQuery
from receiver.domain.times import iso
from receiver.http.common import RECEIVER, invalid, store_errors


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
    params = {name: request.query.getall(name) for name in request.query}
    try:
        query = parse_query(params)
    except BadQuery as exc:
        raise invalid(exc.field, exc.problem) from None
    with store_errors():
        page = await request.app[RECEIVER].opened_store().page_incidents(query)
    return web.json_response({"incidents": [incident_json(i) for i in page.incidents],
                              "next": encode_cursor(page.next) if page.next else None})


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


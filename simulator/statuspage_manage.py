"""Atlassian Statuspage's management API for one page: what callwatch publishes customers.

Under ``/statuspage/v1`` (``STATUSPAGE_API_URL``), like ``https://api.statuspage.io/v1``:

- ``POST /pages/{page_id}/incidents`` ``{"incident": {...}}`` creates an incident → 201 and
  the incident;
- ``PATCH /pages/{page_id}/incidents/{incident_id}`` updates it → 200 and the incident;
- ``GET /pages/{page_id}/incidents/{incident_id}``, ``GET /pages/{page_id}/incidents`` (all,
  newest first) and ``GET /pages/{page_id}/incidents/unresolved`` (investigating, identified or
  monitoring, newest first).

Every request needs ``Authorization: OAuth <state.statuspage_api_key>`` (else 401
``{"error": ...}``), the page must be ``state.statuspage_page_id`` (else 404), an unknown
incident is 404, and a body whose ``incident`` is not an object, or whose ``status``,
``impact_override`` or component statuses Statuspage would refuse, is 422. The incident keeps
Statuspage's shape: ``id``, ``name``, ``status``, ``impact``, ``page_id``, ``components``
(``{"id", "name", "status"}`` each), ``incident_updates`` (newest first, each with ``status``
and ``body``), ``created_at``, ``updated_at``, ``resolved_at``, ``shortlink``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from simulator.state import SimState
from simulator.times import iso_micro

STATUSES = ("investigating", "identified", "monitoring", "resolved")
IMPACTS = ("none", "minor", "major", "critical")
COMPONENT_STATUSES = ("operational", "degraded_performance", "partial_outage", "major_outage",
                      "under_maintenance")


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _problem(fields: Any) -> str | None:
    """Why Statuspage would refuse ``fields`` (the ``incident`` object), or None."""
    if not isinstance(fields, dict):
        return "incident must be an object"
    if "status" in fields and fields["status"] not in STATUSES:
        return f"status must be one of {', '.join(STATUSES)}"
    if "impact_override" in fields and fields["impact_override"] not in IMPACTS:
        return f"impact_override must be one of {', '.join(IMPACTS)}"
    components = fields.get("components", {})
    if not isinstance(components, dict) or any(v not in COMPONENT_STATUSES
                                               for v in components.values()):
        return "components must map component ids to a component status"
    if not isinstance(fields.get("component_ids", []), list):
        return "component_ids must be a list"
    return None


def _apply(incident: dict, fields: dict, now: str) -> None:
    """Statuspage's update: named fields change; a body or status adds an incident update."""
    for key in ("name", "status"):
        if key in fields:
            incident[key] = fields[key]
    if "impact_override" in fields:
        incident["impact"] = fields["impact_override"]
    statuses = dict(fields.get("components") or {})
    ids = list(fields.get("component_ids") or statuses)
    if ids:
        incident["components"] = [{"id": cid, "name": cid, "page_id": incident["page_id"],
                                   "status": statuses.get(cid, "major_outage")} for cid in ids]
    if "body" in fields or "status" in fields:
        incident["incident_updates"].insert(0, {
            "id": f"{incident['id']}-u{len(incident['incident_updates']) + 1}",
            "incident_id": incident["id"], "status": incident["status"],
            "body": str(fields.get("body") or ""), "created_at": now, "updated_at": now})
    incident["updated_at"] = now
    if incident["status"] == "resolved" and incident["resolved_at"] is None:
        incident["resolved_at"] = now
    elif incident["status"] != "resolved":
        incident["resolved_at"] = None   # an update that reopens it


NOT_FOUND = "The requested resource could not be found."


class ManageApi:
    """The management API's handlers over ``state`` (module docstring)."""

    def __init__(self, state: SimState) -> None:
        self.state = state

    async def guarded(self, request: web.Request) -> web.Response | dict | None:
        """The parsed ``incident`` of an authorised POST/PATCH to the page (None for a GET),
        or the error response."""
        if request.headers.get("Authorization") != f"OAuth {self.state.statuspage_api_key}":
            return _error(401, "Could not authenticate")
        if request.match_info["page_id"] != self.state.statuspage_page_id:
            return _error(404, NOT_FOUND)
        if request.method not in ("POST", "PATCH"):
            return None
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "body must be JSON")
        fields = body.get("incident") if isinstance(body, dict) else None
        problem = _problem(fields)
        return _error(422, problem) if problem else fields

    async def create(self, request: web.Request) -> web.Response:
        fields = await self.guarded(request)
        if isinstance(fields, web.Response):
            return fields
        now = iso_micro(self.state.clock())
        incident_id = self.state.new_id("spinc", 16)
        incident = {"id": incident_id, "name": "", "status": "investigating", "impact": "none",
                    "page_id": self.state.statuspage_page_id, "components": [],
                    "incident_updates": [], "created_at": now, "updated_at": now,
                    "resolved_at": None, "shortlink": f"https://stspg.io/{incident_id}"}
        _apply(incident, {"status": "investigating", **(fields or {})}, now)
        self.state.statuspage_incidents[incident_id] = incident
        return web.json_response(incident, status=201)

    async def one(self, request: web.Request) -> web.Response:
        """GET reads the incident; PATCH updates it first."""
        fields = await self.guarded(request)
        if isinstance(fields, web.Response):
            return fields
        incident = self.state.statuspage_incidents.get(request.match_info["incident_id"])
        if incident is None:
            return _error(404, NOT_FOUND)
        if request.method == "PATCH":
            _apply(incident, fields or {}, iso_micro(self.state.clock()))
        return web.json_response(incident)

    async def listing(self, request: web.Request) -> web.Response:
        """All incidents, or (``/unresolved``) those not resolved; newest first."""
        denied = await self.guarded(request)
        if isinstance(denied, web.Response):
            return denied
        unresolved = request.path.endswith("/unresolved")
        listed = [i for i in self.state.statuspage_incidents.values()
                  if not unresolved or i["status"] != "resolved"]
        return web.json_response(sorted(listed, key=lambda i: i["created_at"], reverse=True))


def add_routes(app: web.Application, state: SimState) -> None:
    """Mount the management API (module docstring) under ``/statuspage/v1``."""
    api = ManageApi(state)
    base = "/statuspage/v1/pages/{page_id}/incidents"
    app.router.add_post(base, api.create)
    app.router.add_get(base, api.listing)
    app.router.add_get(base + "/unresolved", api.listing)   # before {incident_id} matches it
    app.router.add_patch(base + "/{incident_id}", api.one)
    app.router.add_get(base + "/{incident_id}", api.one)

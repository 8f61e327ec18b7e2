"""``POST /incidents/{id}/status-page``: publish the incident's customer notice.

Body: nothing, or a JSON object ``{"body": "the text customers read", "by": "who"}`` (both
optional; ``body`` replaces the rendered ``customer_notice`` text, at most ``MAX_BODY_TEXT``
characters). The notice goes through the outbox (``receiver.services.status_page.publish``):
the first publish creates the status page incident, any later one edits it.

202 ``{"incident_id", "outbox_id", "kind": "trigger"|"update", "status", "impact",
"components"}``; 400 a bad body; 404 an unknown incident; 409 ``not_configured`` when the
policy has no ``status_page`` section; 500 ``template_error`` when an operator's
``customer_notice`` override cannot render; 503 the store unavailable.
"""

from __future__ import annotations

import logging

from aiohttp import web

from callwatch.web import ApiError
from receiver.http.common import RECEIVER, invalid, json_object, store_errors, text_field
from receiver.http.communications import template_errors
from receiver.services.status_page import publish

log = logging.getLogger("callwatch.receiver.status_page")
MAX_BODY_TEXT = 20_000   # Statuspage takes long bodies; a notice is a few paragraphs
MAX_NAME = 100


async def publish_notice(request: web.Request) -> web.Response:
    state = request.app[RECEIVER]
    incident_id = request.match_info["incident_id"]
    data = await json_object(request) if request.can_read_body else {}
    unknown = sorted(set(data) - {"body", "by"})
    if unknown:
        raise invalid(unknown[0], "unknown field; allowed: body, by")
    body = text_field(data, "body", MAX_BODY_TEXT, required=False)
    by = text_field(data, "by", MAX_NAME, required=False) or "api"
    if state.policy.status_page is None:
        raise ApiError(409, "not_configured", "the policy has no status_page section")
    with store_errors(), template_errors():
        row = await publish(state, incident_id, by, body)
    if row is None:
        raise ApiError(404, "not_found", f"no incident with id {incident_id[:80]!r}")
    log.info("status page notice queued", extra={"incident": incident_id, "kind": row.kind})
    details = row.payload["details"]
    return web.json_response(
        {"incident_id": incident_id, "outbox_id": row.id, "kind": row.kind,
         "status": details["status"], "impact": details["impact"],
         "components": [c for c in details["components"].split(",") if c]}, status=202)

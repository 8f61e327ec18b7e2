"""``GET /incidents/{id}/communications`` and ``GET /incidents/{id}/report``.

``/communications`` answers JSON ``{"internal_notice": text, "internal_notice_html": html,
"customer_notice": text or null (P0/P1 only), "vendor_email": text or null (only when the
incident is about a provider with a vendor entry in the policy), "voice_script": text}``,
rendered from the stored incident and its timeline (receiver/domain/context.py) with the policy's
template overrides. ``/report`` answers the post-incident report as ``text/markdown``.
Unknown id: 404 JSON; store failure: 503; a template failing to render: 500 JSON naming it
(an operator's override is broken, never the caller's input).
"""

from __future__ import annotations

from aiohttp import web

from callwatch.web import ApiError
from receiver.domain.communications import TemplateError
from receiver.domain.context import incident_context
from receiver.http.common import RECEIVER, store_errors
from receiver.services.vendor import vendor_context

CUSTOMER_PRIORITIES = ("P0", "P1")


async def _load(request: web.Request):
    state = request.app[RECEIVER]
    incident_id = request.match_info["incident_id"]
    with store_errors():
        incident = await state.opened_store().get_incident(incident_id)
        if incident is None:
            raise ApiError(404, "not_found", f"no incident with id {incident_id[:80]!r}")
        timeline = await state.opened_store().timeline(incident_id)
    return state, incident, timeline


def _render(request: web.Request, name: str, context: dict) -> str:
    try:
        return request.app[RECEIVER].comms.render(name, **context)
    except TemplateError as exc:
        raise ApiError(500, "template_error", str(exc)) from None


async def rendered(request: web.Request) -> web.Response:
    state, incident, timeline = await _load(request)
    now = state.clock()
    vendor = await vendor_context(incident, state.policy, state.config, state.http, now=now)
    context = incident_context(incident, timeline, state.policy, state.config.public_url,
                               vendor=vendor, now=now)
    return web.json_response({
        "internal_notice": _render(request, "internal_notice", context),
        "internal_notice_html": _render(request, "internal_notice_html", context),
        "customer_notice": _render(request, "customer_notice", context)
        if incident.priority in CUSTOMER_PRIORITIES else None,
        "vendor_email": _render(request, "vendor_email", context) if vendor else None,
        "voice_script": _render(request, "voice_script", context),
    })


async def report(request: web.Request) -> web.Response:
    state, incident, timeline = await _load(request)
    context = incident_context(incident, timeline, state.policy, state.config.public_url,
                               now=state.clock())
    return web.Response(text=_render(request, "post_incident_report", context),
                        content_type="text/markdown", charset="utf-8")

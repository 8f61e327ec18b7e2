"""``GET /incidents/{id}/communications`` and ``GET /incidents/{id}/report``.

``/communications`` answers JSON ``{"internal_notice": text, "internal_notice_html": html,
"customer_notice": text or null (P0/P1 only), "vendor_email": text or null (only when the
incident is about a provider with a vendor entry in the policy), "voice_script": text (what a
phone page about it says), "pages": [...]}``, rendered from the stored incident and its
timeline (receiver/domain/context.py) with the policy's template overrides. ``pages`` lists
every outbox row of the incident, oldest first, with the words it was or will be sent with,
rendered by the dispatcher's own function: ``{"id", "channel", "kind", "state", "contact",
"recipients", "text", "html", "blocks", "edit_text", "edit_blocks", "in_digest"}``
(``in_digest``: the row leaves in its channel's daily digest, which lists it).

``/report`` answers the post-incident report as ``text/markdown``.
Unknown id: 404 JSON; store failure: 503; a template failing to render: 500 JSON naming it
(an operator's override is broken, never the caller's input).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from aiohttp import web

from callwatch.web import ApiError
from receiver.domain import messages, render
from receiver.domain.communications import TemplateError
from receiver.domain.context import incident_context
from receiver.domain.model import Event, Incident, MessageKind, OutboxRow
from receiver.domain.priority import leading_alert
from receiver.http.common import RECEIVER, store_errors
from receiver.services.notifications import words_for
from receiver.services.state import ReceiverState
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


@contextmanager
def template_errors() -> Iterator[None]:
    """A template that fails to render → 500 JSON naming it (an operator's broken override)."""
    try:
        yield
    except TemplateError as exc:
        raise ApiError(500, "template_error", str(exc)) from None


def _page(state: ReceiverState, row: OutboxRow) -> dict:
    with template_errors():
        words = words_for(state.comms, state.policy, state.notifiers.notifiers, row.payload,
                          row.channel, row.kind)
    spec = state.policy.channels.get(row.channel)
    return {"id": row.id, "channel": row.channel, "kind": row.kind, "state": row.state,
            "contact": row.lane or None, "recipients": list(row.payload.get("recipients", ())),
            "text": words.text, "html": words.html, "blocks": list(words.blocks),
            "edit_text": words.edit_text, "edit_blocks": list(words.edit_blocks),
            "in_digest": spec is not None and spec.type == "digest"}


def _spoken(state: ReceiverState, incident: Incident) -> str:
    """What a phone page opening this incident says."""
    payload = messages.compose(
        incident_id=incident.id, kind=MessageKind.TRIGGER, channel="",
        priority=incident.priority, summary=incident.summary, provider=incident.provider,
        alert=leading_alert(incident, state.policy), policy=state.policy, now=state.clock(),
        public_url=state.config.public_url)
    with template_errors():
        return render.spoken_page(state.comms, payload, state.policy, MessageKind.TRIGGER)


def _render(state: ReceiverState, name: str, context: dict) -> str:
    with template_errors():
        return state.comms.render(name, **context)


async def communications(state: ReceiverState, incident: Incident, timeline: list[Event],
                         rows: list[OutboxRow]) -> dict:
    """The body of ``/communications`` (module docstring) for a loaded incident, its timeline
    and outbox rows; the console shows the same drafts."""
    now = state.clock()
    vendor = await vendor_context(incident, state.policy, state.config, state.http, now=now)
    context = incident_context(incident, timeline, state.policy, state.config.public_url,
                               vendor=vendor, now=now)
    return {
        "internal_notice": _render(state, "internal_notice", context),
        "internal_notice_html": _render(state, "internal_notice_html", context),
        "customer_notice": _render(state, "customer_notice", context)
        if incident.priority in CUSTOMER_PRIORITIES else None,
        "vendor_email": _render(state, "vendor_email", context) if vendor else None,
        "voice_script": _spoken(state, incident),
        "pages": [_page(state, row) for row in rows],
    }


def report_text(state: ReceiverState, incident: Incident, timeline: list[Event]) -> str:
    """The post-incident report (Markdown) of ``/report`` and the console."""
    context = incident_context(incident, timeline, state.policy, state.config.public_url,
                               now=state.clock())
    return _render(state, "post_incident_report", context)


async def rendered(request: web.Request) -> web.Response:
    state, incident, timeline = await _load(request)
    with store_errors():
        rows = await state.opened_store().outbox_for(incident.id)
    return web.json_response(await communications(state, incident, timeline, rows))


async def report(request: web.Request) -> web.Response:
    state, incident, timeline = await _load(request)
    return web.Response(text=report_text(state, incident, timeline),
                        content_type="text/markdown", charset="utf-8")

"""``POST /webhooks/pagerduty``: acknowledgements and resolutions made in PagerDuty.

Secrets: ``PAGERDUTY_WEBHOOK_SECRET`` (or ``PAGERDUTY_WEBHOOK_SECRET_FILE``), several
comma-separated during a rotation. A missing or wrong ``X-PagerDuty-Signature`` is 401 JSON
(also when no secret is configured); a malformed body 400.

``incident.acknowledged`` acknowledges our incident whose id is the event's ``incident_key``
(our ``dedup_key``) with the PagerDuty user as actor, exactly as ``POST /incidents/{id}/ack``,
but sends no ``acknowledge`` back to PagerDuty channels (it came from there);
``incident.resolved`` resolves it likewise. Everything else is 200 ``ignored``: other event
types, an unknown or missing ``incident_key`` (PagerDuty must not retry forever), an incident
already in that state (200 ``no-op``).
"""

from __future__ import annotations

import logging
from typing import Mapping

from aiohttp import web

from callwatch.logs import register_secret
from callwatch.secrets import read_secret
from callwatch.web import MAX_BODY, ApiError
from receiver.domain.actions import ActionContext, decide_acknowledge, decide_resolve
from receiver.services.apply import apply_action
from receiver.http.actions_state import ACTIONS
from receiver.domain.ids import new_id
from receiver.http.pagerduty_signature import WebhookError, parse_event, signature_valid
from receiver.services.state import RECEIVER

log = logging.getLogger("callwatch.receiver.pagerduty")
SIGNATURE_HEADER = "X-PagerDuty-Signature"
DECISIONS = {"acknowledge": decide_acknowledge, "resolve": decide_resolve}


def load_secrets(environ: Mapping[str, str]) -> list[str]:
    """The webhook secrets (comma-separated for rotation); registered with the log scrubber."""
    raw = read_secret(environ, "PAGERDUTY_WEBHOOK_SECRET") or ""
    secrets = [part.strip() for part in raw.split(",") if part.strip()]
    for secret in secrets:
        register_secret(secret)
    return secrets


async def webhook(request: web.Request) -> web.Response:
    state = request.app[RECEIVER]
    secrets = request.app[ACTIONS].pagerduty_secrets
    limit = request.app[MAX_BODY]
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, "payload_too_large", f"request body larger than {limit} bytes")
    body = await request.read()
    if not signature_valid(body, request.headers.get(SIGNATURE_HEADER), secrets):
        detail = ("missing or invalid X-PagerDuty-Signature" if secrets else
                  "PagerDuty webhook secret not configured: set PAGERDUTY_WEBHOOK_SECRET")
        raise ApiError(401, "unauthorized", detail)
    try:
        event = parse_event(body)
    except WebhookError as exc:
        raise ApiError(400, exc.code, str(exc)) from None
    decide = DECISIONS.get(event.action or "")
    if decide is None:
        return _answer("ignored", f"event type {event.event_type} needs nothing from us")
    if not event.incident_key:
        return _answer("ignored", "the event names no incident_key")
    ctx = ActionContext(policy=state.policy, now=state.clock(), new_id=new_id,
                        actor=event.actor, public_url=state.config.public_url,
                        skip_types=("pagerduty",))
    outcome = await apply_action(state, event.incident_key, decide, ctx)
    if outcome is None:
        return _answer("ignored", "no incident with that incident_key")
    if outcome.conflict is not None:
        return _answer("no-op", f"incident already {outcome.conflict}",
                       incident=event.incident_key)
    log.info("incident changed from PagerDuty",
             extra={"incident": event.incident_key, "action": event.action})
    return _answer(outcome.incident.state, f"{event.action} by {event.actor}",
                   incident=event.incident_key)


def _answer(status: str, detail: str, **extra: str) -> web.Response:
    return web.json_response({"status": status, "detail": detail, **extra})

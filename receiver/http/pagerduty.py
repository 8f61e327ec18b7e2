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

PagerDuty signs each delivery: ``X-PagerDuty-Signature`` holds one or more ``v1=<hex>`` values
(several during a secret rotation), each the HMAC-SHA256 of the raw body under a subscription
secret. A delivery is authentic when any of them matches any of our secrets.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from aiohttp import web

from callwatch.web import MAX_BODY, ApiError, read_body
from receiver.domain.actions import ActionContext, decide_acknowledge, decide_resolve
from receiver.domain.ids import new_id
from receiver.http.callbacks import refused
from receiver.http.common import RECEIVER, store_errors
from receiver.services.apply import apply_action

log = logging.getLogger("callwatch.receiver.pagerduty")
SIGNATURE_HEADER = "X-PagerDuty-Signature"
DECISIONS = {"acknowledge": decide_acknowledge, "resolve": decide_resolve}


# PagerDuty event type -> what it means for our incident.
EVENT_ACTIONS = {"incident.acknowledged": "acknowledge", "incident.resolved": "resolve"}


class WebhookError(ValueError):
    """A delivery we cannot use; ``code`` is the JSON error code, ``str()`` the detail."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


@dataclass(frozen=True)
class PagerDutyEvent:
    event_id: str
    event_type: str
    incident_key: str | None   # our dedup_key, set when we triggered the PagerDuty incident
    actor: str                 # who acted in PagerDuty, e.g. "Tenex Engineer (PagerDuty)"
    occurred_at: str

    @property
    def action(self) -> str | None:
        return EVENT_ACTIONS.get(self.event_type)


def signature_valid(body: bytes, header: str | None, secrets: Sequence[str]) -> bool:
    """Whether any ``v1=`` signature in ``header`` is the HMAC-SHA256 of ``body`` under a secret."""
    if not header or not secrets:
        return False
    offered = [part.strip()[3:] for part in header.split(",") if part.strip().startswith("v1=")]
    expected = [hmac.new(secret.encode(), body, hashlib.sha256).hexdigest() for secret in secrets]
    return any(hmac.compare_digest(given, wanted) for given in offered for wanted in expected)


def parse_event(body: bytes) -> PagerDutyEvent:
    """The event in a v3 webhook body; WebhookError naming what is missing otherwise."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookError("malformed_json", "body is not JSON") from None
    event = document.get("event") if isinstance(document, dict) else None
    if not isinstance(event, dict):
        raise WebhookError("missing_field", "event: required object missing")
    for field in ("id", "event_type", "occurred_at"):
        if not isinstance(event.get(field), str):
            raise WebhookError("missing_field", f"event.{field}: required string missing")
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    agent = event.get("agent") if isinstance(event.get("agent"), dict) else {}
    actor = f"{agent.get('summary') or 'someone'} (PagerDuty)"
    key = data.get("incident_key")
    return PagerDutyEvent(event["id"], event["event_type"], key if isinstance(key, str) else None,
                          actor, event["occurred_at"])


async def webhook(request: web.Request) -> web.Response:
    state = request.app[RECEIVER]
    secrets = state.config.pagerduty_webhook_secrets
    body = await read_body(request, request.app[MAX_BODY])
    if not secrets:
        raise ApiError(401, "unauthorized",
                       "PagerDuty webhook secret not configured: set PAGERDUTY_WEBHOOK_SECRET")
    if not signature_valid(body, request.headers.get(SIGNATURE_HEADER), secrets):
        raise refused(state, "pagerduty", 401, "unauthorized",
                      "missing or invalid X-PagerDuty-Signature")
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
    with store_errors():
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

"""People acting on incidents over HTTP: acknowledge, resolve, declare by hand.

``setup_incident_actions(app, environ)`` (called from ``receiver.app.setup_receiver``) mounts:

| endpoint | body | answers |
|---|---|---|
| ``POST /incidents/{id}/ack`` | ``{"by": "name"}`` | 200 incident JSON; 409 already acknowledged / resolved |
| ``POST /incidents/{id}/resolve`` | ``{"by": "name"}`` | 200 incident JSON; 409 already resolved |
| ``POST /incidents`` | ``{"summary", "priority": "P0".."P3", "description", "provider"?, "by"?}`` | 201 incident JSON |
| ``POST /webhooks/pagerduty`` | PagerDuty v3 webhook | see receiver/http/pagerduty.py |
| ``GET /incidents/{id}/communications``, ``GET /incidents/{id}/report`` | | see receiver/http/communications.py |

Authentication is exactly POST /alerts' (bearer token or basic auth): 401 JSON otherwise.
Bad input is 400 with ``{"error": "invalid_request", "detail", "field"}`` (``invalid_json``
for a body that is not JSON); an unknown id 404; a store failure 503.

A security incident or a data breach is P0 whatever the metrics say: whoever declares one
sets ``"priority": "P0"`` (the receiver cannot tell from the words).
"""

from __future__ import annotations

import json
import logging
from typing import Any, Mapping

from aiohttp import web

from callwatch.web import MAX_BODY, ApiError
from receiver.http import communications, pagerduty
from receiver.domain.actions import (ActionContext, Outcome, conflict_message, decide_acknowledge,
                              decide_declare, decide_resolve)
from receiver.services.apply import apply_action, resolver_of, store_of
from receiver.http.actions_state import ACTIONS, ActionsState
from receiver.http.auth import authorized
from receiver.domain.communications import Communications, TemplateError
from receiver.domain.ids import new_id
from receiver.domain.incidents import PRIORITY_ORDER
from receiver.http.incidents import incident_json
from receiver.services.state import RECEIVER, ReceiverState
from receiver.store.base import StoreError

log = logging.getLogger("callwatch.receiver.actions")
MAX_NAME = 100
MAX_SUMMARY = 300
MAX_DESCRIPTION = 5000


def setup_incident_actions(app: web.Application, environ: Mapping[str, str]) -> None:
    """Mount the action endpoints (module docstring). Reads ``environ`` here, never at import."""
    state = app[RECEIVER]
    try:
        comms = Communications(state.policy.templates)
        comms.check()
    except TemplateError as exc:  # a broken override stops start-up with one clear line
        raise SystemExit(f"callwatch receiver: {exc}") from None
    app[ACTIONS] = ActionsState(comms=comms, environ=dict(environ),
                                pagerduty_secrets=pagerduty.load_secrets(environ))
    app.router.add_post("/incidents", declare)
    app.router.add_post("/incidents/{incident_id}/ack", acknowledge)
    app.router.add_post("/incidents/{incident_id}/resolve", resolve)
    app.router.add_post("/webhooks/pagerduty", pagerduty.webhook)
    app.router.add_get("/incidents/{incident_id}/communications", communications.rendered)
    app.router.add_get("/incidents/{incident_id}/report", communications.report)
    app.cleanup_ctx.append(app[ACTIONS].session_context)


class FieldError(web.HTTPException):
    """A 400 naming the offending field: ``{"error": "invalid_request", "detail", "field"}``."""

    status_code = 400

    def __init__(self, field: str, detail: str) -> None:
        body = {"error": "invalid_request", "detail": f"{field}: {detail}", "field": field}
        super().__init__(text=json.dumps(body), content_type="application/json")


def require_auth(request: web.Request) -> ReceiverState:
    state = request.app[RECEIVER]
    if not authorized(request.headers.get("Authorization"), state.credentials):
        detail = ("missing or invalid credentials" if state.credentials.configured else
                  "receiver authentication is not configured: set CALLWATCH_RECEIVER_TOKEN "
                  "or CALLWATCH_RECEIVER_USERNAME/PASSWORD")
        raise ApiError(401, "unauthorized", detail)
    return state


async def json_object(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object; 413 over the limit, 400 otherwise."""
    limit = request.app[MAX_BODY]
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, "payload_too_large", f"request body larger than {limit} bytes")
    try:
        data = json.loads(await request.read())
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "invalid_json", "body is not valid JSON") from None
    if not isinstance(data, dict):
        raise FieldError("$", "expected a JSON object")
    return data


def text_field(data: Mapping[str, Any], field: str, limit: int, *, required: bool = True
               ) -> str | None:
    value = data.get(field)
    if value is None and not required:
        return None
    if value is None:
        raise FieldError(field, "required field missing")
    if not isinstance(value, str) or not value.strip():
        raise FieldError(field, "must be a non-empty string")
    if len(value) > limit:
        raise FieldError(field, f"must be at most {limit} characters")
    return value.strip()


async def _person_action(request: web.Request, decide, verb: str) -> web.Response:
    state = require_auth(request)
    data = await json_object(request)
    by = text_field(data, "by", MAX_NAME)
    incident_id = request.match_info["incident_id"]
    ctx = ActionContext(policy=state.policy, now=state.clock(), new_id=new_id, actor=by,
                        public_url=state.config.public_url)
    outcome = await apply_action(state, incident_id, decide, ctx)
    if outcome is None:
        raise ApiError(404, "not_found", f"no incident with id {incident_id[:80]!r}")
    if outcome.conflict is not None:
        incident = outcome.incident
        assert incident is not None
        actor = await resolver_of(state, incident.id) if incident.state == "resolved" else None
        raise ApiError(409, "conflict", conflict_message(incident, verb, actor))
    log.info(f"incident {verb}d by hand", extra={"incident": incident_id})
    return web.json_response(incident_json(outcome.incident))


async def acknowledge(request: web.Request) -> web.Response:
    return await _person_action(request, decide_acknowledge, "acknowledge")


async def resolve(request: web.Request) -> web.Response:
    return await _person_action(request, decide_resolve, "resolve")


async def declare(request: web.Request) -> web.Response:
    """``POST /incidents``: declare an incident by hand (201); routing and escalation as usual."""
    state = require_auth(request)
    data = await json_object(request)
    summary = text_field(data, "summary", MAX_SUMMARY)
    priority = data.get("priority")
    if priority not in PRIORITY_ORDER:
        raise FieldError("priority", f"must be one of {', '.join(PRIORITY_ORDER)}")
    description = text_field(data, "description", MAX_DESCRIPTION)
    provider = data.get("provider")
    if provider is not None and provider not in state.policy.providers:
        raise FieldError("provider", f"must be one of {', '.join(state.policy.providers)}")
    by = text_field(data, "by", MAX_NAME, required=False) or "api"
    incident_id = new_id()
    ctx = ActionContext(policy=state.policy, now=state.clock(), new_id=new_id, actor=by,
                        public_url=state.config.public_url)
    outcomes: list[Outcome] = []

    def run(snapshot):
        outcomes.append(decide_declare(snapshot, ctx, incident_id=incident_id, summary=summary,
                                       priority=priority, description=description,
                                       provider=provider))
        return outcomes[-1].changes

    key = f"manual:{incident_id}"
    try:
        await store_of(state).apply_group(key, key, ctx.now, run)
    except StoreError:
        raise ApiError(503, "store_unavailable",
                       "the incident store is unavailable; the incident was not declared") from None
    state.committed()
    log.info("incident declared by hand", extra={"incident": incident_id, "priority": priority})
    return web.json_response(incident_json(outcomes[-1].incident), status=201)

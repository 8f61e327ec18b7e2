"""People acting on incidents over HTTP: acknowledge, resolve, declare by hand.

Endpoints (mounted by ``receiver.http.routes``):

| endpoint | body | answers |
|---|---|---|
| ``POST /incidents/{id}/ack`` | ``{"by": "name"}`` | 200; 409 already acknowledged / resolved |
| ``POST /incidents/{id}/resolve`` | ``{"by": "name"}`` | 200; 409 already resolved |
| ``POST /incidents`` | ``{"summary", "priority", "description", "provider"?, "by"?}`` | 201 |

A 200 or 201 answers the incident's JSON; ``"priority"`` is ``"P0"`` .. ``"P3"``.

Authentication is exactly POST /alerts' (bearer token or basic auth): 401 JSON otherwise.
Bad input is 400 with ``{"error": "invalid_request", "detail", "field"}`` (``invalid_json``
for a body that is not JSON); an unknown id 404; a store failure 503.

A security incident or a data breach is P0 whatever the metrics say: whoever declares one
sets ``"priority": "P0"`` (the receiver cannot tell from the words).
"""

from __future__ import annotations

import logging

from aiohttp import web

from callwatch.web import ApiError
from policy.model import PRIORITIES
from receiver.domain.actions import (
    ActionContext,
    conflict_message,
    decide_acknowledge,
    decide_resolve,
)
from receiver.domain.ids import new_id
from receiver.domain.model import IncidentState
from receiver.http.common import RECEIVER, invalid, json_object, store_errors, text_field
from receiver.http.incidents import incident_json
from receiver.services.apply import apply_action, declare_incident, resolver_of

log = logging.getLogger("callwatch.receiver.actions")
MAX_NAME = 100
MAX_SUMMARY = 300
MAX_DESCRIPTION = 5000


async def _person_action(request: web.Request, decide, verb: str) -> web.Response:
    state = request.app[RECEIVER]
    data = await json_object(request)
    by = text_field(data, "by", MAX_NAME)
    incident_id = request.match_info["incident_id"]
    ctx = ActionContext(policy=state.policy, now=state.clock(), new_id=new_id, actor=by,
                        public_url=state.config.public_url)
    with store_errors():
        outcome = await apply_action(state, incident_id, decide, ctx)
    if outcome is None:
        raise ApiError(404, "not_found", f"no incident with id {incident_id[:80]!r}")
    if outcome.conflict is not None:
        incident = outcome.incident
        assert incident is not None
        resolved = incident.state == IncidentState.RESOLVED
        actor = await resolver_of(state, incident.id) if resolved else None
        raise ApiError(409, "conflict", conflict_message(incident, verb, actor))
    log.info(f"incident {verb}d by hand", extra={"incident": incident_id})
    return web.json_response(incident_json(outcome.incident))


async def acknowledge(request: web.Request) -> web.Response:
    return await _person_action(request, decide_acknowledge, "acknowledge")


async def resolve(request: web.Request) -> web.Response:
    return await _person_action(request, decide_resolve, "resolve")


async def declare(request: web.Request) -> web.Response:
    """``POST /incidents``: declare an incident by hand (201); routing and escalation as usual."""
    state = request.app[RECEIVER]
    data = await json_object(request)
    summary = text_field(data, "summary", MAX_SUMMARY)
    priority = data.get("priority")
    if priority not in PRIORITIES:
        raise invalid("priority", f"must be one of {', '.join(PRIORITIES)}")
    description = text_field(data, "description", MAX_DESCRIPTION)
    provider = data.get("provider")
    if provider is not None and provider not in state.policy.providers:
        raise invalid("provider", f"must be one of {', '.join(state.policy.providers)}")
    by = text_field(data, "by", MAX_NAME, required=False) or "api"
    ctx = ActionContext(policy=state.policy, now=state.clock(), new_id=new_id, actor=by,
                        public_url=state.config.public_url)
    with store_errors("the incident store is unavailable; the incident was not declared"):
        incident = await declare_incident(state, ctx, summary=summary, priority=priority,
                                          description=description, provider=provider)
    log.info("incident declared by hand", extra={"incident": incident.id, "priority": priority})
    return web.json_response(incident_json(incident), status=201)

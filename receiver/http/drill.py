"""``POST /incidents/{id}/drill``: a drill's measured response times on its timeline.

``callwatch drill`` calls it once the drill's page was acknowledged. Body ``{"by",
"alert_to_page_seconds", "page_to_ack_seconds", "acked_by"}`` (``receiver.domain.drill``
reads it strictly). Answers 201 with the ``drill`` event ``{"incident", "at", "kind", "actor",
"detail"}``; 400 ``invalid_request`` naming the field; 404 for an unknown incident; 409
``not_a_drill`` when the incident's alerts did not carry ``drill="true"``; 503 when the store
is down.
"""

from __future__ import annotations

import logging
from functools import partial

from aiohttp import web

from callwatch.web import ApiError
from receiver.domain import drill
from receiver.domain.actions import ActionContext
from receiver.domain.ids import new_id
from receiver.http.common import RECEIVER, invalid, json_object, store_errors
from receiver.http.notes import event_json
from receiver.services.apply import apply_action

log = logging.getLogger("callwatch.receiver.drill")


async def record_drill(request: web.Request) -> web.Response:
    state = request.app[RECEIVER]
    result = drill.read_result(await json_object(request))
    if result.problem is not None:
        raise invalid(*result.problem)
    incident_id = request.match_info["incident_id"]
    ctx = ActionContext(policy=state.policy, now=state.clock(), new_id=new_id, actor=result.by,
                        public_url=state.config.public_url, via="api")
    with store_errors("the incident store is unavailable; the drill was not recorded"):
        outcome = await apply_action(
            state, incident_id, partial(drill.decide_drill_result, result=result), ctx)
    if outcome is None:
        raise ApiError(404, "not_found", f"no incident with id {incident_id[:80]!r}")
    if outcome.conflict is not None:
        raise ApiError(409, drill.NOT_A_DRILL, f"incident {incident_id} is not a drill: its "
                                               "alerts carried no drill=\"true\" label")
    log.info("drill recorded", extra={"incident": incident_id})
    return web.json_response(event_json(outcome.changes.events[0]), status=201)

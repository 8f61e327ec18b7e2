"""Post-incident follow-up over HTTP: the report marked done, action items.

| endpoint | body | answers |
|---|---|---|
| ``POST /incidents/{id}/report/done`` | ``{"by"}`` | 200 the incident; 409 already done |
| ``POST /incidents/{id}/actions`` | ``{"title", "owner", "due", "by"?}`` | 201 the item |
| ``GET /incidents/{id}/actions`` | | 200 ``{"items": [...]}`` |
| ``POST /incidents/{id}/actions/{action_id}/close`` | ``{"by"?}`` | 200 the item; 409 closed |

``owner`` is a contact key (answered back as ``owner_contact``) or free text; ``due`` an ISO
date (YYYY-MM-DD); an item still open after it is ``overdue``. Marking the report done stops
the report and post-mortem reminders (``receiver.domain.followup``); two at once mark it once
(one 200, the other 409: ``receiver.services.followup``). Bad input is 400
``invalid_request`` naming the field; an unknown incident or item 404; a store failure 503.
"""

from __future__ import annotations

from aiohttp import web

from callwatch.web import ApiError
from receiver.domain import followup
from receiver.domain.actions import ActionContext
from receiver.domain.ids import new_id
from receiver.domain.model import ActionItem
from receiver.http.common import RECEIVER, invalid, json_object, store_errors, text_field
from receiver.http.incidents import incident_json
from receiver.services.followup import StillChanging, mark_report_done

MAX_NAME = 100


def _not_found(incident_id: str) -> ApiError:
    return ApiError(404, "not_found", f"no incident with id {incident_id[:80]!r}")


async def report_done(request: web.Request) -> web.Response:
    state = request.app[RECEIVER]
    by = text_field(await json_object(request), "by", MAX_NAME)
    incident_id = request.match_info["incident_id"]
    ctx = ActionContext(policy=state.policy, now=state.clock(), new_id=new_id, actor=by,
                        public_url=state.config.public_url, via="api")
    try:
        with store_errors():
            marked = await mark_report_done(state, incident_id, ctx)
    except StillChanging as exc:
        raise ApiError(409, "conflict", f"{exc}; ask again") from None
    if marked.incident is None:
        raise _not_found(incident_id)
    if marked.done_before is not None:
        raise ApiError(409, "conflict", f"the report of incident {incident_id} was already "
                                        f"marked done by {marked.done_before.actor}")
    return web.json_response(incident_json(marked.incident))


async def add_item(request: web.Request) -> web.Response:
    state = request.app[RECEIVER]
    data = await json_object(request)
    asked = followup.read_item(data)
    if asked.problem is not None:
        raise invalid(*asked.problem)
    by = text_field(data, "by", MAX_NAME, required=False) or "api"
    now = state.clock()
    item = ActionItem(new_id(), request.match_info["incident_id"], asked.title, asked.owner,
                      asked.due, now, by)
    with store_errors():
        added = await state.opened_store().add_action_item(
            item, followup.action_item_event(item, False, by, now))
    if not added:
        raise _not_found(item.incident_id)
    return web.json_response(followup.item_json(item, state.policy, followup.today(now)),
                             status=201)


async def list_items(request: web.Request) -> web.Response:
    state = request.app[RECEIVER]
    incident_id = request.match_info["incident_id"]
    with store_errors():
        incident = await state.opened_store().get_incident(incident_id)
        items = await state.opened_store().action_items(incident_id) if incident else []
    if incident is None:
        raise _not_found(incident_id)
    today = followup.today(state.clock())
    return web.json_response({"items": [followup.item_json(i, state.policy, today)
                                        for i in items]})


async def close_item(request: web.Request) -> web.Response:
    state = request.app[RECEIVER]
    data = await json_object(request) if request.can_read_body else {}
    by = text_field(data, "by", MAX_NAME, required=False) or "api"
    incident_id, item_id = request.match_info["incident_id"], request.match_info["action_id"]
    now = state.clock()
    with store_errors():
        item, closed = await state.opened_store().close_action_item(incident_id, item_id, by,
                                                                     now)
    if item is None:
        raise ApiError(404, "not_found",
                       f"incident {incident_id[:80]!r} has no action item {item_id[:80]!r}")
    if not closed:
        raise ApiError(409, "conflict", f"action item {item_id} was already closed by "
                                        f"{item.closed_by}")
    return web.json_response(followup.item_json(item, state.policy, followup.today(now)))

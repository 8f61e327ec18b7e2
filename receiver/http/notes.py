"""``POST /incidents/{id}/notes``: a person's note on an incident's timeline.

Body ``{"by": "name", "text": "what they want on the record"}`` (``by`` at most 100
characters, ``text`` at most 5000); the note is a timeline event of kind ``note`` (actor
``by``, detail ``{"text"}``), written by ``receiver.services.people.note``, the one way the
console writes one too. Any incident takes notes, a resolved one included; nobody is paged.

Answers 201 with the event ``{"incident", "at", "kind": "note", "actor", "detail"}``; 400
``invalid_request`` naming the field, 404 for an unknown incident, 503 when the store is down.
"""

from __future__ import annotations

import logging

from aiohttp import web

from callwatch.web import ApiError
from receiver.domain.model import Event
from receiver.domain.times import iso
from receiver.http.common import RECEIVER, json_object, store_errors, text_field
from receiver.services import people

log = logging.getLogger("callwatch.receiver.notes")
MAX_NAME = 100
MAX_NOTE = 5000


def event_json(event: Event) -> dict:
    return {"incident": event.incident_id, "at": iso(event.at), "kind": event.kind,
            "actor": event.actor, "detail": event.detail}


async def add_note(request: web.Request) -> web.Response:
    data = await json_object(request)
    by = text_field(data, "by", MAX_NAME)
    text = text_field(data, "text", MAX_NOTE)
    assert by is not None and text is not None
    incident_id = request.match_info["incident_id"]
    with store_errors("the incident store is unavailable; the note was not written"):
        event = await people.note(request.app[RECEIVER], incident_id, text, by, via="api")
    if event is None:
        raise ApiError(404, "not_found", f"no incident with id {incident_id[:80]!r}")
    log.info("note added", extra={"incident": incident_id})
    return web.json_response(event_json(event), status=201)

"""Telnyx API v2 as the real ``telnyx.AsyncTelnyx`` sees it (base URL ``<server>/v2``).

- ``GET  /v2/connections/{id}/active_calls`` — calls up right now (paged).
- ``GET  /v2/calls/{call_control_id}`` — ``retrieve_status``: ``is_alive``, times, duration.
- ``POST /v2/calls`` — dial (``connection_id``, ``to``, ``from`` required; 422 otherwise);
  kept in ``state.placed`` for the phone notifier's fallback. With a ``webhook_url`` the call is
  then played out in the background (``voice_telnyx.py``): signed events to that URL.
- ``POST /v2/calls/{call_control_id}/actions/{action}`` (e.g. ``speak``) on a dialled call —
  recorded in its ``state.placed`` entry under ``actions``; ``{"data": {"result": "ok"}}``. On a
  played call the command's follow-up event is sent after this answer; on a played call that
  has ended, 422 (code ``90018``, "Call has already ended").
- ``POST /v2/texml/calls/{connection_id}`` — TeXML call (``From``, ``To``, ``Texml`` or
  ``Url``); ``{"call_sid", "from", "to", "status": "queued"}``; kept in ``state.placed``.
- ``GET  /v2/detail_records`` — ``filter[record_type]`` required (422 without);
  ``call-control`` records with ``started_at``/``answered_at``/``finished_at``, ``call_sec``,
  ``hangup_cause``, ``sip_hangup_cause``, ``mos``; ``filter[date_range]``,
  ``filter[started_at][gte|lte]``.
- ``GET  /v2/webhook_deliveries`` — ``filter[status][eq]``, ``filter[event_type]``,
  ``filter[started_at][gte|lte]``, ``filter[finished_at][gte|lte]``.
- ``GET  /v2/call_events`` — ``call.initiated``/``call.answered``/``call.hangup`` per call;
  ``filter[leg_id]``, ``filter[name]``, ``filter[type]``, ``filter[occurred_at][gte|gt|lte|lt]``.

Paging: ``page[number]``/``page[size]`` with ``meta.page_number``/``meta.total_pages``.
Auth: ``Authorization: Bearer <api key>``; errors are ``{"errors":[{code,title,detail}]}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping

from aiohttp import web

from simulator import voice_telnyx
from simulator.paging import BadQuery, telnyx_page
from simulator.state import SimCall, SimState
from simulator.times import iso_micro, parse_when
from simulator.voice import Voice, respond_then


def telnyx_error(status: int, code: str, title: str, detail: str,
                 pointer: str | None = None) -> web.Response:
    error = {"code": code, "title": title, "detail": detail}
    if pointer:
        error["source"] = {"pointer": pointer}
    return web.json_response({"errors": [error]}, status=status)


def check_auth(request: web.Request, state: SimState) -> web.Response | None:
    """None when the request carries the API key as a Bearer token; else Telnyx's 401.
    Shared by every Telnyx route."""
    if request.headers.get("Authorization") != f"Bearer {state.telnyx_api_key}":
        return telnyx_error(401, "10009", "Authentication failed",
                            "The API key is missing or invalid.")
    return None


def _bad(detail: str, pointer: str | None = None) -> web.Response:
    return telnyx_error(422, "10015", "Invalid parameter", detail, pointer)


def status_json(call: SimCall, now: float) -> dict:
    body = {"call_control_id": call.id, "call_leg_id": call.leg_id,
            "call_session_id": call.session_id, "is_alive": call.active, "record_type": "call",
            "call_duration": _duration(call, now), "client_state": "",
            "start_time": iso_micro(call.start)}
    if not call.active:
        body["end_time"] = iso_micro(call.end)
    return body


def _duration(call: SimCall, now: float) -> int:
    return round(now - call.start) if call.active else call.duration


def detail_record(call: SimCall, connection_id: str) -> dict:
    """A ``call-control`` detail record (field names as Telnyx's call-control CDRs use)."""
    return {"record_type": "call-control", "id": call.leg_id, "call_leg_id": call.leg_id,
            "call_session_id": call.session_id, "call_control_id": call.id,
            "connection_id": connection_id, "direction": call.direction,
            "cli": call.from_, "cld": call.to, "started_at": iso_micro(call.start),
            "answered_at": iso_micro(call.start) if call.answered else None,
            "finished_at": iso_micro(call.end), "call_sec": call.duration,
            "billed_sec": call.duration, "hangup_cause": call.hangup_cause,
            "sip_hangup_cause": str(call.sip) if call.sip else "unspecified",
            "mos": f"{call.mos:.2f}" if call.mos is not None else None, "status": "completed"}


def delivery_json(delivery) -> dict:
    attempts = [{**a, "started_at": iso_micro(a["started_at"]),
                 "finished_at": iso_micro(a["finished_at"])} for a in delivery.attempts]
    return {"id": delivery.id, "record_type": "webhook_delivery", "status": delivery.status,
            "started_at": iso_micro(delivery.started), "finished_at": iso_micro(delivery.finished),
            "user_id": "sim-user", "attempts": attempts,
            "webhook": {"id": delivery.id, "record_type": "event",
                        "event_type": delivery.event_type,
                        "occurred_at": iso_micro(delivery.started),
                        "payload": {"call_control_id": delivery.call_id}}}


def call_events(call: SimCall) -> list[dict]:
    """The webhook events a call produced, newest first."""
    def event(name: str, ts: float, extra: dict) -> dict:
        return {"call_leg_id": call.leg_id, "call_session_id": call.session_id,
                "event_timestamp": iso_micro(ts), "name": name, "record_type": "call_event",
                "type": "webhook", "metadata": {"call_control_id": call.id, **extra}, "_ts": ts}

    events = [event("call.initiated", call.start, {"direction": call.direction})]
    if call.answered:
        events.append(event("call.answered", call.start, {}))
    if not call.active:
        events.append(event("call.hangup", call.end, {"hangup_cause": call.hangup_cause}))
    return events[::-1]


def _range_filter(query: Mapping[str, str], name: str) -> Callable[[float | None], bool]:
    """``filter[name][gte|gt|lte|lt|eq]`` as a predicate over epoch seconds."""
    checks = []
    for op, test in (("gte", lambda v, t: v >= t), ("gt", lambda v, t: v > t),
                     ("lte", lambda v, t: v <= t), ("lt", lambda v, t: v < t),
                     ("eq", lambda v, t: abs(v - t) < 1)):
        raw = query.get(f"filter[{name}][{op}]")
        if raw:
            try:
                checks.append((test, parse_when(raw)[0]))
            except ValueError:
                raise BadQuery(f"filter[{name}][{op}] is not a date-time: {raw[:40]!r}") from None
    return lambda v: all(v is not None and test(v, t) for test, t in checks)


def _date_range(value: str | None, now: float) -> float:
    """Start of ``filter[date_range]`` (``today``, ``yesterday``, ``last_N_days``...)."""
    if not value:
        return float("-inf")
    midnight = now - now % 86400
    if value == "today":
        return midnight
    if value == "yesterday":
        return midnight - 86400
    match = re.fullmatch(r"last_(\d+)_days", value)
    if match:
        return midnight - int(match.group(1)) * 86400
    raise BadQuery(f"filter[date_range] is not a known range: {value[:40]!r}")


async def json_body(request: web.Request) -> dict | web.Response:
    """The JSON object body, or the 400 Telnyx answers for anything else."""
    try:
        body = json.loads(await request.text() or "{}")
    except ValueError:
        return telnyx_error(400, "10015", "Bad Request", "The request body is not valid JSON.")
    if not isinstance(body, dict):
        return telnyx_error(400, "10015", "Bad Request", "The request body must be an object.")
    return body


class TelnyxApi:
    def __init__(self, state: SimState, voice: Voice | None = None) -> None:
        self.state = state
        self.voice = voice  # plays dialled calls that have a webhook_url; None: only recorded

    def _auth(self, request: web.Request) -> web.Response | None:
        return check_auth(request, self.state)

    def _paged(self, request: web.Request, items: list, render) -> web.Response:
        try:
            page = telnyx_page(items, request.query)
        except BadQuery as exc:
            return _bad(str(exc))
        return web.json_response({"data": [render(x) for x in page.items], "meta": page.meta})

    async def active_calls(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request)) is not None:
            return denied
        if request.match_info["id"] != self.state.telnyx_connection_id:
            return telnyx_error(404, "10005", "Resource not found",
                                "The requested connection does not exist.")
        now = self.state.clock()
        return self._paged(request, self.state.active_calls("telnyx"), lambda c: {
            "call_control_id": c.id, "call_duration": _duration(c, now), "call_leg_id": c.leg_id,
            "call_session_id": c.session_id, "client_state": "", "record_type": "call"})

    async def call_status(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request)) is not None:
            return denied
        call = self.state.calls.get(request.match_info["id"])
        if call is None or call.provider != "telnyx":
            placed = self.state.placed.get(request.match_info["id"])
            if placed is not None and placed["provider"] == "telnyx":
                return web.json_response({"data": placed["resource"]})
            return telnyx_error(404, "10005", "Resource not found",
                                "Call not found or its data expired.")
        return web.json_response({"data": status_json(call, self.state.clock())})

    async def dial(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request)) is not None:
            return denied
        body = await json_body(request)
        if isinstance(body, web.Response):
            return body
        for name in ("connection_id", "to", "from"):
            if not body.get(name):
                return _bad(f"The '{name}' parameter is required.", f"/{name}")
        call_id = "v3:" + self.state.new_id("", 22)
        resource = {"call_control_id": call_id, "call_leg_id": self.state.new_id("", 32),
                    "call_session_id": self.state.new_id("", 32), "is_alive": False,
                    "record_type": "call", "start_time": iso_micro(self.state.clock())}
        placed = self.state.place("telnyx", call_id, body, resource)
        response = web.json_response({"data": resource})
        if self.voice is None or not body.get("webhook_url"):
            return response  # nothing to call back: the call is only recorded
        placed["played"] = True  # the traffic generator's answer_placed_calls leaves it alone
        played = voice_telnyx.register(self.voice, body, resource)
        script = voice_telnyx.play(self.voice, played)
        return await respond_then(request, response, lambda: self.voice.launch(played, script))

    async def action(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request)) is not None:
            return denied
        placed = self.state.placed.get(request.match_info["id"])
        if placed is None or placed["provider"] != "telnyx":
            return telnyx_error(404, "10005", "Resource not found",
                                "No call with this call_control_id was dialled.")
        body = await json_body(request)
        if isinstance(body, web.Response):
            return body
        action = request.match_info["action"]
        played = self.voice.calls.get(placed["id"]) if self.voice is not None else None
        if isinstance(played, voice_telnyx.TelnyxCall) and played.ended:
            voice_telnyx.reject(self.voice, played, action, body)
            return telnyx_error(422, "90018", "Call has already ended",
                                "This call is no longer active and can't receive commands.")
        placed.setdefault("actions", []).append({"action": action, "body": body,
                                                 "at": self.state.clock()})
        response = web.json_response({"data": {"result": "ok"}})
        if not isinstance(played, voice_telnyx.TelnyxCall):
            return response
        event = voice_telnyx.command(self.voice, played, action, body)
        if event is None:
            return response
        return await respond_then(request, response, lambda: played.inbox.put_nowait(event))

    async def texml_call(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request)) is not None:
            return denied
        if request.match_info["connection"] != self.state.telnyx_connection_id:
            return telnyx_error(404, "10005", "Resource not found",
                                "The requested connection does not exist.")
        body = await json_body(request)
        if isinstance(body, web.Response):
            return body
        for name in ("From", "To"):
            if not body.get(name):
                return _bad(f"The '{name}' parameter is required.", f"/{name}")
        if not (body.get("Texml") or body.get("Url")):
            return _bad("One of 'Texml' or 'Url' is required.", "/Texml")
        call_sid = "v3:" + self.state.new_id("", 40)
        resource = {"call_sid": call_sid, "from": body["From"], "to": body["To"],
                    "status": "queued"}
        self.state.place("telnyx", call_sid, body, resource)
        return web.json_response(resource)

    async def detail_records(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request)) is not None:
            return denied
        query = request.query
        record_type = query.get("filter[record_type]")
        if not record_type:
            return _bad("filter[record_type] is required.", "/filter/record_type")
        try:
            since = _date_range(query.get("filter[date_range]"), self.state.clock())
            started = _range_filter(query, "started_at")
            calls = [c for c in self.state.provider_calls("telnyx")
                     if record_type == "call-control" and not c.active
                     and c.start >= since and started(c.start)]
            connection = self.state.telnyx_connection_id
            return self._paged(request, calls, lambda c: detail_record(c, connection))
        except BadQuery as exc:
            return _bad(str(exc))

    async def webhook_deliveries(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request)) is not None:
            return denied
        query = request.query
        status = query.get("filter[status][eq]")
        if status not in (None, "delivered", "failed"):
            return _bad("filter[status][eq] must be delivered or failed.")
        types = set(filter(None, query.get("filter[event_type]", "").split(",")))
        try:
            started, finished = (_range_filter(query, "started_at"),
                                 _range_filter(query, "finished_at"))
            items = [d for d in reversed(self.state.deliveries)
                     if (status is None or d.status == status)
                     and (not types or d.event_type in types)
                     and started(d.started) and finished(d.finished)]
            return self._paged(request, items, delivery_json)
        except BadQuery as exc:
            return _bad(str(exc))

    async def call_events(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request)) is not None:
            return denied
        query, now = request.query, self.state.clock()
        leg = query.get("filter[leg_id]")
        name, kind = query.get("filter[name]"), query.get("filter[type]")
        try:
            occurred = _range_filter(query, "occurred_at")
            events = [e for c in self.state.provider_calls("telnyx")
                      if not leg or c.leg_id == leg for e in call_events(c)
                      if (leg or e["_ts"] >= now - 86400) and occurred(e["_ts"])
                      and (not name or e["name"] == name) and (not kind or e["type"] == kind)]
            return self._paged(request, events,
                               lambda e: {k: v for k, v in e.items() if k != "_ts"})
        except BadQuery as exc:
            return _bad(str(exc))


def add_routes(app: web.Application, state: SimState, voice: Voice | None = None) -> None:
    """Mount the Telnyx v2 paths on ``app`` (``voice`` plays dialled calls that call back)."""
    api = TelnyxApi(state, voice)
    app.router.add_get("/v2/connections/{id}/active_calls", api.active_calls)
    app.router.add_get("/v2/calls/{id}", api.call_status)
    app.router.add_post("/v2/calls", api.dial)
    app.router.add_post("/v2/calls/{id}/actions/{action}", api.action)
    app.router.add_post("/v2/texml/calls/{connection}", api.texml_call)
    app.router.add_get("/v2/detail_records", api.detail_records)
    app.router.add_get("/v2/webhook_deliveries", api.webhook_deliveries)
    app.router.add_get("/v2/call_events", api.call_events)

"""Twilio's REST API as the real ``twilio`` SDK sees it: Calls, Voice Insights, Monitor alerts.

Paths (point ``client.api``/``client.insights``/``client.monitor`` ``.base_url`` at the server):

- ``GET  /2010-04-01/Accounts/{AccountSid}/Calls.json`` — filters ``Status``, ``To``, ``From``,
  ``StartTime``/``StartTime>``/``StartTime<`` (and ``EndTime``…), paging ``PageSize``, ``Page``,
  ``PageToken``; the answer has ``calls`` plus Twilio's paging meta keys only.
- ``GET  /2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json``
- ``POST /2010-04-01/Accounts/{AccountSid}/Calls.json`` — form ``To``, ``From``, ``Twiml`` or
  ``Url``; 201 with a queued call; kept in ``state.placed`` (the phone notifier's calls). With a
  ``StatusCallback`` or a ``<Gather action>`` in ``Twiml`` the call is then played out in the
  background (``voice_twilio.py``), and ``GET`` on it shows its final status.
- ``GET  /v1/Voice/Summaries`` and ``/v1/Voice/{CallSid}/Summary`` — Insights summaries of
  ended calls (``meta.key`` = ``call_summaries``, absolute ``meta.next_page_url``). MOS is
  at ``sdk_edge.metrics.inbound.mos.{avg,min,max}``; ``low_mos`` tag under 3.5.
- ``GET  /v1/Alerts`` (``LogLevel``, ``StartDate``, ``EndDate``) and ``/v1/Alerts/{Sid}``.

Every request needs HTTP basic auth (account SID, auth token): else 401 with Twilio's body.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import urlencode

from aiohttp import web

from simulator import voice_twilio
from simulator.paging import BadQuery, twilio_page
from simulator.state import SimCall, SimState
from simulator.times import iso_z, parse_when, rfc2822
from simulator.voice import Voice, respond_then

CALL_STATUS = {"completed": "completed", "dropped": "completed", "failed": "failed",
               "busy": "busy", "no_answer": "no-answer", "canceled": "canceled"}
INSIGHTS_STATE = {"completed": "completed", "dropped": "completed", "failed": "fail",
                  "busy": "busy", "no_answer": "noanswer", "canceled": "canceled"}
PREFIX = "/2010-04-01/Accounts/{account}"


def twilio_error(status: int, code: int, message: str) -> web.Response:
    return web.json_response({"code": code, "message": message, "status": status,
                              "more_info": f"https://www.twilio.com/docs/errors/{code}"},
                             status=status)


def check_auth(request: web.Request, state: SimState) -> web.Response | None:
    """None when the request carries the account's basic auth (and names that account in its
    path); else the 401 (or 404) Twilio answers. Shared by every Twilio route."""
    header = request.headers.get("Authorization", "")
    try:
        decoded = base64.b64decode(header.removeprefix("Basic ")).decode()
        user, _, password = decoded.partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        user = password = ""
    if not header.startswith("Basic ") or (user, password) != (
            state.twilio_account_sid, state.twilio_auth_token):
        return twilio_error(401, 20003, "Authenticate")
    account = request.match_info.get("account")
    if account is not None and account != user:
        return twilio_error(404, 20404, f"The requested resource {request.path} was not found")
    return None


def call_status(call: SimCall) -> str:
    if call.active:
        return "in-progress" if call.answered else "ringing"
    return CALL_STATUS[call.outcome]


def call_json(call: SimCall, account: str) -> dict:
    """A Call resource as Twilio renders it (``duration`` a string, times RFC 2822)."""
    uri = f"/2010-04-01/Accounts/{account}/Calls/{call.id}.json"
    answered_end = not call.active and call.answered
    return {
        "sid": call.id, "account_sid": account, "parent_call_sid": None,
        "status": call_status(call), "direction": "outbound-api"
        if call.direction == "outbound" else "inbound",
        "from": call.from_, "from_formatted": call.from_, "to": call.to, "to_formatted": call.to,
        "start_time": rfc2822(call.start), "end_time": rfc2822(call.end) if answered_end else None,
        "duration": str(call.duration) if answered_end else None,
        "date_created": rfc2822(call.start), "date_updated": rfc2822(call.end or call.start),
        "answered_by": None, "api_version": "2010-04-01", "caller_name": None,
        "forwarded_from": None, "group_sid": None, "phone_number_sid": None, "price": None,
        "price_unit": "USD", "queue_time": "0", "trunk_sid": None, "annotation": None,
        "uri": uri, "subresource_uris": {"notifications": uri.replace(".json",
                                                                      "/Notifications.json")},
    }


def summary_json(call: SimCall, account: str, base: str) -> dict:
    """A Voice Insights call summary of an ended call."""
    tags = []
    metrics: dict = {}
    if call.mos is not None:
        metrics = {"inbound": {"mos": {"avg": round(call.mos, 2), "min": round(call.mos - 0.2, 2),
                                       "max": round(min(4.5, call.mos + 0.2), 2)}}}
        if call.mos < 3.5:
            tags.append("low_mos")
    quality = call.quality or {}
    if quality.get("packet_loss_pct", 0) > 5:
        tags.append("high_packet_loss")
    return {
        "account_sid": account, "call_sid": call.id, "answered_by": "unknown",
        "call_type": "carrier", "call_state": INSIGHTS_STATE[call.outcome],
        "processing_state": "complete", "created_time": iso_z(call.start),
        "start_time": iso_z(call.start), "end_time": iso_z(call.end),
        "duration": call.duration, "connect_duration": call.duration,
        "from": {"caller": call.from_}, "to": {"callee": call.to},
        "carrier_edge": {"metrics": {"inbound": {
            "jitter": {"avg": quality.get("jitter_avg", 0), "max": quality.get("jitter_max", 0)},
            "packets_loss_percentage": quality.get("packet_loss_pct", 0)}}},
        "client_edge": None, "sip_edge": None, "sdk_edge": {"metrics": metrics},
        "tags": tags, "attributes": {}, "trust": None, "annotation": None,
        "properties": {"pdd_ms": 900, "last_sip_response_num": call.sip,
                       "direction": "outbound_api" if call.direction == "outbound"
                       else "inbound", "disconnected_by": "callee", "queue_time": 0},
        "url": f"{base}/v1/Voice/{call.id}/Summary",
    }


def alert_json(alert, account: str, base: str, full: bool = False) -> dict:
    body = {"sid": alert.sid, "account_sid": account, "alert_text": alert.alert_text,
            "api_version": "2010-04-01", "date_created": iso_z(alert.created),
            "date_generated": iso_z(alert.created), "date_updated": iso_z(alert.created),
            "error_code": alert.error_code, "log_level": alert.log_level,
            "more_info": f"https://www.twilio.com/docs/errors/{alert.error_code}",
            "request_method": "POST", "request_url": alert.request_url,
            "resource_sid": alert.resource_sid, "service_sid": None,
            "url": f"{base}/v1/Alerts/{alert.sid}"}
    if full:
        body.update(request_variables="", request_headers="", response_body="",
                    response_headers="")
    return body


class TwilioApi:
    """Handlers over one :class:`SimState`."""

    def __init__(self, state: SimState, voice: Voice | None = None) -> None:
        self.state = state
        self.voice = voice  # plays created calls that call back; None: calls are only recorded

    def _auth(self, request: web.Request) -> web.Response | None:
        return check_auth(request, self.state)

    async def list_calls(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request)) is not None:
            return denied
        query = request.query
        try:
            calls = [c for c in self.state.provider_calls("twilio") if _matches(c, query)]
            page = twilio_page(calls, query, lambda c: c.id)
        except BadQuery as exc:
            return twilio_error(400, 20001, str(exc))
        account = self.state.twilio_account_sid
        filters = {k: v for k, v in query.items() if k not in ("Page", "PageSize", "PageToken")}

        def uri(extra: dict) -> str:
            return f"{request.path}?{urlencode({**filters, 'PageSize': page.page_size, **extra})}"

        next_uri = (uri({"Page": page.page + 1, "PageToken": page.next_token})
                    if page.next_token else None)
        return web.json_response({
            "calls": [call_json(c, account) for c in page.items],
            "first_page_uri": uri({"Page": 0}), "next_page_uri": next_uri,
            "previous_page_uri": None, "page": page.page, "page_size": page.page_size,
            "start": page.start, "end": page.start + max(0, len(page.items) - 1),
            "uri": request.path_qs})

    async def fetch_call(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request)) is not None:
            return denied
        sid = request.match_info["sid"].removesuffix(".json")
        call = self.state.calls.get(sid)
        if call is not None and call.provider == "twilio":
            return web.json_response(call_json(call, self.state.twilio_account_sid))
        placed = self.state.placed.get(sid)
        if placed is not None and placed["provider"] == "twilio":
            return web.json_response(placed["resource"])
        return twilio_error(404, 20404, f"The requested resource {request.path} was not found")

    async def create_call(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request)) is not None:
            return denied
        form = await request.post()
        if not form.get("To"):
            return twilio_error(400, 21201, "No 'To' number is specified")
        if not form.get("From"):
            return twilio_error(400, 21213, "No 'From' number is specified")
        if not (form.get("Url") or form.get("Twiml") or form.get("ApplicationSid")):
            return twilio_error(400, 21205, "Url parameter is required.")
        now = self.state.clock()
        call = SimCall("twilio", self.state.new_id("CA", 34), "completed", "outbound",
                       str(form["From"]), str(form["To"]), now, answered=False)
        resource = {**call_json(call, self.state.twilio_account_sid), "status": "queued",
                    "start_time": None}
        request_fields = {k: str(v) for k, v in form.items()}
        self.state.place("twilio", call.id, request_fields, resource)
        response = web.json_response(resource, status=201)
        if self.voice is None or not voice_twilio.wants_play(request_fields):
            return response  # nothing to call back: the call is only recorded
        played = voice_twilio.register(self.voice, request_fields, call.id, resource)
        script = voice_twilio.play(self.voice, played, request_fields)
        return await respond_then(request, response, lambda: self.voice.launch(played, script))

    async def list_summaries(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request)) is not None:
            return denied
        query, now = request.query, self.state.clock()
        try:
            start = parse_when(query.get("StartTime", "4h"), now)[0]
            end = parse_when(query.get("EndTime", "0m"), now)[0]
        except ValueError as exc:
            return twilio_error(400, 20001, f"Invalid StartTime/EndTime: {exc}")
        state_filter = query.get("CallState")
        processing = query.get("ProcessingState", "complete")
        abnormal = query.get("AbnormalSession")
        calls = [c for c in self.state.provider_calls("twilio")
                 if not c.active and start <= c.start <= end
                 and processing in ("complete", "completed", "all")
                 and (not state_filter or INSIGHTS_STATE[c.outcome] == state_filter)
                 and (abnormal is None or (c.sip != 200) == (abnormal == "true"))]
        base = f"{request.scheme}://{request.host}"
        return self._v1_page(request, calls, "call_summaries",
                             lambda c: summary_json(c, self.state.twilio_account_sid, base))

    async def fetch_summary(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request)) is not None:
            return denied
        call = self.state.calls.get(request.match_info["sid"])
        if call is None or call.provider != "twilio" or call.active:
            return twilio_error(404, 20404, f"The requested resource {request.path} was not found")
        base = f"{request.scheme}://{request.host}"
        return web.json_response(summary_json(call, self.state.twilio_account_sid, base))

    async def list_alerts(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request)) is not None:
            return denied
        query = request.query
        try:
            low = _bound(query.get("StartDate"), start=True)
            high = _bound(query.get("EndDate"), start=False)
        except ValueError as exc:
            return twilio_error(400, 20001, f"Invalid StartDate/EndDate: {exc}")
        level = query.get("LogLevel")
        alerts = [a for a in reversed(self.state.alerts)
                  if (not level or a.log_level == level) and low <= a.created <= high]
        base = f"{request.scheme}://{request.host}"
        return self._v1_page(request, alerts, "alerts",
                             lambda a: alert_json(a, self.state.twilio_account_sid, base))

    async def fetch_alert(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request)) is not None:
            return denied
        for alert in self.state.alerts:
            if alert.sid == request.match_info["sid"]:
                base = f"{request.scheme}://{request.host}"
                return web.json_response(alert_json(alert, self.state.twilio_account_sid, base,
                                                    full=True))
        return twilio_error(404, 20404, f"The requested resource {request.path} was not found")

    def _v1_page(self, request: web.Request, items: list, key: str, render) -> web.Response:
        """A v1 (Insights/Monitor) page: ``meta.key`` and an absolute ``meta.next_page_url``."""
        try:
            page = twilio_page(items, request.query,
                               lambda x: getattr(x, "id", None) or x.sid)
        except BadQuery as exc:
            return twilio_error(400, 20001, str(exc))
        filters = {k: v for k, v in request.query.items()
                   if k not in ("Page", "PageSize", "PageToken")}
        url = f"{request.scheme}://{request.host}{request.path}"

        def link(extra: dict) -> str:
            return f"{url}?{urlencode({**filters, 'PageSize': page.page_size, **extra})}"

        return web.json_response({key: [render(x) for x in page.items], "meta": {
            "page": page.page, "page_size": page.page_size, "first_page_url": link({"Page": 0}),
            "previous_page_url": None, "url": link({"Page": page.page}), "key": key,
            "next_page_url": link({"Page": page.page + 1, "PageToken": page.next_token})
            if page.next_token else None}})


def _bound(value: str | None, start: bool) -> float:
    """A Monitor StartDate/EndDate bound; a bare date covers that whole day."""
    if not value:
        return float("-inf") if start else float("inf")
    ts, date_only = parse_when(value)
    return ts if start or not date_only else ts + 86400 - 0.001


def _matches(call: SimCall, query) -> bool:
    """Whether ``call`` passes the Calls list filters in ``query`` (BadQuery on bad values)."""
    if query.get("Status") and call_status(call) != query["Status"]:
        return False
    if query.get("To") and call.to != query["To"]:
        return False
    if query.get("From") and call.from_ != query["From"]:
        return False
    for field_name, value in (("StartTime", call.start), ("EndTime", call.end)):
        for op in ("", ">", "<"):
            raw = query.get(field_name + op)
            if not raw:
                continue
            try:
                ts, date_only = parse_when(raw)
            except ValueError:
                raise BadQuery(f"{field_name}{op} is not a date: {raw[:40]!r}") from None
            if value is None or not _within(value, op, ts, date_only):
                return False
    return True


def _within(value: float, op: str, ts: float, date_only: bool) -> bool:
    """Twilio's ``X>=`` / ``X<=`` / ``X=`` on a date (whole day) or a datetime."""
    last = ts + 86400 - 0.001 if date_only else ts
    if op == ">":
        return value >= ts
    if op == "<":
        return value <= last
    return ts <= value <= (last if date_only else ts + 0.999)


def add_routes(app: web.Application, state: SimState, voice: Voice | None = None) -> None:
    """Mount the Twilio API, Insights and Monitor paths on ``app`` (``voice`` plays created
    calls that call back)."""
    api = TwilioApi(state, voice)
    app.router.add_get(PREFIX + "/Calls.json", api.list_calls)
    app.router.add_post(PREFIX + "/Calls.json", api.create_call)
    app.router.add_get(PREFIX + "/Calls/{sid}", api.fetch_call)
    app.router.add_get("/v1/Voice/Summaries", api.list_summaries)
    app.router.add_get("/v1/Voice/{sid}/Summary", api.fetch_summary)
    app.router.add_get("/v1/Alerts", api.list_alerts)
    app.router.add_get("/v1/Alerts/{sid}", api.fetch_alert)

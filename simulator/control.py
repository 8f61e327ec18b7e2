"""The control API that steers the simulator at run time (JSON in, JSON out).

- ``GET /control/scenario`` → ``{"name", "description", "since", "knobs", "allowed"}``
  (``since``: clock time it was switched on; PagerDuty events carry ``received_at`` on the
  same clock, for detection-latency measurements)
- ``PUT /control/scenario`` ``{"name": "high-drop-rate"}`` → the new scenario; an unknown name
  is 400 naming the allowed ones.
- ``GET /control/requests?service=pagerduty|slack|twilio|telnyx|smtp|statuspage|app|control``
  (optional ``limit``) → ``{"service", "count", "requests": [...]}`` oldest first.
- ``POST /control/fail`` ``{"service", "status", "count", "after_serving"}`` → the next
  ``count`` requests to ``service`` answer ``status`` (SMTP: the next DATA answers that code);
  with ``"after_serving": true`` each is served first and only its answer is the error.
- ``GET /control/notifications`` → what the notifier stand-ins received: PagerDuty events,
  Slack messages, SMTP mails, calls placed through Twilio/Telnyx, SMS sent through them.
- ``GET /control/summary`` → scenario, ended calls per provider and outcome, active calls.
- ``PUT /control/statuspage`` ``{"provider": "twilio", "indicator": "major"}`` → override one
  status page until the next scenario switch.
- ``PUT /control/traffic`` ``{"rate": 20, "hold_seconds": 3}`` → change the call rate (calls/s)
  and hold time of the running traffic generator.
- ``POST /control/phone`` ``{"number": "+15550001" | "*", "behaviour": "answer", "digits": "1"}``
  → what the person at that number (``"*"``: every number without its own) does when a placed
  call rings: ``answer`` (pressing ``digits``, one per Gather round), ``no-answer``, ``busy``,
  ``failed``, ``canceled`` or ``machine``. ``GET /control/phone`` → ``{"behaviours",
  "default", "calls"}``: the behaviours and every played call (``simulator.voice``).
- ``POST /control/slack/click``, ``GET /control/slack``, ``POST /control/sms/reply``,
  ``GET /control/sms``: button clicks and SMS (``control_messages.py``).
- ``POST /control/reset`` → forget calls, requests, notifications, faults, phone behaviours,
  played calls, clicks, ``response_url`` posts and SMS; scenario normal.

Bad input is 400 ``{"error": code, "detail": …}``; nothing here is ever slowed or failed.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass

from aiohttp import web

from simulator.appsite import AppStats
from simulator.core import SERVICES, Faults, Recorder
from simulator.pagerduty import PagerDutyState
from simulator.scenarios import SCENARIOS, Scenario, get_scenario
from simulator.slack import SlackState
from simulator.slack_clicks import SlackClicks
from simulator.sms import Sms
from simulator.smtp import SmtpSink
from simulator.state import SimState
from simulator.statuspage import set_indicator
from simulator.traffic import TrafficConfig
from simulator.voice import ANY_NUMBER, BadBehaviour, Voice

NOTIFIERS = ("pagerduty", "slack")


def apply(scenario: Scenario, state: SimState, faults: Faults) -> None:
    """Turn a scenario's API, status page, app and notifier knobs into faults and indicators."""
    for provider in ("twilio", "telnyx"):
        knobs = scenario.knobs(provider)
        faults.set_error_ratio(provider, knobs.api_error_ratio, knobs.api_error_status)
        faults.set_latency(provider, knobs.api_latency)
        state.status_indicator[provider] = knobs.status_indicator
    faults.set_error_ratio("app", scenario.app_failure_ratio, 500)
    faults.set_latency("app", scenario.app_latency)
    for service in NOTIFIERS:
        status = scenario.notifier_status
        faults.set_error_ratio(service, 1.0 if status else 0.0, status or 503)


@dataclass
class Control:
    """Everything the control API steers, and the current scenario."""

    state: SimState
    recorder: Recorder
    faults: Faults
    slack: SlackState
    pagerduty: PagerDutyState
    app_stats: AppStats
    smtp: SmtpSink | None = None
    traffic: TrafficConfig | None = None
    voice: Voice | None = None
    clicks: SlackClicks | None = None
    sms: Sms | None = None
    scenario: Scenario = SCENARIOS["normal"]
    since: float = 0.0                # clock time the current scenario was switched on

    def set_scenario(self, name: str) -> Scenario:
        """Switch to scenario ``name`` (ValueError naming the allowed ones when unknown)."""
        scenario = get_scenario(name)
        apply(scenario, self.state, self.faults)
        self.scenario, self.since = scenario, self.state.clock()
        return scenario

    def reset(self) -> None:
        self.state.reset()
        self.recorder.clear()
        self.faults.clear()
        self.slack.clear()
        self.pagerduty.clear()
        self.app_stats.clear()
        if self.smtp is not None:
            self.smtp.messages.clear()
        if self.voice is not None:
            self.voice.reset()
        if self.clicks is not None:
            self.clicks.clear()
        if self.sms is not None:
            self.sms.clear()
        self.set_scenario("normal")

    def notifications(self) -> dict:
        mails = [{k: v for k, v in asdict(m).items() if k != "raw"}
                 for m in (self.smtp.messages if self.smtp else [])]
        sms = [m.as_dict() for m in (self.sms.sent if self.sms else [])]
        return {"pagerduty": self.pagerduty.events, "slack": self.slack.messages,
                "smtp": mails, "calls": self.state.placed_calls(), "sms": sms}

    def summary(self) -> dict:
        ended = Counter((c.provider, c.outcome) for c in self.state.calls.values() if not c.active)
        return {"scenario": self.scenario.name,
                "ended": {p: {o: n for (q, o), n in ended.items() if q == p}
                          for p in ("twilio", "telnyx")},
                "active": {p: len(self.state.active_calls(p)) for p in ("twilio", "telnyx")},
                "status_indicator": dict(self.state.status_indicator),
                "app": {"accepted": self.app_stats.accepted, "refused": self.app_stats.refused}}


def control_error(status: int, code: str, detail: str) -> web.Response:
    """A control API refusal: ``status`` with ``{"error": code, "detail": detail}``."""
    return web.json_response({"error": code, "detail": detail}, status=status)


async def json_object(request: web.Request) -> dict | web.Response:
    """The JSON object body, or the 400 the control API answers for anything else."""
    try:
        body = json.loads(await request.text())
    except ValueError:
        return control_error(400, "invalid_json", "the body is not valid JSON")
    if not isinstance(body, dict):
        return control_error(400, "invalid_body", "the body must be a JSON object")
    return body


def _scenario_json(scenario: Scenario, since: float) -> dict:
    return {"name": scenario.name, "description": scenario.description, "since": since,
            "knobs": asdict(scenario), "allowed": list(SCENARIOS)}


class ControlApi:
    """Handlers of the control API over one :class:`Control`."""

    def __init__(self, control: Control) -> None:
        self.control = control

    async def get_scenario(self, request: web.Request) -> web.Response:
        return web.json_response(_scenario_json(self.control.scenario, self.control.since))

    async def put_scenario(self, request: web.Request) -> web.Response:
        body = await json_object(request)
        if isinstance(body, web.Response):
            return body
        name = body.get("name")
        if not isinstance(name, str):
            return control_error(400, "invalid_scenario",
                                 f"'name' is required; allowed: {', '.join(SCENARIOS)}")
        try:
            return web.json_response(_scenario_json(self.control.set_scenario(name),
                                                    self.control.since))
        except ValueError as exc:
            return control_error(400, "unknown_scenario", str(exc))

    async def requests(self, request: web.Request) -> web.Response:
        service = request.query.get("service", "")
        if service not in SERVICES:
            return control_error(400, "unknown_service",
                                 f"service must be one of {', '.join(SERVICES)}")
        limit = request.query.get("limit", "1000")
        if not limit.isdigit() or int(limit) < 1:
            return control_error(400, "invalid_limit", "limit must be a positive integer")
        found = self.control.recorder.requests(service)
        return web.json_response({"service": service, "count": len(found),
                                  "requests": [r.as_dict() for r in found[-int(limit):]]})

    async def fail(self, request: web.Request) -> web.Response:
        body = await json_object(request)
        if isinstance(body, web.Response):
            return body
        service, status, count = body.get("service"), body.get("status"), body.get("count", 1)
        after_serving = body.get("after_serving", False)
        if not isinstance(status, int) or not isinstance(count, int) or isinstance(status, bool):
            return control_error(400, "invalid_fault", "'status' and 'count' must be integers")
        if not isinstance(after_serving, bool):
            return control_error(400, "invalid_fault", "'after_serving' must be true or false")
        try:
            self.control.faults.fail(str(service), status, count, after_serving=after_serving)
        except ValueError as exc:
            return control_error(400, "invalid_fault", str(exc))
        return web.json_response({"service": service, "status": status, "count": count,
                                  "after_serving": after_serving})

    async def notifications(self, request: web.Request) -> web.Response:
        return web.json_response(self.control.notifications())

    async def summary(self, request: web.Request) -> web.Response:
        return web.json_response(self.control.summary())

    async def put_statuspage(self, request: web.Request) -> web.Response:
        body = await json_object(request)
        if isinstance(body, web.Response):
            return body
        try:
            set_indicator(self.control.state, str(body.get("provider")), str(body.get("indicator")))
        except ValueError as exc:
            return control_error(400, "invalid_statuspage", str(exc))
        return web.json_response(dict(self.control.state.status_indicator))

    async def put_traffic(self, request: web.Request) -> web.Response:
        body = await json_object(request)
        if isinstance(body, web.Response):
            return body
        if self.control.traffic is None:
            return control_error(409, "no_traffic", "this simulator runs no traffic generator")
        changes = {k: body[k] for k in ("rate", "hold_seconds") if k in body}
        bad = [k for k, v in changes.items()
               if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 10_000]
        if not changes or bad:
            return control_error(400, "invalid_traffic",
                                 "give 'rate' (calls/s) and/or 'hold_seconds' as numbers 0..10000")
        for key, value in changes.items():
            setattr(self.control.traffic, key, float(value))
        return web.json_response({"rate": self.control.traffic.rate,
                                  "hold_seconds": self.control.traffic.hold_seconds})

    async def get_phone(self, request: web.Request) -> web.Response:
        if self.control.voice is None:
            return control_error(409, "no_voice", "this simulator plays no calls")
        return web.json_response(self.control.voice.as_dict())

    async def post_phone(self, request: web.Request) -> web.Response:
        body = await json_object(request)
        if isinstance(body, web.Response):
            return body
        if self.control.voice is None:
            return control_error(409, "no_voice", "this simulator plays no calls")
        if "number" not in body:
            return control_error(400, "invalid_number",
                                 "'number' is required: a phone number or '*'")
        number, name = body["number"], body.get("behaviour")
        try:
            chosen = self.control.voice.phone_book.set(number, name, body.get("digits", ""))
        except BadBehaviour as exc:
            return control_error(400, exc.code, str(exc))
        return web.json_response({"number": number or ANY_NUMBER, "behaviour": chosen.name,
                                  "digits": chosen.digits})

    async def reset(self, request: web.Request) -> web.Response:
        self.control.reset()
        return web.json_response({"reset": True, "scenario": self.control.scenario.name})


def add_routes(app: web.Application, control: Control) -> None:
    """Mount ``/control/...`` on ``app``."""
    api = ControlApi(control)
    app.router.add_get("/control/scenario", api.get_scenario)
    app.router.add_put("/control/scenario", api.put_scenario)
    app.router.add_get("/control/requests", api.requests)
    app.router.add_post("/control/fail", api.fail)
    app.router.add_get("/control/notifications", api.notifications)
    app.router.add_get("/control/summary", api.summary)
    app.router.add_put("/control/statuspage", api.put_statuspage)
    app.router.add_put("/control/traffic", api.put_traffic)
    app.router.add_get("/control/phone", api.get_phone)
    app.router.add_post("/control/phone", api.post_phone)
    app.router.add_post("/control/reset", api.reset)

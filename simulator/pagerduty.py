"""PagerDuty Events API v2 (``POST /v2/enqueue``, ``/v2/change/enqueue``), served over TLS.

The ``pagerduty`` client refuses non-https base URLs, so :class:`Simulator` serves this app
with the throwaway certificate from ``tls.py``; clients trust ``pagerduty_ca_file``.

Contract (PagerDuty's developer docs): 202 ``{"status":"success","message":"Event processed",
"dedup_key":…}``; 400 ``{"status":"invalid event","message":"Event object is invalid",
"errors":[…]}`` for a bad event (no retry); 429 and 5xx on demand through fault injection
(service ``pagerduty``). Alerts are tracked per dedup_key: triggered → acknowledged → resolved;
a trigger after a resolve opens a new alert, as PagerDuty does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from aiohttp import web

from simulator.core import MAX_BODY, Faults, Recorder, json_errors, middleware
from simulator.state import SimState

ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITIES = ("critical", "error", "warning", "info")
MAX_EVENT = 512 * 1024


@dataclass
class PagerDutyAlert:
    dedup_key: str
    status: str               # triggered | acknowledged | resolved
    summary: str
    severity: str
    events: list[dict] = field(default_factory=list)


@dataclass
class PagerDutyState:
    """Events received (valid ones) and the alert each dedup_key stands for."""

    events: list[dict] = field(default_factory=list)
    alerts: dict[str, PagerDutyAlert] = field(default_factory=dict)
    opened: int = 0           # alerts opened (a re-trigger after resolve counts again)

    def clear(self) -> None:
        self.events.clear()
        self.alerts.clear()
        self.opened = 0


def _invalid(*errors: str) -> web.Response:
    return web.json_response({"status": "invalid event", "message": "Event object is invalid",
                              "errors": list(errors)}, status=400)


def validate(event: object, routing_key: str) -> list[str]:
    """What is wrong with ``event`` as PagerDuty would say it; empty when valid."""
    if not isinstance(event, dict):
        return ["Event object must be a JSON object"]
    errors = []
    if event.get("routing_key") != routing_key:
        errors.append("'routing_key' is missing or invalid")
    action = event.get("event_action")
    if action not in ACTIONS:
        errors.append(f"'event_action' must be one of {', '.join(ACTIONS)}")
    key = event.get("dedup_key")
    if key is not None and (not isinstance(key, str) or len(key) > 255):
        errors.append("'dedup_key' must be a string of at most 255 characters")
    if action in ("acknowledge", "resolve") and not key:
        errors.append(f"'dedup_key' is required for {action}")
    if action == "trigger":
        payload = event.get("payload")
        if not isinstance(payload, dict):
            return [*errors, "'payload' is missing or not an object"]
        summary = payload.get("summary")
        if not isinstance(summary, str) or not summary or len(summary) > 1024:
            errors.append("'payload.summary' is required and at most 1024 characters")
        if not isinstance(payload.get("source"), str) or not payload.get("source"):
            errors.append("'payload.source' is required")
        if payload.get("severity") not in SEVERITIES:
            errors.append(f"'payload.severity' must be one of {', '.join(SEVERITIES)}")
    return errors


def apply(pd: PagerDutyState, event: dict, dedup_key: str) -> None:
    """Move the alert behind ``dedup_key`` as PagerDuty would."""
    action = event["event_action"]
    alert = pd.alerts.get(dedup_key)
    if action == "trigger":
        if alert is None or alert.status == "resolved":
            payload = event["payload"]
            alert = PagerDutyAlert(dedup_key, "triggered", payload["summary"], payload["severity"])
            pd.alerts[dedup_key] = alert
            pd.opened += 1
    elif alert is not None and alert.status != "resolved":
        alert.status = "acknowledged" if action == "acknowledge" else "resolved"
    if alert is not None:
        alert.events.append(event)


def create_app(state: SimState, pd: PagerDutyState, recorder: Recorder,
               faults: Faults) -> web.Application:
    """The Events API app; every request recorded under service ``pagerduty``."""

    async def enqueue(request: web.Request) -> web.Response:
        raw = await request.read()
        if len(raw) > MAX_EVENT:
            return _invalid(f"Event is larger than {MAX_EVENT} bytes")
        try:
            event = json.loads(raw)
        except ValueError:
            return _invalid("Request body is not valid JSON")
        errors = validate(event, state.pagerduty_routing_key)
        if errors:
            return _invalid(*errors)
        dedup_key = event.get("dedup_key") or state.new_id("", 32)
        pd.events.append({**event, "dedup_key": dedup_key, "received_at": state.clock()})
        apply(pd, event, dedup_key)
        return web.json_response({"status": "success", "message": "Event processed",
                                  "dedup_key": dedup_key}, status=202)

    async def change(request: web.Request) -> web.Response:
        try:
            event = json.loads(await request.read())
        except ValueError:
            return _invalid("Request body is not valid JSON")
        if not isinstance(event, dict) or event.get("routing_key") != state.pagerduty_routing_key:
            return _invalid("'routing_key' is missing or invalid")
        return web.json_response({"status": "success", "message": "Change event processed"},
                                 status=202)

    app = web.Application(middlewares=[json_errors,
                                       middleware(recorder, faults, lambda _: "pagerduty")],
                          client_max_size=MAX_BODY)
    app.router.add_post("/v2/enqueue", enqueue)
    app.router.add_post("/v2/change/enqueue", change)
    return app

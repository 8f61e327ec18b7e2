"""Request recording, fault injection and latency shared by every simulated service.

:class:`Recorder` keeps every request (service, method, path, query, body, headers minus
credentials); :class:`Faults` decides whether a request fails (one-shot ``fail(service, status,
count)``, a scenario's error ratio drawn from the seeded RNG) and how long it waits. A one-shot
failure ``after_serving`` lets the service act on the request and then loses its answer, as a
gateway that timed out on a slow upstream does: the client sees the error although the thing
was done.
:func:`middleware` applies both to an aiohttp app whose paths map to services through
:func:`service_for_path`. Each service answers injected errors in its own provider's error
format (``ERROR_BODIES``), so the real SDKs raise their real exception types.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from aiohttp import web

log = logging.getLogger("simulator")
SERVICES = ("twilio", "telnyx", "statuspage", "slack", "pagerduty", "smtp", "app", "control")
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
MAX_BODY = 1024 * 1024


@dataclass(frozen=True)
class Recorded:
    """One request as a service saw it. ``json``/``form`` hold the parsed body when it was one."""

    service: str
    method: str
    path: str
    query: dict
    headers: dict
    body: str
    json: object = None
    form: dict | None = None
    at: float = 0.0

    def as_dict(self) -> dict:
        return {"service": self.service, "method": self.method, "path": self.path,
                "query": self.query, "headers": self.headers, "body": self.body,
                "json": self.json, "form": self.form, "at": self.at}


class Recorder:
    """Bounded log of requests per service, oldest first."""

    def __init__(self, clock: Callable[[], float] = time.time, limit: int = 20_000) -> None:
        self._clock = clock
        self._items: deque[Recorded] = deque(maxlen=limit)

    def add(self, service: str, method: str, path: str, query: dict, headers: dict,
            body: str, content_type: str = "") -> Recorded:
        """Record one request; credentials in headers are never kept."""
        kept = {k: v for k, v in headers.items() if k.lower() not in SECRET_HEADERS}
        parsed_json, form = _parse_body(body, content_type)
        item = Recorded(service, method, path, dict(query), kept, body, parsed_json, form,
                        self._clock())
        self._items.append(item)
        return item

    def requests(self, service: str | None = None) -> list[Recorded]:
        return [r for r in self._items if service is None or r.service == service]

    def clear(self) -> None:
        self._items.clear()


def _parse_body(body: str, content_type: str) -> tuple[object, dict | None]:
    if "json" in content_type:
        try:
            return json.loads(body), None
        except ValueError:
            return None, None
    if "x-www-form-urlencoded" in content_type:
        return None, dict(parse_qsl(body, keep_blank_values=True))
    return None, None


@dataclass
class _Rule:
    status: int
    remaining: int
    after_serving: bool = False


@dataclass
class Faults:
    """Which requests fail and how slowly. ``rng`` and ``sleep`` are injectable for tests."""

    rng: random.Random = field(default_factory=lambda: random.Random(7))
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    _once: dict[str, list[_Rule]] = field(default_factory=dict)
    _ratio: dict[str, tuple[float, int]] = field(default_factory=dict)
    _latency: dict[str, float] = field(default_factory=dict)

    def fail(self, service: str, status: int, count: int = 1, *,
             after_serving: bool = False) -> None:
        """The next ``count`` requests to ``service`` answer ``status`` (queued after others);
        ``after_serving``: each is served first, its answer replaced by the error."""
        if service not in SERVICES:
            raise ValueError(f"unknown service {service!r}; one of {', '.join(SERVICES)}")
        if not 400 <= status <= 599 or count < 1:
            raise ValueError("status must be 400..599 and count at least 1")
        self._once.setdefault(service, []).append(_Rule(status, count, after_serving))

    def set_error_ratio(self, service: str, ratio: float, status: int = 503) -> None:
        """A share ``ratio`` (0..1) of requests to ``service`` answer ``status``."""
        self._ratio[service] = (max(0.0, min(1.0, ratio)), status)

    def set_latency(self, service: str, seconds: float) -> None:
        self._latency[service] = max(0.0, seconds)

    def latency(self, service: str) -> float:
        return self._latency.get(service, 0.0)

    def take(self, service: str) -> int | None:
        """The status this request must fail with, or None to serve it normally."""
        fault = self.take_fault(service)
        return fault[0] if fault else None

    def take_fault(self, service: str) -> tuple[int, bool] | None:
        """``(status, after_serving)`` when this request must fail, or None to serve it."""
        rules = self._once.get(service)
        if rules:
            rule = rules[0]
            rule.remaining -= 1
            if rule.remaining <= 0:
                rules.pop(0)
            return rule.status, rule.after_serving
        ratio, status = self._ratio.get(service, (0.0, 503))
        if ratio > 0 and self.rng.random() < ratio:
            return status, False
        return None

    def clear(self) -> None:
        self._once.clear()
        self._ratio.clear()
        self._latency.clear()


def service_for_path(path: str) -> str:
    """Which simulated service a path on the shared server belongs to."""
    if path.startswith(("/2010-04-01/", "/v1/")):
        return "twilio"
    if path.startswith("/v2/"):
        return "telnyx"
    if path.startswith(("/twilio/api/", "/telnyx/api/", "/statuspage/")):
        return "statuspage"
    if path.startswith(("/api/", "/slack/")):  # /slack/response/{id}: Slack's response_url
        return "slack"
    if path.startswith("/app/"):
        return "app"
    return "control"


def _twilio_error(status: int) -> web.Response:
    code = 20003 if status == 401 else 20000 + status
    body = {"code": code, "message": _REASONS.get(status, "Error"),
            "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status}
    return web.json_response(body, status=status)


def _telnyx_error(status: int) -> web.Response:
    body = {"errors": [{"code": str(10000 + status), "title": _REASONS.get(status, "Error"),
                        "detail": f"simulated {status} from the Telnyx simulator"}]}
    return web.json_response(body, status=status)


def _slack_error(status: int) -> web.Response:
    headers = {"Retry-After": "1"} if status == 429 else {}
    error = "ratelimited" if status == 429 else "service_unavailable"
    return web.json_response({"ok": False, "error": error}, status=status, headers=headers)


def _pagerduty_error(status: int) -> web.Response:
    if status == 429:
        body = {"status": "throttle event",
                "message": "Requests for this service are arriving too quickly. "
                           "Please retry later."}
    elif status == 400:
        body = {"status": "invalid event", "message": "Event object is invalid",
                "errors": ["simulated invalid event"]}
    else:
        body = {"status": "error", "message": _REASONS.get(status, "Error")}
    return web.json_response(body, status=status)


def _statuspage_error(status: int) -> web.Response:
    return web.json_response({"error": _REASONS.get(status, "Error")}, status=status)


def _plain_error(status: int) -> web.Response:
    return web.json_response({"error": "simulated_failure",
                              "detail": f"simulated {status} ({_REASONS.get(status, 'Error')})"},
                             status=status)


_REASONS = {400: "Bad Request", 401: "Authenticate", 403: "Forbidden", 404: "Not Found",
            408: "Request Timeout", 409: "Conflict", 422: "Unprocessable Entity",
            429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
            503: "Service Unavailable", 504: "Gateway Timeout"}
ERROR_BODIES: dict[str, Callable[[int], web.Response]] = {
    "twilio": _twilio_error, "telnyx": _telnyx_error, "slack": _slack_error,
    "pagerduty": _pagerduty_error, "statuspage": _statuspage_error}


def error_response(service: str, status: int) -> web.Response:
    """An injected failure in ``service``'s own error format."""
    return ERROR_BODIES.get(service, _plain_error)(status)


def middleware(recorder: Recorder, faults: Faults,
               service_of: Callable[[str], str] = service_for_path):
    """aiohttp middleware: record every request, then apply latency and injected failures.

    The control API is recorded but never slowed or failed, so tests can always steer.
    """

    @web.middleware
    async def simulate(request: web.Request, handler):
        service = service_of(request.path)
        if request.content_length and request.content_length > MAX_BODY:
            return web.json_response({"error": "payload_too_large",
                                      "detail": f"body over {MAX_BODY} bytes"}, status=413)
        raw = await request.read()
        recorder.add(service, request.method, request.path, dict(request.query),
                     dict(request.headers), raw.decode("utf-8", "replace"),
                     request.content_type)
        if service == "control":
            return await handler(request)
        delay = faults.latency(service)
        if delay:
            await faults.sleep(delay)
        fault = faults.take_fault(service)
        if fault is None:
            return await handler(request)
        status, after_serving = fault
        if after_serving:
            await handler(request)   # done, but the answer is lost on the way back
        return error_response(service, status)

    return simulate


@web.middleware
async def json_errors(request: web.Request, handler):
    """Unknown paths and methods, oversized bodies and surprises leave as JSON, never HTML."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        return web.json_response({"error": exc.reason.lower().replace(" ", "_"),
                                  "detail": f"{request.method} {request.path}: {exc.reason}"},
                                 status=exc.status)
    except Exception:  # a simulator bug must not become a traceback on the wire
        log.exception("simulator handler failed on %s", request.path)
        return web.json_response({"error": "internal", "detail": "simulator error; see its log"},
                                 status=500)

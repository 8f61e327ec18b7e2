"""``POST /alerts``: Alertmanager's webhook, answered 2xx only once the change is committed.

Order of checks: credentials (401, by the shell's access check; ``count_refused`` counts
it), size (413, ``CALLWATCH_ALERTS_MAX_BODY``), JSON (400
``invalid_json``), payload (400 ``invalid_payload`` with ``field``), then one store
transaction: the delivery's incident change and its outbox rows together, or nothing. A store
failure is 503 so Alertmanager retries (it retries 5xx only); a delivery already processed is
200 with ``"duplicate": true``.

The watchdog's heartbeat (alerts named ``policy.watchdog.alertname``) is recorded, never made
an incident: a delivery of nothing else is 200 with ``"status": "heartbeat"``; the other
alerts of a mixed one are applied as usual.
"""

from __future__ import annotations

import logging

import orjson
from aiohttp import web

from callwatch.web import ApiError, read_body
from receiver.domain.alertmanager import (
    DEFAULT_PAYLOAD_ONLY,
    AlertGroup,
    PayloadError,
    parse_payload,
)
from receiver.domain.watchdog import split_heartbeat
from receiver.http.common import RECEIVER, store_errors
from receiver.services.apply import apply_delivery, apply_heartbeat
from receiver.services.state import ReceiverState
from receiver.store.base import StoreError

log = logging.getLogger("callwatch.receiver.alerts")
ALERTS_PATH = "/alerts"


async def post_alerts(request: web.Request) -> web.Response:
    state = request.app[RECEIVER]
    group = _parse(await read_body(request, state.config.alerts_max_body), state)
    heartbeat, rest = split_heartbeat(group, state.policy.watchdog.alertname)
    with store_errors("the incident store is unavailable; the delivery was not recorded",
                      on_failure=lambda exc: _store_failed(state, exc)):
        if heartbeat:
            await apply_heartbeat(state)
        changes = None if rest is None else await apply_delivery(state, rest)
    if rest is None:
        state.metrics.deliveries.labels("heartbeat").inc()
        return web.json_response({"status": "heartbeat", "duplicate": False, "incident": None,
                                  "state": None, "priority": None, "notifications": 0})
    if changes is None:
        state.metrics.deliveries.labels("duplicate").inc()
        return web.json_response({"status": "duplicate", "duplicate": True})
    state.metrics.deliveries.labels("accepted").inc()
    incident = changes.incident
    return web.json_response({
        "status": "accepted", "duplicate": False,
        "incident": incident.id if incident else None,
        "state": incident.state if incident else None,
        "priority": incident.priority if incident else None,
        "notifications": len(changes.outbox)})


def count_refused(request: web.Request) -> None:
    """Told of every request the access check refuses: a refused ``POST /alerts`` is a
    delivery ``unauthorized`` (an Alertmanager with a stale token)."""
    if request.method == "POST" and request.path == ALERTS_PATH:
        request.app[RECEIVER].metrics.deliveries.labels("unauthorized").inc()


def _parse(body: bytes, state: ReceiverState) -> AlertGroup:
    try:
        data = orjson.loads(body)  # strict (no NaN), and about 3x json's speed
    except ValueError as exc:  # orjson.JSONDecodeError, invalid UTF-8 included
        state.metrics.deliveries.labels("rejected").inc()
        raise ApiError(400, "invalid_json", f"body is not valid JSON ({DEFAULT_PAYLOAD_ONLY}): "
                                            f"{_short(exc)}") from None
    try:
        return parse_payload(data)
    except PayloadError as exc:
        state.metrics.deliveries.labels("rejected").inc()
        raise ApiError(400, "invalid_payload", str(exc), field=exc.field) from None


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200]


def _store_failed(state: ReceiverState, exc: StoreError) -> None:
    state.metrics.deliveries.labels("unavailable").inc()
    log.warning("store failure; answering 503", extra={"error": str(exc)})

"""The runbooks' pipeline endpoints: ``GET /alerting/health`` and ``/alerting/metrics/summary``.

``/alerting/metrics/summary?metric_type=call_drop_rate&minutes=60`` reads the recording rule of
one threshold row from Prometheus: now, and the min, max and average over the window, per
provider, next to the policy's warning and critical values.
``/alerting/health`` says whether each part of the alerting pipeline is up, with its last error.
"""

from __future__ import annotations

from typing import Awaitable, Callable

import aiohttp
from aiohttp import web

from callwatch.web import POLICY, ApiError
from policy import catalog
from receiver.services.prometheus import PrometheusClient, UpstreamError, ready

MAX_MINUTES = 7 * 24 * 60
PROMETHEUS_URL = web.AppKey("prometheus_url", str)
ALERTMANAGER_URL = web.AppKey("alertmanager_url", str)
HTTP_SESSION = web.AppKey("alerting_http_session", aiohttp.ClientSession)
# Each returns {"name": ..., "up": bool, "detail": str, "last_error": str | None}.
HealthSource = Callable[[], Awaitable[list[dict]]]
HEALTH_SOURCES = web.AppKey("health_sources", list)

_STATS = {"current": "{record}", "min": "min_over_time({record}[{window}])",
          "max": "max_over_time({record}[{window}])", "avg": "avg_over_time({record}[{window}])"}


def setup_alerting_api(app: web.Application, prometheus_url: str, alertmanager_url: str) -> None:
    """Add the two endpoints; other parts register health sources in ``app[HEALTH_SOURCES]``."""
    app[PROMETHEUS_URL] = prometheus_url
    app[ALERTMANAGER_URL] = alertmanager_url
    app[HEALTH_SOURCES] = []
    app.cleanup_ctx.append(_http_session)
    app.router.add_get("/alerting/metrics/summary", metrics_summary)
    app.router.add_get("/alerting/health", alerting_health)


async def _http_session(app: web.Application):
    async with aiohttp.ClientSession() as session:
        app[HTTP_SESSION] = session
        yield


def _parse_query(request: web.Request) -> tuple[catalog.Row, int]:
    metric_type = request.query.get("metric_type", "")
    if metric_type not in catalog.ROWS:
        raise ApiError(400, "bad_metric_type",
                       f"metric_type must be one of {', '.join(catalog.ROWS)}; got {metric_type!r}")
    text = request.query.get("minutes", "60")
    if not text.isdigit() or not 1 <= int(text) <= MAX_MINUTES:
        raise ApiError(400, "bad_minutes",
                       f"minutes must be a whole number from 1 to {MAX_MINUTES}; got {text!r}")
    return catalog.ROWS[metric_type], int(text)


def _status(row: catalog.Row, value: float | None, warning: float, critical: float) -> str:
    if value is None:
        return "no_data"
    if row.breaches(value, critical):
        return "critical"
    return "warning" if row.breaches(value, warning) else "ok"


async def metrics_summary(request: web.Request) -> web.Response:
    row, minutes = _parse_query(request)
    policy = request.app[POLICY]
    threshold = policy.thresholds[row.key]
    client = PrometheusClient(request.app[HTTP_SESSION], request.app[PROMETHEUS_URL])
    providers: dict[str, dict] = {p: {stat: None for stat in _STATS} for p in policy.providers}
    try:
        for stat, template in _STATS.items():
            expr = template.format(record=row.record, window=f"{minutes}m")
            for sample in await client.query(expr):
                provider = sample.labels.get("provider")
                if provider in providers:
                    providers[provider][stat] = sample.value
    except UpstreamError as exc:
        raise ApiError(503, "prometheus_unavailable", str(exc)) from None
    for values in providers.values():
        values["status"] = _status(row, values["current"], threshold.warning, threshold.critical)
    return web.json_response({
        "metric_type": row.key, "title": row.title, "record": row.record, "unit": row.unit,
        "direction": row.direction, "minutes": minutes,
        "thresholds": {"warning": threshold.warning, "critical": threshold.critical,
                       "for_seconds": threshold.for_seconds},
        "providers": providers,
    })


async def alerting_health(request: web.Request) -> web.Response:
    session = request.app[HTTP_SESSION]
    components = []
    for name, key in (("prometheus", PROMETHEUS_URL), ("alertmanager", ALERTMANAGER_URL)):
        up, detail = await ready(session, request.app[key].rstrip("/") + "/-/ready")
        components.append({"name": name, "up": up, "detail": detail,
                           "last_error": None if up else detail})
    for source in request.app[HEALTH_SOURCES]:
        components.extend(await source())
    healthy = all(component["up"] for component in components)
    return web.json_response({"status": "ok" if healthy else "degraded",
                              "components": {c.pop("name"): c for c in components}})

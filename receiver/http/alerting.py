"""The runbooks' pipeline endpoints: ``GET /alerting/health`` and ``/alerting/metrics/summary``.

``/alerting/metrics/summary?metric_type=call_drop_rate&minutes=60`` reads the recording rule of
one threshold row from Prometheus: now, and the min, max and average over the window, per
provider, next to the policy's warning and critical values.
``/alerting/health`` says whether each part of the alerting pipeline is up, with its last error.
"""

from __future__ import annotations

from aiohttp import web

from callwatch.web import ApiError
from policy import catalog
from receiver.http.common import RECEIVER
from receiver.services.pipeline_health import pipeline_health
from receiver.services.prometheus import PrometheusClient, UpstreamError, ready

MAX_MINUTES = 7 * 24 * 60
_STATS = {"current": "{record}", "min": "min_over_time({record}[{window}])",
          "max": "max_over_time({record}[{window}])", "avg": "avg_over_time({record}[{window}])"}


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
    state = request.app[RECEIVER]
    policy = state.policy
    threshold = policy.thresholds[row.key]
    client = PrometheusClient(state.http, state.config.prometheus_url)
    providers: dict[str, dict] = {p: dict.fromkeys(_STATS) for p in policy.providers}
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
    state = request.app[RECEIVER]
    components = []
    for name, url in (("prometheus", state.config.prometheus_url),
                      ("alertmanager", state.config.alertmanager_url)):
        up, detail = await ready(state.http, url.rstrip("/") + "/-/ready")
        components.append({"name": name, "up": up, "detail": detail,
                           "last_error": None if up else detail})
    components.extend(await pipeline_health(state))
    healthy = all(component["up"] for component in components)
    return web.json_response({"status": "ok" if healthy else "degraded",
                              "components": {c.pop("name"): c for c in components}})

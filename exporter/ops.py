"""Ops endpoints the runbooks call (JSON; call ids appear here, never in metric labels). Each
needs the API's credentials, like the receiver's reads (``callwatch.access``).

- ``GET /telephony/calls/active[?provider=P&limit=N]``: live call counts per provider, by state
  and direction, and the oldest ``limit`` (default 100) live calls.
- ``GET /telephony/calls/active/quality``: MOS of calls that ended within the health window, per
  provider, against the policy's call_quality thresholds.
- ``GET /telephony/providers/{provider}/health``: see :func:`exporter.health.provider_health`.
  Unknown provider → 404 naming the known ones.
"""

from __future__ import annotations

import statistics
from collections import Counter

from aiohttp import web

from callwatch.web import POLICY, ApiError
from exporter.health import ProviderState, provider_health
from exporter.keys import STATES, TRACKER
from exporter.metrics import PROVIDERS


def add_ops_routes(app: web.Application) -> None:
    if STATES not in app:
        app[STATES] = {p: ProviderState() for p in PROVIDERS}
    app.router.add_get("/telephony/calls/active", active_calls)
    app.router.add_get("/telephony/calls/active/quality", active_quality)
    app.router.add_get("/telephony/providers/{provider}/health", health)


def _provider_param(request: web.Request, value: str | None) -> str | None:
    if value is not None and value not in PROVIDERS:
        raise ApiError(404, "unknown_provider",
                       f"unknown provider {value[:40]!r}; known providers: {', '.join(PROVIDERS)}")
    return value


async def active_calls(request: web.Request) -> web.Response:
    tracker = request.app[TRACKER]
    provider = _provider_param(request, request.query.get("provider"))
    try:
        limit = int(request.query.get("limit", "100"))
    except ValueError:
        raise ApiError(400, "bad_request", "limit must be a whole number") from None
    if not 0 <= limit <= 1000:
        raise ApiError(400, "bad_request", "limit must be between 0 and 1000")
    now = tracker.clock()
    providers = {}
    for name in ([provider] if provider else PROVIDERS):
        calls = list(tracker.active_calls(name))
        providers[name] = {"active": tracker.active_count(name),
                           "by_state": dict(Counter(c.state for c in calls)),
                           "by_direction": dict(Counter(c.direction for c in calls))}
    listed = list(tracker.active_calls(provider))[:limit]
    return web.json_response({
        "total": sum(p["active"] for p in providers.values()),
        "providers": providers,
        "calls": [{"provider": c.provider, "call_id": c.call_id, "state": c.state,
                   "direction": c.direction, "age_seconds": round(now - c.started, 1)}
                  for c in listed],
        "truncated": len(listed) < sum(p["active"] for p in providers.values()),
    })


async def active_quality(request: web.Request) -> web.Response:
    tracker = request.app[TRACKER]
    threshold = request.app[POLICY].thresholds["call_quality"]
    result = {}
    for provider in PROVIDERS:
        values = tracker.recent_mos(provider)
        mean = statistics.fmean(values) if values else None
        result[provider] = {
            "samples": len(values),
            "mos_avg": round(mean, 3) if mean is not None else None,
            "mos_min": min(values) if values else None,
            "mos_p50": statistics.median(values) if values else None,
            "below_warning": sum(v < threshold.warning for v in values),
            "status": ("no_data" if mean is None else "critical" if mean < threshold.critical
                       else "warning" if mean < threshold.warning else "ok"),
            "active_calls": tracker.active_count(provider),
        }
    return web.json_response({"window_seconds": tracker.window,
                              "thresholds": {"warning": threshold.warning,
                                             "critical": threshold.critical},
                              "providers": result})


async def health(request: web.Request) -> web.Response:
    provider = _provider_param(request, request.match_info["provider"])
    state = request.app[STATES][provider]
    policy = request.app[POLICY]
    row = policy.thresholds["provider_health"]
    return web.json_response(provider_health(
        provider, request.app[TRACKER], state, policy.minimum_traffic.answered_calls,
        row.warning, row.critical))

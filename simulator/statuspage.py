"""Atlassian Statuspage for both providers: ``/{provider}/api/v2/summary.json`` and ``status.json``.

``state.status_indicator[provider]`` (``none``, ``minor``, ``major``, ``critical``,
``maintenance``) drives the page: ``status.indicator``/``description``, the Voice-related
component statuses and, when not ``none``, one unresolved incident with that impact.
``set_indicator`` switches it (scenarios and the control API call it).
"""

from __future__ import annotations

from aiohttp import web

from simulator.state import SimState
from simulator.times import iso_micro

INDICATORS = ("none", "minor", "major", "critical", "maintenance")
PAGES = {"twilio": ("gpkpyklzq55q", "Twilio", "https://status.twilio.com"),
         "telnyx": ("telnyxstatus01", "Telnyx", "https://status.telnyx.com")}
COMPONENTS = {"twilio": ("Programmable Voice", "Voice Insights", "REST API", "Webhooks"),
              "telnyx": ("Call Control", "SIP Trunking", "API", "Webhooks")}
DESCRIPTIONS = {"none": "All Systems Operational", "minor": "Minor Service Outage",
                "major": "Partial System Outage", "critical": "Major System Outage",
                "maintenance": "Service Under Maintenance"}
# What the affected components (the first two: voice itself) show at each indicator.
AFFECTED = {"none": "operational", "minor": "degraded_performance", "major": "partial_outage",
            "critical": "major_outage", "maintenance": "under_maintenance"}


def set_indicator(state: SimState, provider: str, indicator: str) -> None:
    """Switch ``provider``'s page; ValueError naming the allowed values otherwise."""
    if provider not in PAGES:
        raise ValueError(f"unknown provider {provider!r}; one of {', '.join(PAGES)}")
    if indicator not in INDICATORS:
        raise ValueError(f"unknown indicator {indicator!r}; one of {', '.join(INDICATORS)}")
    state.status_indicator[provider] = indicator


def summary(state: SimState, provider: str) -> dict:
    """The ``summary.json`` document for ``provider`` as things stand."""
    page_id, name, url = PAGES[provider]
    indicator = state.status_indicator.get(provider, "none")
    now = iso_micro(state.clock())
    components = [{"id": f"{page_id}-c{i}", "name": comp, "page_id": page_id,
                   "status": AFFECTED[indicator] if i < 2 else "operational",
                   "created_at": "2015-01-01T00:00:00.000Z", "updated_at": now,
                   "position": i + 1, "description": None, "showcase": True,
                   "group_id": None, "group": False, "only_show_if_degraded": False}
                  for i, comp in enumerate(COMPONENTS[provider])]
    incidents = []
    if indicator not in ("none", "maintenance"):
        incidents.append({
            "id": f"{page_id}-inc1", "name": f"{name} voice calls failing or degraded",
            "status": "investigating", "impact": indicator, "page_id": page_id,
            "created_at": now, "updated_at": now, "monitoring_at": None, "resolved_at": None,
            "shortlink": f"{url}/incidents/sim",
            "components": [c for c in components if c["status"] != "operational"],
            "incident_updates": [{"status": "investigating", "body":
                                  "We are investigating elevated call failures.",
                                  "created_at": now}]})
    return {"page": {"id": page_id, "name": name, "url": url, "time_zone": "Etc/UTC",
                     "updated_at": now},
            "status": {"indicator": indicator, "description": DESCRIPTIONS[indicator]},
            "components": components, "incidents": incidents, "scheduled_maintenances": []}


def add_routes(app: web.Application, state: SimState) -> None:
    """Mount ``/twilio/api/v2/{summary,status}.json`` and the Telnyx twins."""

    async def summary_handler(request: web.Request) -> web.Response:
        return web.json_response(summary(state, request.match_info["provider"]))

    async def status_handler(request: web.Request) -> web.Response:
        doc = summary(state, request.match_info["provider"])
        return web.json_response({"page": doc["page"], "status": doc["status"]})

    app.router.add_get("/{provider:twilio|telnyx}/api/v2/summary.json", summary_handler)
    app.router.add_get("/{provider:twilio|telnyx}/api/v2/status.json", status_handler)

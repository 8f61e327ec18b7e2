"""An out-of-band pager: where Alertmanager sends callwatch's own alerts around callwatch.

``POST /oob/alertmanager`` takes Alertmanager's webhook payload (``version`` "4", ``status``,
``alerts`` with ``labels``), as a team's second pager would (``alertmanager.fallback_receiver:
{webhook_url: ...}``), and keeps every notification in ``OobPager.notifications``. A body
that is not such a payload is 400 JSON naming the problem, and is not kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class OobPager:
    notifications: list[dict] = field(default_factory=list)

    def alerts(self, alertname: str, status: str = "firing") -> list[dict]:
        """Every alert named ``alertname`` in that status, across notifications, oldest first."""
        return [alert for notification in self.notifications
                for alert in notification.get("alerts", [])
                if alert.get("labels", {}).get("alertname") == alertname
                and alert.get("status") == status]


def _problem(body: object) -> str | None:
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    if body.get("version") != "4":
        return "version must be \"4\" (Alertmanager's webhook payload)"
    alerts = body.get("alerts")
    if not isinstance(alerts, list) or not all(
            isinstance(a, dict) and isinstance(a.get("labels"), dict) for a in alerts):
        return "alerts must be a list of objects with labels"
    return None


def add_routes(app: web.Application, pager: OobPager) -> None:
    async def notify(request: web.Request) -> web.Response:
        try:
            body = json.loads(await request.read())
        except ValueError:
            body = None
        problem = _problem(body)
        if problem is not None:
            return web.json_response({"error": "invalid_payload", "detail": problem}, status=400)
        pager.notifications.append(body)
        return web.json_response({"status": "ok"})

    app.router.add_post("/oob/alertmanager", notify)

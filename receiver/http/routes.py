"""Every route of the receiver, in one table.

``add_routes(app)`` mounts them on the web shell (``callwatch.web.create_app``), which already
serves ``/metrics``, ``/healthz`` and ``/readyz``. Who may call each route: the handlers check
the receiver's credentials (``receiver.http.common.require_auth``) or, for PagerDuty's webhook,
the providers' call and text callbacks (``/voice/*``, ``/sms/*``) and Slack's clicks, their
signatures; the read-only incident and ``/alerting`` routes are open, and so are the on-call
reads (``/oncall``, its shifts and calendar feed): they name who is on call, which the policy
file already tells anyone who can read it, and a calendar app subscribing to the ``.ics`` feed
cannot send a bearer token.
"""

from __future__ import annotations

from aiohttp import web

from receiver.http import (
    actions,
    alerting,
    alerts,
    communications,
    incidents,
    oncall,
    pagerduty,
    slack,
    sms,
    voice,
)

ROUTES = (
    web.post("/alerts", alerts.post_alerts),
    web.get("/incidents", incidents.list_incidents),
    web.post("/incidents", actions.declare),
    web.get("/incidents/{incident_id}", incidents.get_incident),
    web.post("/incidents/{incident_id}/ack", actions.acknowledge),
    web.post("/incidents/{incident_id}/resolve", actions.resolve),
    web.get("/incidents/{incident_id}/communications", communications.rendered),
    web.get("/incidents/{incident_id}/report", communications.report),
    web.get("/oncall", oncall.who_is_on_call),
    web.get("/oncall/{schedule}/shifts", oncall.schedule_shifts),
    web.get("/oncall/{schedule}.ics", oncall.schedule_calendar),
    web.post("/webhooks/pagerduty", pagerduty.webhook),
    web.get("/alerting/metrics/summary", alerting.metrics_summary),
    web.get("/alerting/health", alerting.alerting_health),
    web.post("/voice/twilio/gather", voice.twilio_gather),
    web.post("/voice/twilio/status", voice.twilio_status),
    web.post("/voice/telnyx", voice.telnyx_event),
    web.post("/slack/interactions", slack.interactions),
    web.post("/sms/twilio", sms.twilio_sms),
    web.post("/sms/telnyx", sms.telnyx_sms),
)


def add_routes(app: web.Application) -> None:
    app.router.add_routes(ROUTES)

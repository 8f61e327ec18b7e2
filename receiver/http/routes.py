"""Every route of the receiver, in one table.

``add_routes(app)`` mounts them on the web shell (``callwatch.web.create_app``), which already
serves ``/metrics``, ``/healthz`` and ``/readyz``. Who may call each route is decided by the
shell's one access check (``callwatch.access``), before any handler runs: every route needs
the API's credentials (``CALLWATCH_RECEIVER_TOKEN``, or basic auth) unless the table of
exempt routes there (``callwatch.access.EXEMPT``) lets it in otherwise:

- signed: PagerDuty's webhook, the providers' call and text callbacks (``/voice/*``,
  ``/sms/*``) and Slack's clicks (``/slack/interactions``); their handlers verify the
  signatures;
- feed key: the calendar feed ``/oncall/{schedule}.ics``, which also takes ``?key=``, the
  HMAC of schedule and contact under the token (``callwatch.credentials.feed_key``), since a
  calendar app cannot send a header;
- console: the incident console's pages (``/ui/*``, ``receiver.http.ui``), which check their
  own session cookie and CSRF tokens, given by signing in with the token.

Everything else (``/alerts``, the incident reads and actions, ``/incidents/{id}/
communications``, ``/report``, ``/notes`` and ``/drill``, ``/reports/*``, ``/alerting/*``,
``/oncall`` and its shifts) needs the credentials. A refused ``POST /alerts`` is counted
(``alerts.count_refused``).
"""

from __future__ import annotations

from aiohttp import web

from callwatch.access import REFUSALS
from receiver.http import (
    actions,
    alerting,
    alerts,
    communications,
    drill,
    failover,
    followup,
    incidents,
    monthly,
    notes,
    oncall,
    pagerduty,
    reports,
    slack,
    sms,
    status_page,
    voice,
)
from receiver.http.ui import incident as console_incident
from receiver.http.ui import page as console_page
from receiver.http.ui import pages as console

ROUTES = (
    web.post(alerts.ALERTS_PATH, alerts.post_alerts),
    web.get("/incidents", incidents.list_incidents),
    web.post("/incidents", actions.declare),
    web.get("/incidents/{incident_id}", incidents.get_incident),
    web.post("/incidents/{incident_id}/ack", actions.acknowledge),
    web.post("/incidents/{incident_id}/resolve", actions.resolve),
    web.get("/incidents/{incident_id}/communications", communications.rendered),
    web.get("/incidents/{incident_id}/report", communications.report),
    web.post("/incidents/{incident_id}/status-page", status_page.publish_notice),
    web.post("/incidents/{incident_id}/failover", failover.request),
    web.post("/incidents/{incident_id}/notes", notes.add_note),
    web.post("/incidents/{incident_id}/drill", drill.record_drill),
    web.get("/reports/trends", reports.trends),
    web.get("/reports/monthly", monthly.review),
    web.post("/incidents/{incident_id}/report/done", followup.report_done),
    web.get("/incidents/{incident_id}/actions", followup.list_items),
    web.post("/incidents/{incident_id}/actions", followup.add_item),
    web.post("/incidents/{incident_id}/actions/{action_id}/close", followup.close_item),
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
    # the incident console (receiver/http/ui): HTML for browsers, its own session cookie
    web.get("/ui/login", console.login_form),
    web.post("/ui/login", console.login),
    web.post("/ui/logout", console.logout),
    web.get("/ui/", console.incidents),
    web.get("/ui/fragments/incidents", console.incident_rows),
    web.get("/ui/incidents/{incident_id}", console_incident.incident_page),
    web.post("/ui/incidents/{incident_id}/ack", console_incident.acknowledge),
    web.post("/ui/incidents/{incident_id}/resolve", console_incident.resolve),
    web.post("/ui/incidents/{incident_id}/escalate", console_incident.escalate),
    web.post("/ui/incidents/{incident_id}/notes", console_incident.add_note),
    web.get("/ui/oncall", console.oncall),
    web.get("/ui/trends", console.trends),
    web.get("/ui/static/{name}", console_page.static_file),
)


def add_routes(app: web.Application) -> None:
    app.router.add_routes(ROUTES)
    app[REFUSALS].append(alerts.count_refused)

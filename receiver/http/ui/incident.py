"""One incident in the console, and the buttons that act on it.

``GET /ui/incidents/{id}``: the incident (priority, state, the SLA countdown to its response
deadline), its alerts with their values and runbook/dashboard links, every page sent (channel,
person, delivery outcome, call answers, the key pressed or button clicked), the timeline, the
communications drafts (internal, customer, vendor; each with a copy button) and the
post-incident report. It reads what ``GET /incidents/{id}`` reads (the incident, its timeline,
its outbox rows) and renders the drafts and the report with ``/communications``' and
``/report``'s own functions.

``POST /ui/incidents/{id}/ack``, ``/resolve``, ``/escalate`` and ``/notes`` (field ``text``):
each form carries the session's CSRF token and acts as the signed-in person, ``via``
``console``, through the services the phone, Slack and the JSON API use
(``receiver.services.people``: ``act``, ``note``); then 303 back to the incident with what
happened (``?done=``). An unknown incident is a 404 page.
"""

from __future__ import annotations

import logging

from aiohttp import web

from receiver.domain.model import IncidentState
from receiver.http.common import RECEIVER
from receiver.http.communications import communications, report_text
from receiver.http.notes import MAX_NOTE
from receiver.http.ui import views
from receiver.http.ui.page import console, form, html, see_other
from receiver.http.ui.session import Session
from receiver.services import people

log = logging.getLogger("callwatch.receiver.console")
VIA = "console"
ACTIONS = {"ack": "acknowledge", "resolve": "resolve", "escalate": "escalate"}
# ?done= codes and what the page says about them
DONE = {
    "acknowledged": "You acknowledged the incident: escalation has stopped.",
    "resolved": "You resolved the incident.",
    "escalated": "Escalated: the next level is being paged now.",
    "no_further_level": "There is no further level to escalate to.",
    "conflict": "Nothing changed: the incident had already moved on (see its state).",
    "noted": "Your note is on the timeline.",
}


def _missing(request: web.Request, session: Session, incident_id: str) -> web.Response:
    return html(request, "error.html.j2", status=404, session=session, title="No such incident",
                detail=f"There is no incident with id {incident_id[:80]!r}.")


@console
async def incident_page(request: web.Request, session: Session) -> web.Response:
    state = request.app[RECEIVER]
    incident_id = request.match_info["incident_id"]
    store = state.opened_store()
    incident = await store.get_incident(incident_id)
    if incident is None:
        return _missing(request, session, incident_id)
    events = await store.timeline(incident_id)
    rows = await store.outbox_for(incident_id)
    drafts = await communications(state, incident, events, rows)
    now = state.clock()
    return html(
        request, "incident.html.j2", session=session, nav="incidents", incident=incident,
        now=int(now), age=views.duration(now - incident.opened_at),
        sla=views.sla(incident, state.policy, now), alerts=_alerts(incident, state.policy),
        pages=views.pages(rows, events, state.policy), timeline=views.entries(events,
                                                                              state.policy),
        drafts=[("internal", "Internal notice", drafts["internal_notice"]),
                ("customer", "Customer notice", drafts["customer_notice"]),
                ("vendor", "Vendor email", drafts["vendor_email"])],
        report=report_text(state, incident, events), max_note=MAX_NOTE,
        done=DONE.get(request.query.get("done", "")),
        open=incident.state != IncidentState.RESOLVED,
        triggered=incident.state == IncidentState.TRIGGERED)


def _alerts(incident, policy) -> list[dict[str, str]]:
    out = []
    for alert in incident.alerts:
        labels, notes = alert.get("labels", {}), alert.get("annotations", {})
        out.append({"name": labels.get("alertname", ""), "status": alert.get("status", ""),
                    "severity": labels.get("severity", ""),
                    "provider": labels.get("provider", ""),
                    "value": notes.get("value") or notes.get("description")
                    or notes.get("summary", ""),
                    "since": alert.get("startsAt", ""),
                    "runbook": _link(notes.get("runbook_url")),
                    "dashboard": _link(notes.get("dashboard_url")
                                       or policy.links.dashboard_url)})
    return out


def _link(url: object) -> str:
    """A link only when it is http(s): an annotation is not trusted to be one."""
    text = str(url or "")
    return text if text.lower().startswith(("http://", "https://")) else ""


def _back(incident_id: str, done: str) -> web.Response:
    return see_other(f"/ui/incidents/{incident_id}?done={done}")


async def _act(request: web.Request, session: Session, action: str) -> web.Response:
    await form(request, session)
    incident_id = request.match_info["incident_id"]
    acted = await people.act(request.app[RECEIVER], incident_id, action, session.name, VIA)
    if acted.result == "unknown":
        return _missing(request, session, incident_id)
    log.info(f"incident {action} from the console", extra={"incident": incident_id})
    return _back(incident_id, acted.result)


@console
async def acknowledge(request: web.Request, session: Session) -> web.Response:
    return await _act(request, session, ACTIONS["ack"])


@console
async def resolve(request: web.Request, session: Session) -> web.Response:
    return await _act(request, session, ACTIONS["resolve"])


@console
async def escalate(request: web.Request, session: Session) -> web.Response:
    return await _act(request, session, ACTIONS["escalate"])


@console
async def add_note(request: web.Request, session: Session) -> web.Response:
    fields = await form(request, session)
    incident_id = request.match_info["incident_id"]
    text = fields.get("text", "").strip()
    if not text or len(text) > MAX_NOTE:
        return html(request, "error.html.j2", status=400, session=session, title="Note refused",
                    detail=f"A note needs some text, at most {MAX_NOTE} characters.")
    event = await people.note(request.app[RECEIVER], incident_id, text, session.name, VIA)
    if event is None:
        return _missing(request, session, incident_id)
    return _back(incident_id, "noted")

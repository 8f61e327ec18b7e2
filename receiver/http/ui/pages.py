"""The console's sign-in, incident list, on-call and trends pages.

- ``GET /ui/login``, ``POST /ui/login``: the form (Token: the receiver token; your name);
  a wrong token is 401 and the form again;
- ``POST /ui/logout``: deletes the session cookie (CSRF-checked);
- ``GET /ui/``: incidents, open first; ``?state=``, ``?priority=``, ``?provider=`` filter,
  ``?refresh=`` is the seconds between the list's own refreshes (5);
- ``GET /ui/fragments/incidents``: the list's rows alone (the same filters), which the
  page's script swaps in;
- ``GET /ui/oncall``: each schedule's person on call now, the next handoff and who is next;
- ``GET /ui/trends``: MTTA/MTTR per priority per week and incidents per alert name, as SVG
  and as tables (``?weeks=``, 12).

The incident list reads the store with the incident API's own read (``page_incidents``): with
no state filter the open incidents (triggered, then acknowledged: up to ``LIMIT`` each) and the
``RECENT`` incidents resolved last; the timeline of each triggered one names who is paged.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from callwatch.credentials import same
from policy.model import PRIORITIES
from receiver.domain import oncall_views
from receiver.domain.incident_query import IncidentQuery
from receiver.domain.model import INCIDENT_STATES, Incident, IncidentState
from receiver.http.common import RECEIVER
from receiver.http.ui import charts, views
from receiver.http.ui import session as sessions
from receiver.http.ui.page import HOME, console, form, html, key, see_other
from receiver.http.ui.session import Session
from receiver.services.reports import response_trends

log = logging.getLogger("callwatch.receiver.console")
LIMIT = 100            # open incidents of each state on the list
RECENT = 20            # resolved incidents below them when no state is asked for
PAGED_LOOKUPS = 50     # triggered incidents whose timeline is read for "who is paged"
DEFAULT_REFRESH = 5


class BadFilter(ValueError):
    """A list filter the page does not offer (400)."""


# -- sign in, sign out ------------------------------------------------------------------
def _next(target: str | None) -> str:
    """Where to go after signing in: a console path, never another site."""
    if target and target.startswith("/ui/") and "//" not in target and "\\" not in target:
        return target
    return HOME


async def login_form(request: web.Request) -> web.Response:
    return html(request, "login.html.j2", next=_next(request.query.get("next")), error=None)


async def login(request: web.Request) -> web.StreamResponse:
    """Check the token (constant time); 303 with the session cookie, or 401 and the form."""
    state = request.app[RECEIVER]
    data = await request.post()
    given, name = str(data.get("token") or ""), str(data.get("name") or "").strip()
    target = _next(str(data.get("next") or ""))
    token = state.config.credentials.token
    error = None
    if not token:
        error = ("The console signs in with the receiver token, and CALLWATCH_RECEIVER_TOKEN "
                 "is not set on this receiver.")
    elif not given or not same(given, token):
        error = "That is not the receiver token."
    elif len(name) > sessions.MAX_NAME:
        error = f"Your name must be at most {sessions.MAX_NAME} characters."
    if error is not None:
        log.warning("console sign-in refused")
        return html(request, "login.html.j2", status=401, next=target, error=error)
    value, session = sessions.issue(key(request), name or "console", state.clock())
    response = see_other(target)
    response.set_cookie(sessions.COOKIE, value, max_age=sessions.SESSION_SECONDS,
                        path=sessions.COOKIE_PATH, httponly=True, samesite="Strict",
                        secure=state.config.public_url.lower().startswith("https://"))
    log.info("console sign-in", extra={"user": session.name})
    return response


@console
async def logout(request: web.Request, session: Session) -> web.StreamResponse:
    await form(request, session)
    response = see_other("/ui/login")
    response.del_cookie(sessions.COOKIE, path=sessions.COOKIE_PATH)
    return response


# -- the incident list ---------------------------------------------------------------------
def filters(request: web.Request) -> dict[str, str]:
    """The list's filters from the query (empty: any); BadFilter for a value not offered."""
    policy = request.app[RECEIVER].policy
    offered = {"state": INCIDENT_STATES, "priority": PRIORITIES,
               "provider": (*policy.providers, "all")}
    chosen = {}
    for name, allowed in offered.items():
        value = request.query.get(name, "")
        if value and value not in allowed:
            raise BadFilter(f"{name} must be one of {', '.join(allowed)}")
        chosen[name] = value
    return chosen


async def listing(request: web.Request, chosen: dict[str, str]) -> list[dict[str, Any]]:
    """The list's rows (module docstring); StoreError when the store cannot answer."""
    state = request.app[RECEIVER]
    store = state.opened_store()
    common = {"priority": chosen["priority"] or None, "provider": chosen["provider"] or None}
    asked = [(chosen["state"], LIMIT)] if chosen["state"] else [
        (IncidentState.TRIGGERED, LIMIT), (IncidentState.ACKNOWLEDGED, LIMIT),
        (IncidentState.RESOLVED, RECENT)]
    found: list[Incident] = []
    for wanted, limit in asked:
        page = await store.page_incidents(IncidentQuery(state=wanted, limit=limit, **common))
        found += page.incidents
    found = views.open_first(found)
    now = state.clock()
    rows = []
    for n, incident in enumerate(found):
        events = (await store.timeline(incident.id)
                  if incident.state == IncidentState.TRIGGERED and n < PAGED_LOOKUPS else None)
        rows.append(views.row(incident, events, state.policy, now))
    return rows


def _refresh(request: web.Request) -> int:
    text = request.query.get("refresh", "")
    return int(text) if text.isdigit() and 1 <= int(text) <= 300 else DEFAULT_REFRESH


async def _filtered(request: web.Request, session: Session
                    ) -> tuple[dict[str, str], list] | web.Response:
    """The list's filters and rows, or the 400 page naming an unknown filter."""
    try:
        chosen = filters(request)
    except BadFilter as exc:
        return html(request, "error.html.j2", status=400, session=session,
                    title="Unknown filter", detail=str(exc))
    return chosen, await listing(request, chosen)


@console
async def incidents(request: web.Request, session: Session) -> web.Response:
    found = await _filtered(request, session)
    if isinstance(found, web.Response):
        return found
    chosen, rows = found
    query = urlencode({k: v for k, v in chosen.items() if v})
    policy = request.app[RECEIVER].policy
    return html(request, "incidents.html.j2", session=session, nav="incidents", rows=rows,
                chosen=chosen, states=INCIDENT_STATES, priorities=PRIORITIES,
                providers=(*policy.providers, "all"), refresh=_refresh(request),
                fragment=f"/ui/fragments/incidents?{query}")


@console
async def incident_rows(request: web.Request, session: Session) -> web.Response:
    found = await _filtered(request, session)
    if isinstance(found, web.Response):
        return found
    return html(request, "incident_rows.html.j2", session=session, rows=found[1])


# -- on call, trends -----------------------------------------------------------------------
@console
async def oncall(request: web.Request, session: Session) -> web.Response:
    policy = request.app[RECEIVER].policy
    now = datetime.fromtimestamp(request.app[RECEIVER].clock(), UTC)
    body = oncall_views.oncall_body(policy, now)
    schedules = []
    for name, current in body["schedules"].items():
        later = oncall_views.shifts_body(policy, name, now, now + timedelta(days=14))["shifts"]
        upcoming = next((s for s in later if s["contact"] != current["contact"]), None)
        schedules.append({"name": name, "timezone": policy.schedules[name].timezone,
                          "now": current, "next": upcoming})
    return html(request, "oncall.html.j2", session=session, nav="oncall", at=body["at"],
                schedules=schedules)


def _weeks(request: web.Request) -> int | None:
    text = request.query.get("weeks", "12")
    return int(text) if text.isdigit() and 1 <= int(text) <= 104 else None


@console
async def trends(request: web.Request, session: Session) -> web.Response:
    weeks = _weeks(request)
    if weeks is None:
        return html(request, "error.html.j2", status=400, session=session,
                    title="Bad number of weeks", detail="weeks must be from 1 to 104")
    figures = await response_trends(request.app[RECEIVER], weeks)
    labels = [week["start"][5:10] for week in figures["series"]]

    def line(field: str) -> dict[str, list[float | None]]:
        return {p: [None if w["priorities"][p][field] is None
                    else w["priorities"][p][field] / 60 for w in figures["series"]]
                for p in PRIORITIES}

    names = [(row["alertname"] or "(declared by hand)", row["incidents"])
             for row in figures["alertnames"]]
    return html(request, "trends.html.j2", session=session, nav="trends", figures=figures,
                priorities=PRIORITIES, weeks=weeks,
                mtta=charts.lines("Mean time to acknowledge per week, minutes", labels,
                                  line("mtta_seconds"), "minutes"),
                mttr=charts.lines("Mean time to resolve per week, minutes", labels,
                                  line("mttr_seconds"), "minutes"),
                names=charts.bars("Incidents per alert name", names), counts=names)

"""Who is on call: ``GET /oncall``, ``GET /oncall/{schedule}/shifts`` and the calendar feed
``GET /oncall/{schedule}.ics``. All need the API's credentials, except that the feed also
opens to its feed key (``?key=``, ``callwatch.credentials.feed_key``): a calendar app cannot
send a header. The shell's access check decides that (``callwatch.access``); the key is a
secret, so nothing here logs a query string.

The bodies are shaped by ``receiver.domain.oncall_views`` (its docstring has the input rules);
here the query is read and its problems become the one JSON error shape: 400
``invalid_request`` naming the ``field`` (malformed or offset-less time, ``to`` not after
``from``, over 90 days, a missing contact), 404 ``not_found`` (unknown schedule or contact).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime

import icalendar
from aiohttp import web

from callwatch.web import ApiError
from receiver.domain import oncall_views as views
from receiver.domain.oncall_views import BadQuery, CalendarEvent, Unknown
from receiver.http.common import RECEIVER, invalid


async def who_is_on_call(request: web.Request) -> web.Response:
    state = request.app[RECEIVER]
    with _answers():
        at_text = request.query.get("at")
        at = views.parse_instant(at_text, "at") if at_text else _now(request)
        body = views.oncall_body(state.policy, at, request.query.get("schedule") or None)
    return web.json_response(body)


async def schedule_shifts(request: web.Request) -> web.Response:
    state = request.app[RECEIVER]
    with _answers():
        name = views.schedule(state.policy, request.match_info["schedule"]).name
        start, end = views.window(_now(request), request.query.get("from"),
                                  request.query.get("to"))
        body = views.shifts_body(state.policy, name, start, end)
    return web.json_response(body)


async def schedule_calendar(request: web.Request) -> web.Response:
    state = request.app[RECEIVER]
    now = _now(request)
    with _answers():
        name = views.schedule(state.policy, request.match_info["schedule"]).name
        key = views.contact(state.policy, request.query.get("contact"))
        events = views.calendar_events(state.policy, name, key, now)
    person = state.policy.contacts[key].name
    return web.Response(body=ical(events, f"On call: {name} ({person})", now),
                        content_type="text/calendar", charset="utf-8")


def ical(events: list[CalendarEvent], title: str, now: datetime) -> bytes:
    """An RFC 5545 VCALENDAR with one VEVENT per shift, times in UTC."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//callwatch//on-call schedule//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", title)
    for shift in events:
        event = icalendar.Event()
        event.add("uid", shift.uid)
        event.add("dtstamp", now)
        event.add("summary", shift.summary)
        event.add("dtstart", shift.start)
        event.add("dtend", shift.end)
        event.add("transp", "TRANSPARENT")  # being on call does not make a person busy
        calendar.add_component(event)
    return calendar.to_ical()


def _now(request: web.Request) -> datetime:
    return datetime.fromtimestamp(request.app[RECEIVER].clock(), UTC)


@contextlib.contextmanager
def _answers() -> Iterator[None]:
    """The domain's input errors as the one JSON error shape: 400 naming the field, 404."""
    try:
        yield
    except BadQuery as exc:
        raise invalid(exc.field, exc.problem) from None
    except Unknown as exc:
        raise ApiError(404, "not_found", str(exc)) from None

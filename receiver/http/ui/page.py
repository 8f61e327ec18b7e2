"""What every console page shares: the templates, the HTML response and its headers, the
session guard, and the two static files.

``console`` wraps a handler that needs a session: without a valid one a GET is sent to
``/ui/login?next=<where it was going>`` and anything else to ``/ui/login`` (303); a POST
whose ``csrf`` field is missing or not the session's is refused with a 403 page before the
handler runs (``form``). A store that cannot answer is a 503 page, a broken template
override a 500 page naming it: the console answers HTML, never a traceback.

Every page is sent ``Cache-Control: no-store`` and a Content-Security-Policy that allows only
the console's own script and style (no inline script, no inline style, no frames).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Awaitable, Callable
from importlib.resources import files
from typing import Any
from urllib.parse import quote

import jinja2
from aiohttp import web

from callwatch.web import ApiError
from receiver.domain.context import human
from receiver.http.common import RECEIVER
from receiver.http.ui import session as sessions
from receiver.http.ui.session import Session
from receiver.http.ui.views import duration
from receiver.store.base import StoreError

LOGIN = "/ui/login"
HOME = "/ui/"
STATIC = {"console.css": "text/css", "console.js": "text/javascript"}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
                               "img-src 'self'; connect-src 'self'; form-action 'self'; "
                               "base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
Handler = Callable[[web.Request, Session], Awaitable[web.StreamResponse]]


@functools.cache
def _templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(files("receiver.http.ui") / "templates")),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
        lstrip_blocks=True)
    env.globals["static"] = static_url
    env.filters["duration"] = duration
    env.filters["human"] = human
    return env


@functools.cache
def _static(name: str) -> bytes:
    return (files("receiver.http.ui") / "static" / name).read_bytes()


def static_url(name: str) -> str:
    """The file's URL with a digest of its content, so a browser never keeps a stale copy."""
    return f"/ui/static/{name}?v={hashlib.sha256(_static(name)).hexdigest()[:12]}"


async def static_file(request: web.Request) -> web.Response:
    """``GET /ui/static/{name}``: console.css or console.js; 404 for anything else."""
    name = request.match_info["name"]
    if name not in STATIC:
        return html(request, "error.html.j2", status=404, title="Not found",
                    detail="The console has no such file.")
    return web.Response(body=_static(name), content_type=STATIC[name], charset="utf-8",
                        headers={"Cache-Control": "public, max-age=86400",
                                 "X-Content-Type-Options": "nosniff"})


def html(request: web.Request, template: str, *, status: int = 200,
         session: Session | None = None, **context: Any) -> web.Response:
    """``template`` rendered with ``context`` (plus the session's name and CSRF token)."""
    if session is not None:
        context.setdefault("csrf", sessions.csrf_token(key(request), session))
    context.setdefault("user", session.name if session is not None else None)
    context.setdefault("csrf", "")
    context.setdefault("nav", "")
    body = _templates().get_template(template).render(**context)
    return web.Response(text=body, status=status, content_type="text/html", charset="utf-8",
                        headers=SECURITY_HEADERS)


def see_other(location: str) -> web.Response:
    """A 303 to ``location`` (after a form: the browser GETs it)."""
    return web.Response(status=303, headers={"Location": location, **SECURITY_HEADERS})


def key(request: web.Request) -> bytes:
    """The session key (``session.session_key``); the console needs the receiver token."""
    token = request.app[RECEIVER].config.credentials.token
    if not token:
        raise RuntimeError("the console needs CALLWATCH_RECEIVER_TOKEN")  # login refuses first
    return sessions.session_key(token)


def current(request: web.Request) -> Session | None:
    """The request's valid session, if it carries one."""
    state = request.app[RECEIVER]
    if not state.config.credentials.token:
        return None
    return sessions.read(key(request), request.cookies.get(sessions.COOKIE), state.clock())


def login_url(request: web.Request) -> str:
    if request.method != "GET":
        return LOGIN
    return f"{LOGIN}?next={quote(request.path_qs, safe='/')}"


async def form(request: web.Request, session: Session) -> dict[str, str]:
    """The POSTed form, once its CSRF token is the session's; raises the 403 page otherwise."""
    data = await request.post()
    fields = {name: value for name, value in data.items() if isinstance(value, str)}
    if not sessions.csrf_ok(key(request), session, fields.get("csrf")):
        raise Refused(html(request, "error.html.j2", status=403, session=session,
                           title="Form refused",
                           detail="The form's CSRF token is missing or is not this "
                                  "session's, so nothing was changed. Reload the page and "
                                  "try again."))
    return fields


class Refused(Exception):
    """A page to answer instead of the handler's (a refused form)."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


def console(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The session guard and error pages around a console handler (module docstring)."""

    @functools.wraps(handler)
    async def guarded(request: web.Request) -> web.StreamResponse:
        session = current(request)
        if session is None:
            return see_other(login_url(request))
        try:
            return await handler(request, session)
        except Refused as refused:
            return refused.response
        except StoreError:
            return html(request, "error.html.j2", status=503, session=session,
                        title="Store unavailable",
                        detail="The incident store is not answering; nothing was changed. "
                               "This page will work again when it does.")
        except ApiError as exc:  # a broken template override (500): its JSON detail names it
            if exc.status < 500:
                raise
            return html(request, "error.html.j2", status=exc.status, session=session,
                        title="Could not render",
                        detail=json.loads(exc.text or "{}").get("detail", ""))

    return guarded

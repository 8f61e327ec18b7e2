"""Which routes answer whom: one table (``EXEMPT``) and one check (the ``check_access``
middleware of the web shell), for the exporter's routes and the receiver's alike.

Every route needs the API's credentials (``callwatch.credentials``: the receiver token, or
basic auth) unless ``EXEMPT`` lists it. A path that matches no route needs them too: a caller
without them learns nothing, not even which paths exist. A route added anywhere is therefore
closed until a line here opens it; ``tests/test_access.py`` asks every route ``callwatch run``
mounts with and without the token, reading this table.

The exemptions, each for a caller that cannot hold the token:

- ``open``: the health probes (``/healthz``, ``/readyz``) of orchestrators and load balancers,
  and the API's contract (``/openapi.json``), which tells nothing the code does not;
- ``metrics``: ``/metrics``, open unless ``CALLWATCH_METRICS_TOKEN[_FILE]`` is set; then it
  takes that bearer token (what Prometheus's scrape ``authorization`` sends) or the API's;
- ``signed``: the providers' callbacks; each handler verifies the provider's signature
  itself (``callwatch.signatures``, ``receiver/http/callbacks.py``, PagerDuty's and Slack's);
- ``feed``: the calendar feed: the API's credentials, or ``?key=`` the feed key of that
  schedule and ``?contact=`` (``callwatch.credentials.feed_key``), for calendar apps that
  cannot send a header;
- ``console``: the incident console's pages (``/ui/*``), for browsers, which hold a session
  cookie instead: the console checks it, and every form's CSRF token, itself
  (``receiver/http/ui``); its sign-in form and its stylesheet and script answer anyone.

A refusal is 401 ``unauthorized`` in the one JSON error shape, naming what was missing or
wrong (never echoing what was sent), with ``WWW-Authenticate``. Components call
``configure_access(app, environ)`` as they are set up; a shell nobody configured refuses
every route outside the table. Callbacks in ``app[REFUSALS]`` hear of each refusal (the
receiver counts refused Alertmanager deliveries).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from aiohttp import hdrs, web

from callwatch.credentials import (
    Credentials,
    authorized,
    feed_key,
    load_credentials,
    load_metrics_token,
    same,
)
from callwatch.errors import ApiError


class Exempt(StrEnum):
    OPEN = "open"
    METRICS = "metrics"
    SIGNED = "signed"
    FEED = "feed"
    CONSOLE = "console"


# (method, route path as aiohttp spells it) -> (how it is let in, who calls it). HEAD is GET.
EXEMPT: dict[tuple[str, str], tuple[Exempt, str]] = {
    ("GET", "/healthz"): (Exempt.OPEN, "liveness probes"),
    ("GET", "/readyz"): (Exempt.OPEN, "readiness probes"),
    ("GET", "/openapi.json"): (Exempt.OPEN, "API clients and tools reading the contract"),
    ("GET", "/metrics"): (Exempt.METRICS, "Prometheus"),
    ("POST", "/telephony/webhooks/twilio"): (Exempt.SIGNED, "Twilio status callbacks"),
    ("POST", "/telephony/webhooks/telnyx"): (Exempt.SIGNED, "Telnyx call events"),
    ("POST", "/webhooks/pagerduty"): (Exempt.SIGNED, "PagerDuty v3 webhooks"),
    ("POST", "/voice/twilio/gather"): (Exempt.SIGNED, "Twilio: a key pressed on a page call"),
    ("POST", "/voice/twilio/status"): (Exempt.SIGNED, "Twilio: how a page call ended"),
    ("POST", "/voice/telnyx"): (Exempt.SIGNED, "Telnyx: page call events"),
    ("POST", "/sms/twilio"): (Exempt.SIGNED, "Twilio: a text reply"),
    ("POST", "/sms/telnyx"): (Exempt.SIGNED, "Telnyx: a text reply"),
    ("POST", "/slack/interactions"): (Exempt.SIGNED, "Slack: a button clicked"),
    ("GET", "/oncall/{schedule}.ics"): (Exempt.FEED, "calendar apps subscribing to a feed"),
    ("GET", "/ui/login"): (Exempt.CONSOLE, "browsers: the console's sign-in form"),
    ("POST", "/ui/login"): (Exempt.CONSOLE, "browsers: signing in with the token"),
    ("POST", "/ui/logout"): (Exempt.CONSOLE, "browsers: signing out (session, CSRF)"),
    ("GET", "/ui/"): (Exempt.CONSOLE, "browsers: the incident list (session)"),
    ("GET", "/ui/fragments/incidents"): (Exempt.CONSOLE, "the list refreshing (session)"),
    ("GET", "/ui/incidents/{incident_id}"): (Exempt.CONSOLE, "browsers: one incident (session)"),
    ("POST", "/ui/incidents/{incident_id}/ack"): (Exempt.CONSOLE, "the Acknowledge button"),
    ("POST", "/ui/incidents/{incident_id}/resolve"): (Exempt.CONSOLE, "the Resolve button"),
    ("POST", "/ui/incidents/{incident_id}/escalate"): (Exempt.CONSOLE, "the Escalate button"),
    ("POST", "/ui/incidents/{incident_id}/notes"): (Exempt.CONSOLE, "the Add note button"),
    ("GET", "/ui/oncall"): (Exempt.CONSOLE, "browsers: who is on call (session)"),
    ("GET", "/ui/trends"): (Exempt.CONSOLE, "browsers: the trends (session)"),
    ("GET", "/ui/static/{name}"): (Exempt.CONSOLE, "browsers: the console's CSS and script"),
}


@dataclass(frozen=True)
class AccessConfig:
    """What callers must present: the API's credentials; ``/metrics``'s own token, if any."""

    credentials: Credentials = field(default_factory=Credentials)
    metrics_token: str | None = field(default=None, repr=False)


ACCESS = web.AppKey("access", AccessConfig)
REFUSALS = web.AppKey("refusals", list)   # [(request) -> None]: told of every refusal


def configure_access(app: web.Application, environ: Mapping[str, str]) -> AccessConfig:
    """Read the credentials from ``environ`` onto ``app`` (SecretError for a bad file). Each
    component calls it; a second call must read the same (ValueError otherwise)."""
    config = AccessConfig(load_credentials(environ), load_metrics_token(environ))
    if ACCESS in app and app[ACCESS] != config:
        raise ValueError("the components of one app were given different credentials")
    app[ACCESS] = config
    return config


def exemption(request: web.Request) -> Exempt | None:
    """How the request's route is let in without the API's credentials; None: it is not."""
    resource = request.match_info.route.resource
    if resource is None:  # no route matched (404, 405)
        return None
    method = hdrs.METH_GET if request.method == hdrs.METH_HEAD else request.method
    found = EXEMPT.get((method, resource.canonical))
    return found[0] if found else None


@web.middleware
async def check_access(request: web.Request, handler):
    """The one check (module docstring): 401 unless the route is exempt or the request carries
    what it needs."""
    access = request.app.get(ACCESS) or AccessConfig()
    kind = exemption(request)
    header = request.headers.get(hdrs.AUTHORIZATION)
    if kind in (Exempt.OPEN, Exempt.SIGNED, Exempt.CONSOLE) \
            or authorized(header, access.credentials):
        return await handler(request)
    if kind is Exempt.METRICS and (access.metrics_token is None
                                   or _bearer(header, access.metrics_token)):
        return await handler(request)
    if kind is Exempt.FEED and _feed_key_ok(request, access.credentials):
        return await handler(request)
    for hear in request.app[REFUSALS]:
        hear(request)
    raise unauthorized(access.credentials, header, kind)


def unauthorized(credentials: Credentials, header: str | None = None,
                 kind: Exempt | None = None) -> ApiError:
    """The 401 naming what is missing or wrong; never what was sent."""
    if not credentials.configured:
        detail = ("API authentication is not configured: set CALLWATCH_RECEIVER_TOKEN or "
                  "CALLWATCH_RECEIVER_USERNAME/PASSWORD")
    elif kind is Exempt.METRICS:
        detail = ("missing or invalid credentials: /metrics takes the bearer token of "
                  "CALLWATCH_METRICS_TOKEN (or the API's credentials)")
    elif kind is Exempt.FEED:
        detail = ("missing or invalid credentials: a calendar feed takes the API's credentials "
                  "or its feed key (?contact=...&key=...)")
    elif not header:
        detail = "missing credentials: send Authorization: Bearer <CALLWATCH_RECEIVER_TOKEN>"
    else:
        detail = "invalid credentials"
    return ApiError(401, "unauthorized", detail,
                    headers={hdrs.WWW_AUTHENTICATE: 'Bearer realm="callwatch"'})


def _bearer(header: str | None, token: str) -> bool:
    scheme, _, value = (header or "").strip().partition(" ")
    return scheme.lower() == "bearer" and same(value.strip(), token)


def _feed_key_ok(request: web.Request, credentials: Credentials) -> bool:
    key, contact = request.query.get("key"), request.query.get("contact")
    if not (credentials.token and key and contact):
        return False
    return same(key, feed_key(credentials.token, request.match_info["schedule"], contact))


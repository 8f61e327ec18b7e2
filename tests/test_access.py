"""Who may call what, on the app ``callwatch run`` serves (exporter and receiver on one shell).

Every route is read from the app itself and judged by ``callwatch.access.EXEMPT``: a route
outside the table answers 401 without the token and its own answer with it (``SAMPLES`` says
how to ask each; a new route without a sample fails here, so adding one forces a decision);
a route in the table answers the same with and without the token. Then the calendar feed's
key, ``/metrics``'s own token, and a shell with no credentials configured.
"""

from __future__ import annotations

import logging

import pytest
from aiohttp.test_utils import TestServer
from prometheus_client import CollectorRegistry

from callwatch.access import EXEMPT, Exempt, configure_access
from callwatch.credentials import feed_key
from callwatch.logs import JsonFormatter
from callwatch.web import create_app
from exporter.app import setup_exporter
from receiver.app import setup_receiver
from tests.receiver.standins import payload

TOKEN = "access-test-token-93c1"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
METRICS_TOKEN = "metrics-only-token-5b2"

# (method, route) -> (path to ask, JSON body, the status the handler answers with the token).
# {incident} is an incident declared first. /alerting/metrics/summary reads Prometheus, which
# this app has none of: its 503 is the handler's own answer, past the access check.
SAMPLES: dict[tuple[str, str], tuple[str, object, int]] = {
    ("POST", "/alerts"): ("/alerts", payload(), 200),
    ("GET", "/incidents"): ("/incidents", None, 200),
    ("POST", "/incidents"): ("/incidents", {"summary": "drill", "priority": "P3",
                                            "description": "access test"}, 201),
    ("GET", "/incidents/{incident_id}"): ("/incidents/{incident}", None, 200),
    ("GET", "/incidents/{incident_id}/communications"):
        ("/incidents/{incident}/communications", None, 200),
    ("GET", "/incidents/{incident_id}/report"): ("/incidents/{incident}/report", None, 200),
    ("POST", "/incidents/{incident_id}/notes"):
        ("/incidents/{incident}/notes", {"by": "Ada", "text": "access test"}, 201),
    ("GET", "/reports/trends"): ("/reports/trends", None, 200),
    # a declared incident is no drill: the handler's own 409, past the check
    ("POST", "/incidents/{incident_id}/drill"):
        ("/incidents/{incident}/drill", {"by": "Ada", "alert_to_page_seconds": 1.5,
                                         "page_to_ack_seconds": 20, "acked_by": "Bo"}, 409),
    # the shipped policy has no status_page section: the handler's own 409, past the check
    ("POST", "/incidents/{incident_id}/status-page"):
        ("/incidents/{incident}/status-page", {"by": "Ada"}, 409),
    # the shipped policy has no remediation.failover section: the handler's own 409
    ("POST", "/incidents/{incident_id}/failover"):
        ("/incidents/{incident}/failover", {"from": "twilio", "to": "telnyx", "by": "Ada"},
         409),
    ("POST", "/incidents/{incident_id}/ack"): ("/incidents/{incident}/ack", {"by": "Ada"}, 200),
    ("POST", "/incidents/{incident_id}/resolve"):
        ("/incidents/{incident}/resolve", {"by": "Ada"}, 200),
    ("POST", "/incidents/{incident_id}/report/done"):
        ("/incidents/{incident}/report/done", {"by": "Ada"}, 200),
    ("POST", "/incidents/{incident_id}/actions"):
        ("/incidents/{incident}/actions", {"title": "t", "owner": "Ada", "due": "2026-12-01"},
         201),
    ("GET", "/incidents/{incident_id}/actions"): ("/incidents/{incident}/actions", None, 200),
    ("POST", "/incidents/{incident_id}/actions/{action_id}/close"):
        ("/incidents/{incident}/actions/none/close", {"by": "Ada"}, 404),
    ("GET", "/reports/monthly"): ("/reports/monthly?month=2026-11", None, 200),
    ("GET", "/oncall"): ("/oncall", None, 200),
    ("GET", "/oncall/{schedule}/shifts"): ("/oncall/primary/shifts", None, 200),
    ("GET", "/alerting/health"): ("/alerting/health", None, 200),
    ("GET", "/alerting/metrics/summary"):
        ("/alerting/metrics/summary?metric_type=call_drop_rate", None, 503),
    ("GET", "/telephony/calls/active"): ("/telephony/calls/active", None, 200),
    ("GET", "/telephony/calls/active/quality"): ("/telephony/calls/active/quality", None, 200),
    ("GET", "/telephony/providers/{provider}/health"):
        ("/telephony/providers/twilio/health", None, 200),
}
# how to ask each exempt route without credentials (signed callbacks: an unsigned post)
EXEMPT_SAMPLES = {("GET", "/oncall/{schedule}.ics"): "/oncall/primary.ics?contact=eng_a",
                  ("GET", "/ui/static/{name}"): "/ui/static/console.css",
                  **{(method, route): route.replace("{incident_id}", "x")
                     for method, route in EXEMPT if route.startswith("/ui/incidents/")}}


def run_app(policy, tmp_path, **env: str):
    """``callwatch run``'s app: the shell, the exporter and the receiver, one environment."""
    environ = {"CALLWATCH_STORE_URL": f"sqlite://{tmp_path}/access.db",
               "CALLWATCH_RECEIVER_TOKEN": TOKEN, "CALLWATCH_STATUSPAGE": "off",
               "CALLWATCH_PROMETHEUS_URL": "http://127.0.0.1:1",
               "CALLWATCH_ALERTMANAGER_URL": "http://127.0.0.1:1",
               "CALLWATCH_WATCHDOG": "off", "CALLWATCH_HANDOFF_NOTICES": "off", **env}
    app = create_app(policy, CollectorRegistry())
    setup_exporter(app, environ)
    setup_receiver(app, environ, notifiers={})
    return app


def mounted(app) -> set[tuple[str, str]]:
    """Every (method, route) of the app; HEAD rides along with GET."""
    return {(route.method, resource.canonical) for resource in app.router.resources()
            for route in resource if route.method != "HEAD"}


@pytest.fixture
async def client(aiohttp_client, policy, tmp_path):
    """An anonymous client of the whole app, which logs no request lines (as ``callwatch run``,
    whose server runs with ``access_log=None``)."""
    server = TestServer(run_app(policy, tmp_path))
    await server.start_server(access_log=None)
    return await aiohttp_client(server)


def test_every_exempt_route_is_one_the_app_mounts(policy, tmp_path):
    routes = mounted(run_app(policy, tmp_path))
    assert set(EXEMPT) <= routes, set(EXEMPT) - routes


def test_every_protected_route_has_a_sample_request(policy, tmp_path):
    protected = mounted(run_app(policy, tmp_path)) - set(EXEMPT)
    missing = protected - set(SAMPLES)
    assert not missing, f"new routes {sorted(missing)}: add a SAMPLE here, or an EXEMPT entry " \
                        "in callwatch/access.py if they must answer without the token"
    assert set(SAMPLES) <= protected


async def test_protected_routes_are_401_without_the_token_and_answer_with_it(client):
    response = await client.post("/incidents", json=SAMPLES[("POST", "/incidents")][1],
                                 headers=AUTH)
    incident = (await response.json())["id"]
    for (method, _route), (path, body, status) in SAMPLES.items():
        path = path.format(incident=incident)
        for headers, what in (({}, "missing credentials"),
                              ({"Authorization": "Bearer wrong"}, "invalid credentials")):
            refused = await client.request(method, path, json=body, headers=headers)
            answer = await refused.json()
            assert (refused.status, answer["error"]) == (401, "unauthorized"), path
            assert answer["detail"].startswith(what), (path, answer)
            assert refused.headers["WWW-Authenticate"] == 'Bearer realm="callwatch"'
        answered = await client.request(method, path, json=body, headers=AUTH)
        assert answered.status == status, (path, await answered.text())
    head = await client.head("/incidents")
    assert head.status == 401


async def test_exempt_routes_answer_the_same_with_and_without_the_token(client):
    for method, route in EXEMPT:
        path = EXEMPT_SAMPLES.get((method, route), route)
        if EXEMPT[(method, route)][0] is Exempt.FEED:
            continue  # the feed: below
        anonymous = await client.request(method, path, data=b"")
        with_token = await client.request(method, path, data=b"", headers=AUTH)
        assert anonymous.status == with_token.status, path
        assert "WWW-Authenticate" not in anonymous.headers, path
        # the callbacks check signatures, the console its session (tests/receiver/test_console.py)
        if EXEMPT[(method, route)][0] not in (Exempt.SIGNED, Exempt.CONSOLE):
            assert anonymous.status in (200, 503), path   # /readyz: 503 with no notifiers


async def test_a_path_no_route_serves_is_401_without_the_token_and_404_with_it(client):
    assert (await client.get("/nope")).status == 401
    assert (await client.delete("/healthz")).status == 401
    assert (await client.get("/nope", headers=AUTH)).status == 404
    assert (await client.delete("/healthz", headers=AUTH)).status == 405


# -- the calendar feed: the token, or its feed key --------------------------------------------
FEED = "/oncall/primary.ics"


async def test_the_feed_opens_to_the_token_or_its_own_key_only(client):
    key = feed_key(TOKEN, "primary", "eng_a")
    assert (await client.get(FEED, params={"contact": "eng_a"}, headers=AUTH)).status == 200
    opened = await client.get(FEED, params={"contact": "eng_a", "key": key})
    assert opened.status == 200 and (await opened.read()).startswith(b"BEGIN:VCALENDAR")
    for params in ({"contact": "eng_a"},                                       # no key
                   {"contact": "eng_a", "key": key[:-1] + "x"},                # a wrong key
                   {"contact": "eng_b", "key": key},                           # another's
                   {"contact": "eng_a", "key": feed_key("old-token", "primary", "eng_a")},
                   {"key": key}):                                              # no contact
        refused = await client.get(FEED, params=params)
        body = await refused.json()
        assert (refused.status, body["error"]) == (401, "unauthorized"), params
        assert "feed key" in body["detail"] and key not in await refused.text()
    # the key opens that feed only: not the JSON reads, not another schedule's path
    assert (await client.get("/oncall", params={"key": key})).status == 401
    assert (await client.get("/oncall/primary/shifts", params={"contact": "eng_a",
                                                               "key": key})).status == 401


async def test_the_feed_key_is_never_logged(client):
    lines: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(JsonFormatter().format(record))

    key = feed_key(TOKEN, "primary", "eng_a")
    root, capture = logging.getLogger(), Capture(level=logging.DEBUG)
    old_level = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    try:
        for params in ({"contact": "eng_a", "key": key}, {"contact": "eng_b", "key": key},
                       {"contact": "nobody", "key": feed_key(TOKEN, "primary", "nobody")}):
            await client.get(FEED, params=params)
    finally:
        root.removeHandler(capture)
        root.setLevel(old_level)
    assert not [line for line in lines if key in line or "key=" in line]


# -- /metrics: open by default, or its own bearer token ---------------------------------------
async def test_metrics_is_open_by_default(client):
    assert (await client.get("/metrics")).status == 200


async def test_a_metrics_token_closes_metrics_to_anyone_without_it(aiohttp_client, policy,
                                                                   tmp_path):
    token_file = tmp_path / "metrics-token"
    token_file.write_text(METRICS_TOKEN + "\n")
    app = run_app(policy, tmp_path, CALLWATCH_METRICS_TOKEN_FILE=str(token_file))
    client = await aiohttp_client(app)
    refused = await client.get("/metrics")
    assert refused.status == 401
    assert "CALLWATCH_METRICS_TOKEN" in (await refused.json())["detail"]
    wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status == 401
    scraped = await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert scraped.status == 200 and "callwatch_build_info" in await scraped.text()
    assert (await client.get("/metrics", headers=AUTH)).status == 200   # the API's token too
    # the metrics token opens /metrics only
    only = await client.get("/incidents", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert only.status == 401
    assert (await client.get("/healthz")).status == 200


# -- how it is configured -----------------------------------------------------------------------
async def test_without_credentials_configured_every_protected_route_says_what_to_set(
        aiohttp_client, policy, tmp_path):
    client = await aiohttp_client(run_app(policy, tmp_path, CALLWATCH_RECEIVER_TOKEN=""))
    for path in ("/incidents", "/telephony/calls/active", "/oncall"):
        refused = await client.get(path, headers={"Authorization": "Bearer anything"})
        body = await refused.json()
        assert refused.status == 401 and "set CALLWATCH_RECEIVER_TOKEN" in body["detail"]
    assert (await client.get("/healthz")).status == 200
    assert (await client.get("/metrics")).status == 200


async def test_auth_none_opens_everything_for_experiments(aiohttp_client, policy, tmp_path):
    client = await aiohttp_client(run_app(policy, tmp_path, CALLWATCH_RECEIVER_TOKEN="",
                                          CALLWATCH_RECEIVER_AUTH="none"))
    assert (await client.get("/incidents")).status == 200
    assert (await client.get("/telephony/calls/active")).status == 200


def test_components_of_one_app_must_share_their_credentials(policy):
    app = create_app(policy, CollectorRegistry())
    configure_access(app, {"CALLWATCH_RECEIVER_TOKEN": TOKEN})
    configure_access(app, {"CALLWATCH_RECEIVER_TOKEN": TOKEN})   # the same: fine
    with pytest.raises(ValueError, match="different credentials"):
        configure_access(app, {"CALLWATCH_RECEIVER_TOKEN": "another"})

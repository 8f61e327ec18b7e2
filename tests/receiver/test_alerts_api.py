"""POST /alerts: authentication, every bad input, idempotency, 503 on a store failure."""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import logging
import sqlite3

import pytest

from callwatch.logs import JsonFormatter
from tests.receiver.conftest import TOKEN, auth
from tests.receiver.standins import alert, payload


async def post(client, body, headers=None, raw=None):
    response = await client.post("/alerts", data=raw if raw is not None else json.dumps(body),
                                 headers=auth() if headers is None else headers)
    return response.status, await response.json()


async def incidents(client):
    response = await client.get("/incidents", headers=auth())
    return (await response.json())["incidents"]


@pytest.mark.parametrize("headers", [
    pytest.param({}, id="no Authorization header is refused"),
    pytest.param({"Authorization": "Bearer wrong"}, id="a wrong bearer token is refused"),
    pytest.param({"Authorization": f"Bearer {TOKEN}x"}, id="a longer token is refused"),
    pytest.param({"Authorization": f"Token {TOKEN}"}, id="another scheme is refused"),
    pytest.param({"Authorization": "Basic " + base64.b64encode(b"am:pw").decode()},
                 id="basic auth is refused when only a token is configured"),
])
async def test_posts_without_the_right_credentials_get_401(make_client, headers):
    client = await make_client(anonymous=True)
    status, body = await post(client, payload(), headers=headers)
    assert (status, body["error"]) == (401, "unauthorized")
    assert await incidents(client) == []
    # the refusal is counted: an Alertmanager with a stale token shows on the dashboard
    metrics = await (await client.get("/metrics")).text()
    assert 'callwatch_alertmanager_deliveries_total{result="unauthorized"} 1.0' in metrics


async def test_basic_auth_as_alertmanager_sends_it_is_accepted(make_client, tmp_path):
    password_file = tmp_path / "pw"
    password_file.write_text("hunter2-basic\n")
    client = await make_client(env={"CALLWATCH_RECEIVER_TOKEN": "",
                                    "CALLWATCH_RECEIVER_USERNAME": "alertmanager",
                                    "CALLWATCH_RECEIVER_PASSWORD_FILE": str(password_file)})
    good = "Basic " + base64.b64encode(b"alertmanager:hunter2-basic").decode()
    bad = "Basic " + base64.b64encode(b"alertmanager:hunter3").decode()
    assert (await post(client, payload(), headers={"Authorization": bad}))[0] == 401
    assert (await post(client, payload(), headers={"Authorization": "Basic !!!"}))[0] == 401
    assert (await post(client, payload(), headers={"Authorization": good}))[0] == 200


async def test_a_token_read_from_a_file_is_accepted(make_client, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("file-token-123\n")
    client = await make_client(env={"CALLWATCH_RECEIVER_TOKEN": "",
                                    "CALLWATCH_RECEIVER_TOKEN_FILE": str(token_file)})
    status, _ = await post(client, payload(), headers={"Authorization": "Bearer file-token-123"})
    assert status == 200


async def test_without_configured_credentials_every_post_is_refused_with_a_hint(make_client):
    client = await make_client(env={"CALLWATCH_RECEIVER_TOKEN": ""})
    status, body = await post(client, payload(), headers={"Authorization": "Bearer anything"})
    assert status == 401 and "CALLWATCH_RECEIVER_TOKEN" in body["detail"]


def without(path: str):
    """A payload with the field at ``path`` (e.g. "alerts[0].labels") removed."""
    body = payload()
    target, key = body, path
    if path.startswith("alerts[0]."):
        target, key = body["alerts"][0], path.split(".", 1)[1]
    del target[key]
    return body


REQUIRED = ["version", "groupKey", "status", "receiver", "alerts", "alerts[0].status",
            "alerts[0].labels", "alerts[0].annotations", "alerts[0].startsAt",
            "alerts[0].endsAt", "alerts[0].fingerprint"]


@pytest.mark.parametrize("field", REQUIRED)
async def test_a_payload_missing_a_required_field_is_400_naming_it(make_client, field):
    client = await make_client()
    status, body = await post(client, without(field))
    assert status == 400
    assert body["error"] == "invalid_payload" and body["field"] == field
    assert "required field missing" in body["detail"]


def changed(mutate):
    body = payload()
    mutate(body)
    return body


@pytest.mark.parametrize("body,field", [
    pytest.param(changed(lambda b: b.update(version="3")), "version",
                 id="payload version 3 is refused"),
    pytest.param(changed(lambda b: b.update(version=4)), "version",
                 id="a numeric version is refused"),
    pytest.param(changed(lambda b: b.update(status="pending")), "status",
                 id="an unknown group status is refused"),
    pytest.param(changed(lambda b: b.update(alerts=[])), "alerts",
                 id="an empty alert list is refused"),
    pytest.param(changed(lambda b: b.update(groupKey="")), "groupKey",
                 id="an empty group key is refused"),
    pytest.param(changed(lambda b: b.update(truncatedAlerts=-1)), "truncatedAlerts",
                 id="a negative truncatedAlerts is refused"),
    pytest.param(changed(lambda b: b["alerts"][0].update(startsAt="yesterday")),
                 "alerts[0].startsAt", id="a startsAt that is not RFC 3339 is refused"),
    pytest.param(changed(lambda b: b["alerts"][0]["labels"].update(severity=2)),
                 "alerts[0].labels.severity", id="a label that is not a string is refused"),
    pytest.param(changed(lambda b: b["alerts"].append("x")), "alerts[1]",
                 id="an alert that is not an object is refused"),
    pytest.param([1, 2], "$", id="a JSON array is refused"),
])
async def test_a_wrong_payload_is_400_naming_the_field(make_client, body, field):
    client = await make_client()
    status, answer = await post(client, body)
    assert (status, answer["error"], answer["field"]) == (400, "invalid_payload", field)


DEFAULT_ONLY = 'callwatch takes Alertmanager\'s default webhook payload (version "4")'
WITHOUT_VERSION = payload()
del WITHOUT_VERSION["version"]


@pytest.mark.parametrize("raw,error,field,problem", [
    pytest.param(b'{"text": "[FIRING:1] TelephonyCallDropRateHigh twilio"}', "invalid_payload",
                 "version", "required field missing", id="a chat-style JSON body"),
    pytest.param(json.dumps(WITHOUT_VERSION).encode(), "invalid_payload", "version",
                 "required field missing", id="the default body without its version"),
    pytest.param(json.dumps(payload(version="3")).encode(), "invalid_payload", "version",
                 "unsupported payload version '3'", id="another version"),
    pytest.param(json.dumps(payload(version=4)).encode(), "invalid_payload", "version",
                 "unsupported payload version that is not a string", id="a numeric version"),
    pytest.param(json.dumps([payload()]).encode(), "invalid_payload", "$",
                 "must be a JSON object", id="the alerts wrapped in a list"),
    pytest.param(b"FIRING: TelephonyCallDropRateHigh on twilio", "invalid_json", None,
                 "not valid JSON", id="a plain-text body"),
])
async def test_a_custom_webhook_body_is_400_saying_callwatch_takes_the_default_payload(
        make_client, raw, error, field, problem):
    client = await make_client()
    status, body = await post(client, None, raw=raw)
    assert (status, body["error"], body.get("field")) == (400, error, field)
    assert problem in body["detail"] and DEFAULT_ONLY in body["detail"], body["detail"]
    assert "not a custom body template" in body["detail"]
    assert await incidents(client) == []


@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe", b"", b"{\"version\": NaN}"])
async def test_malformed_json_is_400(make_client, raw):
    client = await make_client()
    status, body = await post(client, None, raw=raw)
    assert (status, body["error"]) == (400, "invalid_json")


async def test_a_body_over_the_size_limit_is_413(make_client):
    client = await make_client(env={"CALLWATCH_ALERTS_MAX_BODY": "2048"})
    big = payload(*(alert(fingerprint=f"f{i}", instance=f"i{i}") for i in range(20)))
    status, body = await post(client, big)
    assert status == 413 and body["error"] == "payload_too_large"
    assert "2048" in body["detail"]

    async def stream():  # no Content-Length: the limit still holds while reading
        raw = json.dumps(big).encode()
        for start in range(0, len(raw), 512):
            yield raw[start:start + 512]

    response = await client.post("/alerts", data=stream(), headers=auth())
    assert response.status == 413 and (await response.json())["error"] == "payload_too_large"
    assert await incidents(client) == []


async def test_a_group_larger_than_the_apps_default_body_limit_is_accepted(make_client):
    client = await make_client(max_body=4096)  # the shell's limit for other endpoints
    big = payload(*(alert(fingerprint=f"f{i}", instance=f"i{i}") for i in range(40)))
    status, body = await post(client, big)
    assert status == 200 and body["status"] == "accepted"


async def test_unknown_fields_are_ignored_and_truncated_alerts_noted(make_client):
    client = await make_client()
    body = payload(truncated=7, notification_reason="first notification",
                   routeLabels={"x": "y"}, somethingNew={"a": 1})
    body["alerts"][0]["futureField"] = [1, 2]
    status, answer = await post(client, body)
    assert status == 200 and answer["status"] == "accepted"
    detail = await (await client.get(f"/incidents/{answer['incident']}")).json()
    assert detail["truncated_alerts"] == 7


async def test_the_same_delivery_twice_changes_nothing_the_second_time(make_client, recorders):
    client = await make_client()
    body = payload(alert("TelephonyProviderHealthLow"))
    first = await post(client, body)
    second = await post(client, copy.deepcopy(body))
    assert first[0] == second[0] == 200
    assert (first[1]["duplicate"], second[1]["duplicate"]) == (False, True)
    assert first[1]["notifications"] == 2
    found = await incidents(client)
    assert len(found) == 1
    detail = await (await client.get(f"/incidents/{found[0]['id']}")).json()
    # the route's two pages (the escalation worker adds the first level's PagerDuty page)
    assert len([n for n in detail["notifications"] if n["kind"] == "trigger"]) == 2
    assert [e["kind"] for e in detail["timeline"]].count("opened") == 1


async def test_a_store_failure_is_503_and_the_retry_is_recorded(make_client, receiver_env,
                                                                 tmp_path):
    client = await make_client(env={"CALLWATCH_STORE_URL":
                                    f"sqlite://{tmp_path}/locked.db?busy_timeout=50"})
    blocker = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
    try:
        status, body = await post(client, payload())
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert (status, body["error"]) == (503, "store_unavailable")
    assert await incidents(client) == []
    status, body = await post(client, payload())  # Alertmanager retries the same payload
    assert status == 200 and body["duplicate"] is False
    assert len(await incidents(client)) == 1


async def test_no_secret_appears_in_any_log_line_or_error(make_client, tmp_path):
    lines: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record):
            lines.append(JsonFormatter().format(record))

    handler = Capture(level=logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.DEBUG)
    try:
        client = await make_client(env={"CALLWATCH_STORE_URL":
                                        f"sqlite://{tmp_path}/s.db?busy_timeout=50"},
                                   anonymous=True)
        bodies = []
        for headers in ({"Authorization": f"Bearer {TOKEN[:-1]}"},
                        {"Authorization": f"Bearer {TOKEN} {TOKEN}"},
                        {"Authorization": "Basic " + base64.b64encode(
                            f"x:{TOKEN}".encode()).decode()}, {}):
            bodies.append(await post(client, payload(), headers=headers))
        bodies.append(await post(client, None, raw=f'{{"version": "{TOKEN}"'.encode()))
        bodies.append(await post(client, payload(version=TOKEN)))
        blocker = sqlite3.connect(tmp_path / "s.db", isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        bodies.append(await post(client, payload()))
        blocker.execute("ROLLBACK")
        blocker.close()
        bodies.append(await post(client, payload()))
        await asyncio.sleep(0.2)
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    statuses = [status for status, _ in bodies]
    assert statuses == [401, 401, 401, 401, 400, 400, 503, 200]
    assert lines, "the receiver logged nothing: the test would prove nothing"
    assert all(TOKEN not in line for line in lines)
    assert all(TOKEN not in json.dumps(body) for _, body in bodies)


async def test_the_whole_path_works_on_postgresql(make_client, recorders, postgres_url):
    client = await make_client(env={"CALLWATCH_STORE_URL": postgres_url})
    body = payload(alert("TelephonyServiceDown"))
    first, second = await post(client, body), await post(client, body)
    assert (first[0], first[1]["priority"], second[1]["duplicate"]) == (200, "P0", True)
    for _ in range(100):
        if all(recorders[c].sent for c in ("pagerduty", "slack", "phone")):
            break
        await asyncio.sleep(0.05)
    # triggers only: a P0 also escalates to the VP Engineering's phone at once, whenever the
    # escalation worker gets to it
    triggers = [[n for n in recorders[c].sent if n.kind == "trigger"]
                for c in ("pagerduty", "slack", "phone", "email")]
    assert [len(sent) for sent in triggers] == [1, 1, 1, 0]
    ready = await (await client.get("/readyz")).json()
    assert ready["checks"]["store"] == {"ok": True, "detail": "postgresql"}

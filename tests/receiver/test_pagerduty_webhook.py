"""PagerDuty v3 webhook signatures and events, from PagerDuty's documented format."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from receiver.http.pagerduty import WebhookError, parse_event, signature_valid

BODY = json.dumps({"event": {
    "id": "5ac64822-4adc-4fda-ade0-410becf0de4f", "event_type": "incident.acknowledged",
    "resource_type": "incident", "occurred_at": "2026-11-27T03:10:22.169Z",
    "agent": {"id": "PLH1HKV", "summary": "Tenex Engineer", "type": "user_reference"},
    "client": {"name": "PagerDuty"},
    "data": {"id": "PGR0VU2", "type": "incident", "status": "acknowledged",
             "incident_key": "callwatch-inc-42", "title": "Call Drop Rate critical on twilio"},
}}).encode()


def _sign(body: bytes, secret: str) -> str:
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.mark.parametrize(("header", "secrets", "valid"), [
    (_sign(BODY, "s3cret"), ["s3cret"], True),
    (f"{_sign(BODY, 'old')},{_sign(BODY, 'new')}", ["new"], True),  # during a secret rotation
    (_sign(BODY, "s3cret"), ["old", "s3cret"], True),
    (_sign(BODY, "other"), ["s3cret"], False),
    (_sign(BODY + b" ", "s3cret"), ["s3cret"], False),               # body altered in transit
    ("v0=" + _sign(BODY, "s3cret")[3:], ["s3cret"], False),           # unknown version
    ("", ["s3cret"], False),
    (None, ["s3cret"], False),
    (_sign(BODY, "s3cret"), [], False),                               # no secret configured
])
def test_a_signature_is_valid_only_when_it_matches(header, secrets, valid) -> None:
    assert signature_valid(BODY, header, secrets) is valid


def test_an_acknowledgement_names_the_incident_and_the_person() -> None:
    event = parse_event(BODY)
    assert event.action == "acknowledge"
    assert event.incident_key == "callwatch-inc-42"
    assert event.actor == "Tenex Engineer (PagerDuty)"


def test_an_event_we_do_not_act_on_has_no_action() -> None:
    body = BODY.replace(b"incident.acknowledged", b"incident.annotated")
    assert parse_event(body).action is None


@pytest.mark.parametrize(("body", "code"), [
    (b"not json", "malformed_json"),
    (b"[]", "missing_field"),
    (b'{"event": {"event_type": "incident.resolved"}}', "missing_field"),
])
def test_a_malformed_delivery_is_rejected_with_a_code(body, code) -> None:
    with pytest.raises(WebhookError) as raised:
        parse_event(body)
    assert raised.value.code == code

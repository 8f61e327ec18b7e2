"""Helpers for the exporter tests: signed Twilio/Telnyx requests, app factory, metric samples."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from prometheus_client import CollectorRegistry

from callwatch.signatures import telnyx_sign, twilio_sign
from callwatch.web import create_app
from exporter.app import setup_exporter

TWILIO_TOKEN = "test-auth-token-0123456789"
API_TOKEN = "test-api-token-4f1e"   # CALLWATCH_RECEIVER_TOKEN: the ops endpoints ask for it
API_AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
PUBLIC_URL = "https://hooks.example.com"
NOW = 1_790_000_000.0


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_app(policy, environ, clock):
    """The exporter on the web shell, its API token ``API_TOKEN`` unless ``environ`` names
    one."""
    app = create_app(policy, CollectorRegistry())
    setup_exporter(app, {"CALLWATCH_RECEIVER_TOKEN": API_TOKEN, **environ}, clock=clock)
    return app


def twilio_form(sid: str, status: str, **extra: str) -> dict[str, str]:
    form = {"CallSid": sid, "AccountSid": "AC" + "0" * 32, "From": "+15550001111",
            "To": "+15550002222", "CallStatus": status, "Direction": "outbound-api",
            "ApiVersion": "2010-04-01"}
    form.update(extra)
    return form


async def post_twilio(client, form: dict[str, str], token: str = TWILIO_TOKEN,
                      path: str = "/telephony/webhooks/twilio", headers=None, sign_url=None):
    url = sign_url or PUBLIC_URL + path
    hdrs = {"X-Twilio-Signature": twilio_sign(token, url, form),
            "Content-Type": "application/x-www-form-urlencoded"}
    hdrs.update(headers or {})
    return await client.post(path, data=urlencode(form), headers=hdrs)


def telnyx_body(event_type: str, call_id: str, **payload) -> bytes:
    body = {"data": {"record_type": "event", "event_type": event_type, "id": f"ev-{call_id}",
                     "occurred_at": "2026-11-27T03:00:00Z",
                     "payload": {"call_control_id": f"v3:{call_id}", "call_leg_id": call_id,
                                 "call_session_id": f"s-{call_id}", "connection_id": "123",
                                 "from": "+15550003333", "to": "+15550004444", **payload}},
            "meta": {"attempt": 1, "delivered_to": "https://hooks.example.com/x"}}
    return json.dumps(body).encode()


async def post_telnyx(client, key, body: bytes, timestamp: float = NOW, headers=None):
    hdrs = telnyx_sign(key, body, int(timestamp))
    hdrs["Content-Type"] = "application/json"
    hdrs.update(headers or {})
    return await client.post("/telephony/webhooks/telnyx", data=body, headers=hdrs)


def sample(client, name: str, labels: dict) -> float:
    """The value of one sample on the app's registry (0 when absent)."""
    from callwatch.web import REGISTRY
    return client.server.app[REGISTRY].get_sample_value(name, labels) or 0.0

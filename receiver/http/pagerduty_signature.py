"""PagerDuty v3 webhooks: acknowledgements and resolutions made in PagerDuty come back here.

PagerDuty signs each delivery: ``X-PagerDuty-Signature`` holds one or more ``v1=<hex>`` values
(several during a secret rotation), each the HMAC-SHA256 of the raw body under a subscription
secret. A delivery is authentic when any of them matches any of our secrets.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass

# PagerDuty event type -> what it means for our incident.
ACTIONS = {"incident.acknowledged": "acknowledge", "incident.resolved": "resolve"}


class WebhookError(ValueError):
    """A delivery we cannot use; ``code`` is the JSON error code, ``str()`` the detail."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


@dataclass(frozen=True)
class PagerDutyEvent:
    event_id: str
    event_type: str
    incident_key: str | None   # our dedup_key, set when we triggered the PagerDuty incident
    actor: str                 # who acted in PagerDuty, e.g. "Tenex Engineer (PagerDuty)"
    occurred_at: str

    @property
    def action(self) -> str | None:
        return ACTIONS.get(self.event_type)


def signature_valid(body: bytes, header: str | None, secrets: list[str]) -> bool:
    """Whether any ``v1=`` signature in ``header`` is the HMAC-SHA256 of ``body`` under a secret."""
    if not header or not secrets:
        return False
    offered = [part.strip()[3:] for part in header.split(",") if part.strip().startswith("v1=")]
    expected = [hmac.new(secret.encode(), body, hashlib.sha256).hexdigest() for secret in secrets]
    return any(hmac.compare_digest(given, wanted) for given in offered for wanted in expected)


def parse_event(body: bytes) -> PagerDutyEvent:
    """The event in a v3 webhook body; WebhookError naming what is missing otherwise."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookError("malformed_json", "body is not JSON") from None
    event = document.get("event") if isinstance(document, dict) else None
    if not isinstance(event, dict):
        raise WebhookError("missing_field", "event: required object missing")
    for field in ("id", "event_type", "occurred_at"):
        if not isinstance(event.get(field), str):
            raise WebhookError("missing_field", f"event.{field}: required string missing")
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    agent = event.get("agent") if isinstance(event.get("agent"), dict) else {}
    actor = f"{agent.get('summary') or 'someone'} (PagerDuty)"
    key = data.get("incident_key")
    return PagerDutyEvent(event["id"], event["event_type"], key if isinstance(key, str) else None,
                          actor, event["occurred_at"])

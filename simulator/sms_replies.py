"""Inbound SMS as the providers deliver them to the app's messaging webhook. Pure: no I/O.

- Twilio: a form POST with ``MessageSid``, ``SmsSid``, ``SmsMessageSid`` (all the same ``SM…``),
  ``AccountSid``, ``From``, ``To``, ``Body``, ``NumMedia=0``, ``NumSegments=1``,
  ``SmsStatus=received``, ``ApiVersion=2010-04-01``, signed with ``X-Twilio-Signature``
  (``RequestValidator(auth_token).compute_signature(url, params)``, as status callbacks are).
- Telnyx: a ``message.received`` event in the usual envelope (``webhooks.telnyx_envelope``),
  Ed25519-signed over ``timestamp|body``; the payload is the inbound message.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from urllib.parse import urlencode

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from simulator.times import iso_micro
from simulator.webhooks import telnyx_envelope, twilio_headers


@dataclass(frozen=True)
class Inbound:
    """An SMS a person sends: from their number to the app's, delivered to ``url`` at ``now``."""

    from_: str
    to: str
    text: str
    url: str
    now: float


@dataclass(frozen=True)
class Request:
    """The request delivering it: the message id, the fields or envelope sent, the bytes and
    the signed headers."""

    id: str
    payload: dict
    body: bytes
    headers: dict[str, str]


def twilio_inbound(sms: Inbound, account_sid: str, auth_token: str, sid: str) -> Request:
    """Twilio's incoming-message webhook for ``sms``, signed with ``auth_token``."""
    params = {"MessageSid": sid, "SmsSid": sid, "SmsMessageSid": sid,
              "AccountSid": account_sid, "From": sms.from_, "To": sms.to, "Body": sms.text,
              "NumMedia": "0", "NumSegments": "1", "SmsStatus": "received",
              "ApiVersion": "2010-04-01"}
    return Request(sid, params, urlencode(params).encode(),
                   twilio_headers(auth_token, sms.url, params))


def telnyx_inbound(sms: Inbound, key: Ed25519PrivateKey, timestamp: int | None = None
                   ) -> Request:
    """Telnyx's ``message.received`` event for ``sms``, signed with ``key`` at ``timestamp``
    (default: ``sms.now``)."""
    message_id = str(uuid.uuid4())
    payload = {"id": message_id, "record_type": "message", "direction": "inbound",
               "type": "SMS", "from": {"phone_number": sms.from_},
               "to": [{"phone_number": sms.to}], "text": sms.text,
               "received_at": iso_micro(sms.now), "media": [], "errors": []}
    body, headers = telnyx_envelope(key, sms.url, "message.received", payload, sms.now,
                                    timestamp=timestamp)
    return Request(message_id, json.loads(body), body, headers)

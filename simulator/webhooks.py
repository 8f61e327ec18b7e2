"""Signed provider webhooks, built as the providers build them. Pure: no I/O.

- Twilio status callback: form-encoded, ``X-Twilio-Signature`` from
  ``RequestValidator(auth_token).compute_signature(url, params)`` over the exact target URL.
- Telnyx Call Control event: the JSON envelope ``{"data": {record_type, event_type, id,
  occurred_at, payload}, "meta": {attempt, delivered_to}}``, signed with Ed25519 over
  ``f"{timestamp}|{body}"`` (headers ``telnyx-signature-ed25519``, ``telnyx-timestamp``).
  ``call_quality_stats`` values are STRINGS, as Telnyx sends them.

``twilio_headers`` and ``telnyx_envelope`` sign any request that way; the traffic generator,
the outbound-call player (``voice_twilio.py``, ``voice_telnyx.py``) and inbound SMS
(``sms_replies.py``, a ``message.received`` event in the same envelope) all use them.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from urllib.parse import urlencode

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from twilio.request_validator import RequestValidator

from simulator.state import SimCall
from simulator.times import iso_micro, rfc2822

TWILIO_STATUS = {"completed": "completed", "dropped": "completed", "failed": "failed",
                 "busy": "busy", "no_answer": "no-answer", "canceled": "canceled"}


@dataclass(frozen=True)
class Webhook:
    """One HTTP request to send: where, which headers, which bytes."""

    provider: str
    url: str
    headers: dict
    body: bytes
    call_id: str
    event: str


def public_key_b64(key: Ed25519PrivateKey) -> str:
    """The base64 32-byte public key Telnyx shows in Mission Control (TELNYX_PUBLIC_KEY)."""
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def twilio_params(call: SimCall, account_sid: str, status: str, now: float) -> dict[str, str]:
    """Status-callback form fields for ``call`` at ``status`` (Twilio's names)."""
    params = {
        "AccountSid": account_sid, "ApiVersion": "2010-04-01", "CallSid": call.id,
        "CallStatus": status, "CallbackSource": "call-progress-events",
        "Direction": "outbound-api" if call.direction == "outbound" else "inbound",
        "From": call.from_, "To": call.to, "Caller": call.from_, "Called": call.to,
        "SequenceNumber": str(call.sequence), "Timestamp": rfc2822(now),
    }
    if status not in ("in-progress", "ringing", "initiated"):
        params["CallDuration"] = str(call.duration)
        params["Duration"] = str(-(-call.duration // 60))
        if call.sip is not None:
            params["SipResponseCode"] = str(call.sip)
    return params


def twilio_callback(call: SimCall, account_sid: str, auth_token: str, url: str, now: float,
                    status: str | None = None) -> Webhook:
    """A signed status callback; ``status`` defaults to the call's final status."""
    status = status or TWILIO_STATUS[call.outcome]
    params = twilio_params(call, account_sid, status, now)
    call.sequence += 1
    return Webhook("twilio", url, twilio_headers(auth_token, url, params),
                   urlencode(params).encode(), call.id, status)


def twilio_headers(auth_token: str, url: str, params: dict[str, str]) -> dict[str, str]:
    """Headers of a Twilio request to ``url`` carrying ``params`` (a form body; empty for GET,
    whose parameters are then already in ``url``): ``X-Twilio-Signature`` over both."""
    signature = RequestValidator(auth_token).compute_signature(url, params)
    return {"Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature, "User-Agent": "TwilioProxy/1.1"}


def quality_stats(call: SimCall) -> dict | None:
    """Telnyx ``call_quality_stats`` (all values strings), or None when no media flowed."""
    if call.mos is None:
        return None
    quality = call.quality or {}
    packets = max(50, call.duration * 50)
    lost = round(packets * quality.get("packet_loss_pct", 0.0) / 100)
    return {"inbound": {"mos": f"{call.mos:.2f}", "packet_count": str(packets),
                        "skip_packet_count": str(lost),
                        "jitter_max_variance": f"{quality.get('jitter_max', 0.0):.2f}",
                        "jitter_packet_count": str(quality.get("jitter_packets", 0))},
            "outbound": {"packet_count": str(packets), "skip_packet_count": "0"}}


def telnyx_payload(call: SimCall, connection_id: str, event_type: str) -> dict:
    payload = {
        "call_control_id": call.id, "call_leg_id": call.leg_id,
        "call_session_id": call.session_id, "connection_id": connection_id,
        "client_state": call.client_state, "from": call.from_, "to": call.to,
        "direction": "outgoing" if call.direction == "outbound" else "incoming",
        "start_time": iso_micro(call.start), "tags": [],
        "state": "hangup" if event_type == "call.hangup" else "answered",
    }
    if event_type == "call.hangup":
        payload.update(hangup_cause=call.hangup_cause, hangup_source="callee",
                       sip_hangup_cause=str(call.sip) if call.sip else "unspecified",
                       call_quality_stats=quality_stats(call))
    return payload


def telnyx_event(call: SimCall, key: Ed25519PrivateKey, connection_id: str, url: str,
                 now: float, event_type: str = "call.hangup", event_id: str | None = None
                 ) -> Webhook:
    """A signed Call Control event (``call.hangup`` or ``call.answered``)."""
    payload = telnyx_payload(call, connection_id, event_type)
    body, headers = telnyx_envelope(key, url, event_type, payload, now, event_id)
    return Webhook("telnyx", url, headers, body, call.id, event_type)


def telnyx_envelope(key: Ed25519PrivateKey, url: str, event_type: str, payload: dict,
                    now: float, event_id: str | None = None, *, timestamp: int | None = None
                    ) -> tuple[bytes, dict[str, str]]:
    """The body and signed headers of one event carrying ``payload`` (Call Control and
    Messaging share the envelope). ``timestamp`` (default: ``now``) is the signed
    ``telnyx-timestamp``; tests pass a stale one to check the receiver refuses it."""
    envelope = {"data": {"record_type": "event", "event_type": event_type,
                         "id": event_id or str(uuid.uuid4()), "occurred_at": iso_micro(now),
                         "payload": payload},
                "meta": {"attempt": 1, "delivered_to": url}}
    body = json.dumps(envelope, separators=(",", ":"))
    stamp = str(int(now) if timestamp is None else timestamp)
    signature = base64.b64encode(key.sign(f"{stamp}|{body}".encode())).decode()
    headers = {"Content-Type": "application/json", "telnyx-signature-ed25519": signature,
               "telnyx-timestamp": stamp, "User-Agent": "telnyx-webhooks"}
    return body.encode(), headers

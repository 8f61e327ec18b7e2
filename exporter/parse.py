"""Provider payloads → :class:`exporter.calls.CallEvent`. Pure functions, no I/O.

Each parser raises :class:`PayloadError` (→ 400) for a payload that lacks what every such
callback must have, and returns None for a well-formed event that says nothing about a call's
state (e.g. a Telnyx ``call.dtmf.received``), which is accepted and ignored.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from exporter import outcomes
from exporter.calls import ENDED, CallEvent

TWILIO_STATES = {
    "queued": "initiated", "initiated": "initiated", "ringing": "ringing",
    "in-progress": "answered", "answered": "answered",
    "completed": ENDED, "busy": ENDED, "failed": ENDED, "no-answer": ENDED, "canceled": ENDED,
}
TELNYX_STATES = {
    "call.initiated": "initiated", "call.answered": "answered", "call.bridged": "answered",
    "call.hangup": ENDED,
}


class PayloadError(ValueError):
    """The payload is malformed; the message says what is missing or wrong."""


def parse_mos(value: Any) -> float | None:
    """A MOS from a number or string (Telnyx sends ``"4.50"``); None unless within 1..5."""
    try:
        mos = float(value)
    except (TypeError, ValueError):
        return None
    return mos if math.isfinite(mos) and 1.0 <= mos <= 5.0 else None


def twilio_event(form: Mapping[str, str]) -> CallEvent | None:
    """The event in a Twilio status callback (form fields as Twilio names them)."""
    sid, status = form.get("CallSid", ""), form.get("CallStatus", "")
    if not sid:
        raise PayloadError("status callback has no CallSid")
    if not status:
        raise PayloadError("status callback has no CallStatus")
    state = TWILIO_STATES.get(status.strip().lower())
    if state is None:
        return None
    sequence = form.get("SequenceNumber")
    try:
        seq = int(sequence) if sequence not in (None, "") else None
    except ValueError:
        raise PayloadError(f"SequenceNumber is not a number: {sequence[:20]!r}") from None
    return CallEvent(
        provider="twilio", call_id=sid, state=state,
        direction=outcomes.twilio_direction(form.get("Direction")), sequence=seq,
        cause=status.strip().lower(), sip=form.get("SipResponseCode"),
    )


def telnyx_event(body: bytes) -> CallEvent | None:
    """The event in a Telnyx Call Control webhook body (JSON)."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise PayloadError(f"body is not JSON: {exc}") from None
    data = document.get("data") if isinstance(document, dict) else None
    if not isinstance(data, dict):
        raise PayloadError("body has no 'data' object")
    event_type = data.get("event_type")
    if not isinstance(event_type, str) or not event_type:
        raise PayloadError("data.event_type is missing")
    payload = data.get("payload")
    if not isinstance(payload, dict):
        raise PayloadError("data.payload is missing or not an object")
    state = TELNYX_STATES.get(event_type)
    if state is None:
        return None
    call_id = (payload.get("call_leg_id") or payload.get("call_control_id")
               or payload.get("call_session_id"))
    if not isinstance(call_id, str) or not call_id:
        raise PayloadError(f"{event_type} payload has no call_leg_id or call_control_id")
    return _telnyx_call_event(state, call_id, payload)


def _telnyx_call_event(state: str, call_id: str, payload: dict) -> CallEvent:
    stats = payload.get("call_quality_stats")
    inbound = stats.get("inbound") if isinstance(stats, dict) else None
    mos = parse_mos(inbound.get("mos")) if isinstance(inbound, dict) else None
    cause = payload.get("hangup_cause")
    return CallEvent(
        provider="telnyx", call_id=call_id, state=state,
        direction=outcomes.telnyx_direction(_text(payload.get("direction"))),
        cause=_text(cause), sip=_text(payload.get("sip_hangup_cause")),
        has_quality=isinstance(inbound, dict), mos=mos,
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None

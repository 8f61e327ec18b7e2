"""The ONE place that decides how an ended call is counted.

Outcomes (``policy.catalog.OUTCOMES``): ``completed``, ``dropped``, ``failed``, ``busy``,
``no_answer``, ``canceled``. "Answered" calls end ``completed`` or ``dropped``; the drop rate is
dropped / (completed + dropped).

Twilio (status callback ``CallStatus`` + ``SipResponseCode``; Call resource ``status``; Voice
Insights summary ``call_state`` + ``properties.last_sip_response_num`` + abnormal-session flag):

- ``completed`` → **dropped** when the call ended abnormally: a SIP response code that is not
  2xx (e.g. 408, 480, 500, 503) or Insights' abnormal-session flag; else **completed**.
- ``busy`` → busy; ``no-answer`` → no_answer; ``canceled`` → canceled; ``failed`` → failed.
  Insights spells them ``busy``, ``noanswer``, ``canceled``, ``fail``; ``undialed`` is failed.
- ``queued``, ``initiated``, ``ringing``, ``in-progress``, ``answered`` are not ended: None.

Telnyx (``call.hangup`` ``hangup_cause`` + ``sip_hangup_cause``; whether the call was answered
comes from a ``call.answered`` event seen before, else it is inferred):

- answered, ``hangup_cause`` in the normal set (``normal_clearing``, ``time_limit``,
  ``originator_cancel``) and no SIP failure (``sip_hangup_cause`` 5xx/6xx) → **completed**;
  any other cause (``unspecified``, ``timeout``, ``call_rejected``, ...) → **dropped**.
- not answered: ``user_busy`` → busy; ``no_answer``/``timeout`` → no_answer;
  ``originator_cancel``/``normal_clearing`` → canceled; anything else → failed.
- answered unknown (no ``call.answered`` seen): a call with ``call_quality_stats`` (media
  flowed) or a ``normal_clearing``/``time_limit`` cause is taken as answered.
"""

from __future__ import annotations

COMPLETED, DROPPED, FAILED, BUSY, NO_ANSWER, CANCELED = (
    "completed", "dropped", "failed", "busy", "no_answer", "canceled")

_TWILIO_ENDED = {
    "completed": COMPLETED, "busy": BUSY, "no-answer": NO_ANSWER, "canceled": CANCELED,
    "failed": FAILED,
    # Voice Insights call_state spellings
    "noanswer": NO_ANSWER, "fail": FAILED, "undialed": FAILED,
}
TELNYX_NORMAL_CAUSES = frozenset({"normal_clearing", "time_limit", "originator_cancel"})
_TELNYX_UNANSWERED = {
    "user_busy": BUSY, "no_answer": NO_ANSWER, "timeout": NO_ANSWER,
    "originator_cancel": CANCELED, "normal_clearing": CANCELED,
}


def sip_code(value: object) -> int | None:
    """A SIP response code as an int, or None for missing/``unspecified``/garbage."""
    try:
        code = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return code if 100 <= code <= 699 else None


def twilio_outcome(status: str | None, sip_response: object = None,
                   abnormal: bool = False) -> str | None:
    """The outcome of a Twilio call in ``status``, or None while it has not ended."""
    outcome = _TWILIO_ENDED.get((status or "").strip().lower())
    if outcome != COMPLETED:
        return outcome
    code = sip_code(sip_response)
    if abnormal or (code is not None and not 200 <= code < 300):
        return DROPPED
    return COMPLETED


def telnyx_answered(answered: bool | None, hangup_cause: str | None, has_quality: bool) -> bool:
    """Whether a Telnyx call was answered, inferring it when no ``call.answered`` was seen."""
    if answered is not None:
        return answered
    return has_quality or (hangup_cause or "") in ("normal_clearing", "time_limit")


def telnyx_outcome(hangup_cause: str | None, sip_hangup_cause: object = None,
                   answered: bool | None = None, has_quality: bool = False) -> str:
    """The outcome of a Telnyx call that hung up with ``hangup_cause``."""
    cause = (hangup_cause or "unspecified").strip().lower()
    if telnyx_answered(answered, cause, has_quality):
        code = sip_code(sip_hangup_cause)
        if cause in TELNYX_NORMAL_CAUSES and (code is None or code < 500):
            return COMPLETED
        return DROPPED
    return _TELNYX_UNANSWERED.get(cause, FAILED)


def twilio_direction(direction: str | None) -> str:
    """``inbound``/``outbound``/``unknown`` from Twilio's direction values."""
    value = (direction or "").lower()
    if value in ("inbound", "trunking-originating"):
        return "inbound"
    if value.startswith("outbound") or value == "trunking-terminating":
        return "outbound"
    return "unknown"


def telnyx_direction(direction: str | None) -> str:
    """``inbound``/``outbound``/``unknown`` from Telnyx's ``incoming``/``outgoing``."""
    value = (direction or "").lower()
    if value in ("incoming", "inbound"):
        return "inbound"
    if value in ("outgoing", "outbound"):
        return "outbound"
    return "unknown"

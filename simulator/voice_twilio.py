"""A Twilio outbound call played out: Gather actions, then the status callback, as Twilio sends
them (form-encoded, ``X-Twilio-Signature`` over the exact URL with the account's auth token).

A call created with neither a ``StatusCallback`` nor a ``<Gather action=...>`` in its ``Twiml``
is only recorded (:func:`wants_play` is False). Otherwise, by the callee's behaviour:

- ``answer`` (and ``machine`` without ``MachineDetection``, which presses nothing): for each
  digit, POST ``Digits`` to the current Gather's action; the receiver's TwiML answer may hold the
  next Gather. Then the status callback says ``completed``, ``CallDuration=20``.
- ``no-answer``/``busy``/``failed``/``canceled``: only the status callback, with that status.
- ``machine`` with ``MachineDetection``: only the status callback, ``completed`` +
  ``AnsweredBy=machine_start``.

``AnsweredBy`` (``human`` or ``machine_start``) is sent only when machine detection was asked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode, urljoin
from xml.etree import ElementTree

from simulator.times import rfc2822
from simulator.voice import UNANSWERED, Callback, PlayedCall, Voice
from simulator.webhooks import twilio_headers

ANSWERED_SECONDS = 20  # CallDuration of an answered call


@dataclass(frozen=True)
class Gather:
    """Where a ``<Gather>`` sends the pressed digits."""

    url: str
    method: str


def first_gather(twiml: str, base: str = "") -> Gather | None:
    """The first ``<Gather>`` with an ``action`` in ``twiml`` (relative actions resolved against
    ``base``); None when there is none or the text is not XML."""
    try:
        root = ElementTree.fromstring(twiml)
    except ElementTree.ParseError:
        return None
    for element in root.iter("Gather"):
        action = element.get("action")
        if action:
            return Gather(urljoin(base, action.strip()),
                          (element.get("method") or "POST").upper())
    return None


def wants_play(form: Mapping[str, str]) -> bool:
    """Whether a created call names anything to call back (else it is only recorded)."""
    return bool(form.get("StatusCallback")) or first_gather(form.get("Twiml") or "") is not None


def register(voice: Voice, form: Mapping[str, str], call_sid: str, resource: dict) -> PlayedCall:
    """Record the call about to be played, with the behaviour set for its ``To`` number."""
    chosen = voice.phone_book.lookup(str(form.get("To", "")))
    return voice.register(PlayedCall(
        "twilio", call_sid, str(form.get("To", "")), str(form.get("From", "")), chosen.name,
        chosen.digits, bool(form.get("MachineDetection")), voice.now(), resource))


async def play(voice: Voice, call: PlayedCall, form: Mapping[str, str]) -> None:
    """Play ``call`` to its end: Gather rounds when answered, then the status callback."""
    detection = call.machine_detection
    answered_by = None
    if call.behaviour in UNANSWERED:
        status = call.behaviour
    elif call.behaviour == "machine" and detection:
        status, answered_by = "completed", "machine_start"
    else:
        status, answered_by = "completed", "human" if detection else None
        call.resource.update(status="in-progress", start_time=rfc2822(call.started_at),
                             answered_by=answered_by)
        digits = call.digits if call.behaviour == "answer" else ""
        await _gather_rounds(voice, call, first_gather(form.get("Twiml") or ""), digits,
                             _base(voice, call, "in-progress", answered_by))
    call.outcome = status
    _finish_resource(voice, call, status, answered_by)
    if form.get("StatusCallback"):
        params = {**_base(voice, call, status, answered_by),
                  "CallDuration": str(ANSWERED_SECONDS if status == "completed" else 0),
                  "SequenceNumber": "0", "Timestamp": rfc2822(voice.now())}
        await _send(voice, call, "status", str(form["StatusCallback"]),
                    str(form.get("StatusCallbackMethod") or "POST"), params)


def _base(voice: Voice, call: PlayedCall, status: str, answered_by: str | None) -> dict:
    params = {"AccountSid": voice.state.twilio_account_sid, "CallSid": call.id,
              "From": call.from_, "To": call.to, "CallStatus": status,
              "Direction": "outbound-api"}
    if answered_by:
        params["AnsweredBy"] = answered_by
    return params


async def _gather_rounds(voice: Voice, call: PlayedCall, gather: Gather | None, digits: str,
                         params: dict) -> None:
    """One digit per Gather, following the Gathers the receiver's answers hold."""
    for digit in digits:
        if gather is None:
            return
        sent = await _send(voice, call, "gather", gather.url, gather.method,
                           {**params, "Digits": digit})
        if not sent.ok:
            return  # Twilio would say "an application error has occurred" and hang up
        gather = first_gather(sent.body, base=gather.url)


async def _send(voice: Voice, call: PlayedCall, kind: str, url: str, method: str,
                params: dict[str, str]) -> Callback:
    """A signed request as Twilio makes it: a form body for POST, the query string for GET
    (the signature then covers the URL with its query and no body parameters)."""
    method = method.upper()
    if method == "GET":
        target = url + ("&" if "?" in url else "?") + urlencode(params)
        headers = twilio_headers(voice.state.twilio_auth_token, target, {})
        headers.pop("Content-Type")
        return await voice.deliver(call, kind, "GET", target, params, data=None, headers=headers)
    headers = twilio_headers(voice.state.twilio_auth_token, url, params)
    return await voice.deliver(call, kind, "POST", url, params,
                               data=urlencode(params).encode(), headers=headers)


def _finish_resource(voice: Voice, call: PlayedCall, status: str, answered_by: str | None) -> None:
    """What ``GET .../Calls/{sid}.json`` shows once the call has ended."""
    now = rfc2822(voice.now())
    answered = status == "completed"
    call.resource.update(status=status, answered_by=answered_by, date_updated=now,
                         duration=str(ANSWERED_SECONDS if answered else 0),
                         start_time=rfc2822(call.started_at) if answered else None,
                         end_time=now if answered else None)

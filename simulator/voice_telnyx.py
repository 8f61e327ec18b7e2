"""A Telnyx Call Control call played out: signed events to the dial's ``webhook_url``, driven by
the receiver's commands, as Telnyx sends them (JSON envelope, Ed25519 over ``timestamp|body``).

A dial without a ``webhook_url`` is only recorded. Otherwise, by the callee's behaviour:

- ``answer``: ``call.answered`` (then ``call.machine.detection.ended`` ``result: human`` when
  ``answering_machine_detection`` was asked); then each command gets its follow-up event:
  ``gather_using_speak`` → ``call.gather.ended`` with the next digit (``valid``), or ``""``
  (``timeout``) when none remain; ``speak`` → ``call.speak.ended``; ``hangup`` →
  ``call.hangup`` ``normal_clearing`` from the caller, after which commands answer 422.
- ``machine`` with detection: ``call.answered``, ``call.machine.detection.ended``
  ``result: machine``, then commands as above (the receiver hangs up). Without detection: like
  ``answer`` with no digits.
- ``no-answer``/``busy``/``failed``/``canceled``: only ``call.hangup`` with ``timeout``/
  ``user_busy``/``call_rejected``/``originator_cancel``.

Events of one call go out in order from one task reading the call's queue. Every payload carries
the ids, ``connection_id``, ``from``, ``to`` and ``client_state``: the dial's, or the one the most
recent command carried. A callee left without a command for ``voice.idle_hangup_seconds`` hangs
up (``normal_clearing``, source ``callee``), so an abandoned call does not play forever.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

from simulator.times import iso_micro
from simulator.voice import Command, PlayedCall, Voice
from simulator.webhooks import telnyx_envelope

# behaviour -> (hangup_cause, hangup_source, sip_hangup_cause) of a call nobody answered
UNANSWERED = {"no-answer": ("timeout", "unknown", "480"),
              "busy": ("user_busy", "callee", "486"),
              "failed": ("call_rejected", "unknown", "603"),
              "canceled": ("originator_cancel", "caller", "487")}
GATHERS = ("gather_using_speak", "gather_using_audio", "gather")


@dataclass(frozen=True)
class Event:
    """One event to send: its type, its own payload fields, the client_state it carries."""

    type: str
    fields: dict
    client_state: str | None


@dataclass(eq=False)
class TelnyxCall(PlayedCall):
    """A played Telnyx call: its record plus what playing it needs."""

    url: str = ""
    connection_id: str = ""
    leg_id: str = ""
    session_id: str = ""
    client_state: str | None = None
    remaining: list[str] = field(default_factory=list)   # digits still to press
    ended: bool = False      # hung up (either side) or never answered: commands answer 422
    inbox: asyncio.Queue = field(default_factory=asyncio.Queue, repr=False)

    def as_dict(self) -> dict:
        return {**super().as_dict(), "client_state": self.client_state}


def register(voice: Voice, body: dict, resource: dict) -> TelnyxCall:
    """Record a dialled call and queue its first events (sent once :func:`play` runs)."""
    to = str(body.get("to", ""))
    chosen = voice.phone_book.lookup(to)
    amd = body.get("answering_machine_detection") not in (None, "", "disabled")
    state = body.get("client_state")
    call = TelnyxCall(
        "telnyx", resource["call_control_id"], to, str(body.get("from", "")), chosen.name,
        chosen.digits, amd, voice.now(), resource, url=str(body["webhook_url"]),
        connection_id=str(body.get("connection_id", "")), leg_id=resource["call_leg_id"],
        session_id=resource["call_session_id"],
        client_state=state if isinstance(state, str) and state else None)
    if chosen.name in UNANSWERED:
        _hang_up(call, *UNANSWERED[chosen.name])
        return voice.register(call)
    call.inbox.put_nowait(Event("call.answered", {}, call.client_state))
    if amd:
        result = "machine" if chosen.name == "machine" else "human"
        call.inbox.put_nowait(Event("call.machine.detection.ended", {"result": result},
                                    call.client_state))
    call.remaining = list(chosen.digits) if chosen.name == "answer" else []
    return voice.register(call)


def command(voice: Voice, call: TelnyxCall, action: str, body: dict) -> Event | None:
    """Apply one accepted command to ``call`` now; return the follow-up event to queue once the
    command has been answered (None when the action has none)."""
    call.commands.append(Command(action, body, True, voice.now()))
    state = body.get("client_state")
    if isinstance(state, str) and state:
        call.client_state = state
    if action in GATHERS:
        if action == "gather_using_speak":
            call.spoken.append(str(body.get("payload", "")))
        digit = call.remaining.pop(0) if call.remaining else ""
        return Event("call.gather.ended", {"digits": digit,
                                           "status": "valid" if digit else "timeout"},
                     call.client_state)
    if action == "speak":
        call.spoken.append(str(body.get("payload", "")))
        return Event("call.speak.ended", {"status": "completed"}, call.client_state)
    if action == "hangup":
        return _hang_up(call, "normal_clearing", "caller", "200", queue=False)
    return None


def reject(voice: Voice, call: TelnyxCall, action: str, body: dict) -> None:
    """Record a command refused because the call has ended."""
    call.commands.append(Command(action, body, False, voice.now()))


def _hang_up(call: TelnyxCall, cause: str, source: str, sip: str, queue: bool = True) -> Event:
    call.ended = True
    event = Event("call.hangup", {"hangup_cause": cause, "hangup_source": source,
                                  "sip_hangup_cause": sip}, call.client_state)
    if queue:
        call.inbox.put_nowait(event)
    return event


async def play(voice: Voice, call: TelnyxCall) -> None:
    """Send the call's events in order until ``call.hangup`` has been sent."""
    while True:
        try:
            async with asyncio.timeout(voice.idle_hangup_seconds):
                event = await call.inbox.get()
        except TimeoutError:
            if call.ended:
                continue  # the caller hung up; its call.hangup is on its way into the queue
            # The callee heard nothing for too long: they hang up.
            event = _hang_up(call, "normal_clearing", "callee", "200", queue=False)
        await _send(voice, call, event)
        if event.type == "call.hangup":
            call.outcome = event.fields["hangup_cause"]
            return


async def _send(voice: Voice, call: TelnyxCall, event: Event) -> None:
    now = voice.now()
    payload = {"call_control_id": call.id, "call_leg_id": call.leg_id,
               "call_session_id": call.session_id, "connection_id": call.connection_id,
               "from": call.from_, "to": call.to, "client_state": event.client_state,
               "direction": "outgoing", "start_time": iso_micro(call.started_at),
               "state": "hangup" if event.type == "call.hangup" else "answered",
               **event.fields}
    if event.type == "call.hangup":
        payload["end_time"] = iso_micro(now)
        call.resource.update(is_alive=False, end_time=iso_micro(now))
    elif event.type == "call.answered":
        call.resource.update(is_alive=True)
    body, headers = telnyx_envelope(voice.telnyx_key, call.url, event.type, payload, now)
    await voice.deliver(call, event.type, "POST", call.url, json.loads(body), data=body,
                        headers=headers)

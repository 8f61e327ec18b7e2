"""Call callbacks: the providers tell how a page's call went, and which key the person pressed.

| endpoint | from |
|---|---|
| ``POST /voice/twilio/gather?page=…&attempt=…&round=…`` | Twilio's ``<Gather>`` action |
| ``POST /voice/twilio/status?page=…&attempt=…`` | Twilio's ``StatusCallback`` |
| ``POST /voice/telnyx`` | Telnyx Call Control events |

Twilio's are verified with ``X-Twilio-Signature`` and ``TWILIO_AUTH_TOKEN``; Telnyx's with
``telnyx-signature-ed25519`` over ``timestamp|body``, ``TELNYX_PUBLIC_KEY``, 300 s.

Twilio signs the public URL it called (``CALLWATCH_PUBLIC_URL`` + path + query) and the form.
A forged, missing or stale signature is 403 and changes nothing; a replayed callback (the same
Twilio call, round or status; the same Telnyx event id) is 409 and changes nothing; without the
key configured the endpoint answers 503 ``not_configured``.

Twilio gets TwiML back: what the person hears, then either another ``<Gather>`` (the menu) or
the end of the call. Telnyx gets 200 and the receiver drives the call with commands:
``call.answered`` → speak the page and the menu, listening for a key (after machine detection
says human, when the policy asks for it); ``call.gather.ended`` → act on the key;
``call.speak.ended`` after a goodbye → hang up; ``call.hangup`` before anyone answered → the
call was not answered. A one-way Telnyx call (to a channel's list) carries its script instead
of a page: ``call.answered`` → say it, then hang up.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from aiohttp import web

from callwatch.web import ApiError
from receiver.domain import pages
from receiver.domain.model import OutboxState
from receiver.http import callbacks
from receiver.http.common import store_errors
from receiver.notify.phone import (
    decode_client_state,
    encode_client_state,
    encode_page_state,
    gather_twiml,
    spoken,
)
from receiver.services import pages as page_calls
from receiver.services.answers import settle
from receiver.services.state import ReceiverState
from receiver.services.voice import TelnyxCommands

log = logging.getLogger("callwatch.receiver.voice")
TWILIO_STATUS = {"completed": pages.ANSWERED, "no-answer": "no-answer", "busy": "busy",
                 "failed": "failed", "canceled": "canceled"}
# Telnyx hangup causes of a call nobody answered
TELNYX_CAUSES = {"timeout": "no-answer", "no_answer": "no-answer", "user_busy": "busy",
                 "call_rejected": "failed", "not_found": "failed", "unspecified": "failed",
                 "originator_cancel": "canceled", "normal_clearing": "no-answer"}


# --- Twilio -----------------------------------------------------------------------------------

async def twilio_gather(request: web.Request) -> web.Response:
    state, form = await callbacks.twilio_form(request)
    page, attempt, round_ = _page_query(request)
    call = form.get("CallSid", "")
    await callbacks.once(state, "twilio", f"{call}:gather:{page}:{attempt}:{round_}")
    with store_errors():
        reply = await page_calls.keypress(state, page, form.get("Digits", ""), attempt,
                                          "twilio", call)
    if reply.listen:
        action = callbacks.public_url(
            state, f"/voice/twilio/gather?page={page}&attempt={attempt}&round={round_ + 1}")
        return _twiml(gather_twiml(reply.say, action, reply.menu))
    return _twiml(f"<Response><Say>{spoken(reply.say)}</Say><Hangup/></Response>")


async def twilio_status(request: web.Request) -> web.Response:
    state, form = await callbacks.twilio_form(request)
    page, attempt, _ = _page_query(request)
    status = TWILIO_STATUS.get(form.get("CallStatus", ""))
    if status is None:  # ringing, in-progress...: not an outcome
        return _twiml("<Response/>")
    await callbacks.once(state, "twilio",
                         f"{form.get('CallSid', '')}:status:{form.get('CallStatus')}")
    if status == pages.ANSWERED and form.get("AnsweredBy", "human").startswith(("machine",
                                                                                 "fax")):
        status = "machine"
    with store_errors():
        await settle(state.opened_store(), state.policy, state.metrics, page,
                     pages.CallReport(attempt, status, "twilio", form.get("CallSid")),
                     state.clock())
    return _twiml("<Response/>")


def _page_query(request: web.Request) -> tuple[str, int, int]:
    page = request.query.get("page", "")
    try:
        attempt, round_ = int(request.query.get("attempt", "")), int(request.query.get("round",
                                                                                       "1"))
    except ValueError:
        raise ApiError(400, "bad_request", "attempt and round must be whole numbers") from None
    if not page:
        raise ApiError(400, "bad_request", "page is required")
    return page, attempt, round_


def _twiml(xml: str) -> web.Response:
    return web.Response(text=xml, content_type="text/xml")


# --- Telnyx -----------------------------------------------------------------------------------

async def telnyx_event(request: web.Request) -> web.Response:
    state, data = await callbacks.telnyx_event(request)
    payload = data.get("payload") if isinstance(data.get("payload"), dict) else {}
    ours = decode_client_state(payload.get("client_state"))
    if ours is not None and "page" not in ours and "say" in ours:
        await _telnyx_announce(state, str(data.get("event_type")), payload, ours)
        return web.json_response({"status": "ok"})
    if ours is None or "page" not in ours:
        return web.json_response({"status": "ignored", "detail": "not a callwatch page call"})
    with store_errors():
        await _telnyx_step(state, str(data.get("event_type")), payload, ours)
    return web.json_response({"status": "ok"})


async def _telnyx_announce(state: ReceiverState, event: str, payload: Mapping,
                           ours: Mapping) -> None:
    """A one-way call: say its script once answered, then hang up."""
    commands = state.voice.commands if state.voice else None
    call = str(payload.get("call_control_id") or "")
    if commands is None or not call:
        return
    if event == "call.answered":
        await commands.speak(call, str(ours["say"]), encode_client_state(
            str(ours.get("incident", "")), str(ours["say"]), then="hangup"))
    elif event == "call.speak.ended" and ours.get("then") == "hangup":
        await commands.hangup(call)


async def _telnyx_step(state: ReceiverState, event: str, payload: Mapping, ours: Mapping) -> None:
    """One step of a Telnyx call (see the module docstring)."""
    commands = state.voice.commands if state.voice else None
    call = str(payload.get("call_control_id") or "")
    page, attempt = str(ours["page"]), int(ours.get("attempt") or 1)
    if event == "call.hangup":
        status = TELNYX_CAUSES.get(str(payload.get("hangup_cause")), "failed")
        await settle(state.opened_store(), state.policy, state.metrics, page,
                     pages.CallReport(attempt, status, "telnyx", call), state.clock())
    elif event in ("call.answered", "call.machine.detection.ended"):
        await _telnyx_answered(state, event, payload, page, attempt, call, commands)
    elif event == "call.gather.ended" and commands is not None:
        await _telnyx_gathered(state, payload, ours, page, attempt, call, commands)
    elif event == "call.speak.ended" and ours.get("then") == "hangup" and commands is not None:
        await commands.hangup(call)


async def _telnyx_answered(state: ReceiverState, event: str, payload: Mapping, page: str,
                           attempt: int, call: str, commands: TelnyxCommands | None) -> None:
    row = await state.opened_store().page_row(page)
    if row is None or row.state != OutboxState.AWAITING:
        return
    detect = bool(state.policy.channels[row.channel].settings.get("machine_detection"))
    if event == "call.answered" and detect:
        return  # wait for machine detection's verdict
    if event == "call.machine.detection.ended" and payload.get("result") == "machine":
        await settle(state.opened_store(), state.policy, state.metrics, page,
                     pages.CallReport(attempt, "machine", "telnyx", call), state.clock())
        if commands is not None:
            await commands.hangup(call)
        return
    await page_calls.answered(state, page, attempt, "telnyx", call)
    if commands is not None:
        await commands.gather(call, f"{page_calls.page_script(state, row)} "
                                    f"{page_calls.page_menu(state, row)}",
                              encode_page_state(page, attempt, round=1))


async def _telnyx_gathered(state: ReceiverState, payload: Mapping, ours: Mapping, page: str,
                           attempt: int, call: str, commands: TelnyxCommands) -> None:
    digits, round_ = str(payload.get("digits") or ""), int(ours.get("round") or 1)
    if not digits:  # nothing pressed: the menu once more, then goodbye
        row = await state.opened_store().page_row(page)
        if round_ < 2 and row is not None:
            await commands.gather(call, page_calls.page_menu(state, row),
                                  encode_page_state(page, attempt, round=2))
        else:
            await commands.speak(call, "Goodbye.", encode_page_state(page, attempt,
                                                                       then="hangup"))
        return
    reply = await page_calls.keypress(state, page, digits, attempt, "telnyx", call)
    if reply.listen:
        await commands.gather(call, f"{reply.say} {reply.menu}",
                              encode_page_state(page, attempt, round=round_ + 1))
    else:
        await commands.speak(call, reply.say, encode_page_state(page, attempt, then="hangup"))

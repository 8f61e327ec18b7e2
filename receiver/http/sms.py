"""Text-message replies to a page: ``POST /sms/twilio`` and ``POST /sms/telnyx``.

The providers post an inbound message to the number's messaging webhook: Twilio a signed form
(``From``, ``To``, ``Body``, ``MessageSid``), Telnyx a signed ``message.received`` event. Both are
verified as every provider callback is (``receiver.http.callbacks``): forged or stale 403,
replayed 409. ``ACK <code>`` acknowledges and ``RES <code>`` resolves the incident with that
code, as the contact whose number sent it (``via`` sms); anything else, or a number that is no
contact's, changes nothing and gets a polite answer. Twilio's answer is TwiML ``<Message>``;
Telnyx's is a text message sent back through its API.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from aiohttp import web

from receiver.http import callbacks
from receiver.http.common import store_errors
from receiver.services import people


async def twilio_sms(request: web.Request) -> web.Response:
    state, form = await callbacks.twilio_form(request)
    await callbacks.once(state, "twilio", f"sms:{form.get('MessageSid', '')}")
    with store_errors():
        answer = await people.text_reply(state, form.get("From", ""), form.get("Body", ""), "sms")
    return web.Response(text=f"<Response><Message>{escape(answer)}</Message></Response>",
                        content_type="text/xml")


async def telnyx_sms(request: web.Request) -> web.Response:
    state, data = await callbacks.telnyx_event(request)
    if data.get("event_type") != "message.received":
        return web.json_response({"status": "ignored", "detail": "not an inbound message"})
    payload = data.get("payload") if isinstance(data.get("payload"), dict) else {}
    sender = str((payload.get("from") or {}).get("phone_number") or "")
    ours = str(((payload.get("to") or [{}])[0] or {}).get("phone_number") or "")
    with store_errors():
        answer = await people.text_reply(state, sender, str(payload.get("text") or ""), "sms")
    commands = state.voice.commands if state.voice else None
    if commands is not None and sender and ours:
        await commands.text(sender, ours, answer)
    return web.json_response({"status": "ok", "answer": answer})

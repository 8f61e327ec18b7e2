"""Phone pages: a voice call that says the page (``Notification.text``, rendered from the
``voice_script`` template), through Twilio or else Telnyx.

Providers are tried in the channel's order (``providers``, default twilio then telnyx). The
provider the incident is ABOUT (``Notification.provider``) goes last: paging about a Twilio outage
through Twilio is the call most likely to fail. Any failure of one provider moves on to the next;
``Delivery.via`` names the provider that carried the call(s), ``Delivery.ref`` the call id(s).

Two-way (a ``public_url`` is set and the notification carries a ``page``): the person hears the
page and ``receiver.domain.pages.MENU``, and answers with a key. Twilio reads TwiML whose
``<Gather>`` posts the key to ``{public_url}/voice/twilio/gather?page=…&attempt=…&round=1``, and
reports how the call ended to ``{public_url}/voice/twilio/status?page=…&attempt=…``. Telnyx is
dialled with ``webhook_url={public_url}/voice/telnyx`` and a ``client_state`` naming the page;
the receiver speaks and gathers when ``call.answered`` arrives. The send returns
``Delivery(awaiting=True)``: the page is delivered only once a person answers.

One-way (a call to a channel's list, or no public URL): Twilio says the page twice. Telnyx
carries the script in ``client_state``; with a public URL the call's ``webhook_url`` is the
receiver, which speaks it on ``call.answered`` and hangs up; without one, whoever handles the
connection's webhook must (``speak_on_answer``).
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol
from xml.sax.saxutils import escape

import telnyx

from receiver.domain.pages import MENU
from receiver.notify.base import Delivery, Notification, NotifyError
from receiver.notify.common import truncate
from receiver.notify.providers import (
    TelnyxSettings,
    TwilioApi,
    TwilioSettings,
    telnyx_client,
    telnyx_errors,
    to_each_number,
)

log = logging.getLogger(__name__)

_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
_CLIENT_STATE_SAY_LIMIT = 700   # keeps base64 client_state well under a kilobyte


@dataclass(frozen=True)
class Callbacks:
    """Where a call reports back. With a ``page`` the call is two-way (answered, keys, and
    voicemail told apart when ``machine_detection``); without, the receiver only speaks the
    script on a Telnyx call (Twilio's TwiML says it by itself)."""

    public_url: str
    page: str | None
    attempt: int
    machine_detection: bool = False

    @property
    def two_way(self) -> bool:
        return self.page is not None

    def twilio_gather(self, round_: int = 1) -> str:
        return (f"{self.public_url}/voice/twilio/gather?page={self.page}"
                f"&attempt={self.attempt}&round={round_}")

    def twilio_status(self) -> str:
        return f"{self.public_url}/voice/twilio/status?page={self.page}&attempt={self.attempt}"

    def telnyx_webhook(self) -> str:
        return f"{self.public_url}/voice/telnyx"

    def telnyx_client_state(self) -> str:
        return encode_page_state(self.page, self.attempt)


class Dialer(Protocol):
    name: str

    async def dial(self, to: str, from_number: str, script: str, notification: Notification,
                   callbacks: Callbacks | None = None) -> str:
        """Start a call reading ``script`` (two-way when ``callbacks`` is given); the
        provider's call id, or NotifyError."""
        ...

    async def close(self) -> None: ...


def twiml(script: str) -> str:
    """TwiML saying ``script`` twice, XML-escaped (and stripped of characters XML forbids)."""
    said = spoken(script)
    return (f'<Response><Say>{said}</Say><Pause length="1"/>'
            f'<Say>Repeating. {said}</Say></Response>')


def gather_twiml(first: str, action_url: str, menu: str = MENU) -> str:
    """TwiML saying ``first`` then ``menu``, listening for one key, then the menu once more,
    then goodbye: the key goes to ``action_url``."""
    action = escape(action_url, {'"': "&quot;"})
    gather = f'<Gather input="dtmf" numDigits="1" action="{action}" method="POST" timeout="5">'
    menu = spoken(menu or MENU)
    return (f"<Response>{gather}<Say>{spoken(first)}</Say><Pause length=\"1\"/><Say>{menu}</Say>"
            f"</Gather>{gather}<Say>{menu}</Say></Gather><Say>Goodbye.</Say></Response>")


def spoken(text: str) -> str:
    """``text`` for a TwiML ``<Say>``: XML-escaped, without the characters XML forbids."""
    return escape(_XML_BAD.sub(" ", text), {'"': "&quot;"})


class TwilioDialer:
    """``calls.create_async`` with inline TwiML."""

    name = "twilio"

    def __init__(self, settings: TwilioSettings) -> None:
        self._api = TwilioApi(settings)

    async def dial(self, to: str, from_number: str, script: str, notification: Notification,
                   callbacks: Callbacks | None = None) -> str:
        options: dict[str, str] = {"twiml": twiml(script)}
        if callbacks is not None and callbacks.two_way:
            options = {"twiml": gather_twiml(script, callbacks.twilio_gather(),
                                                notification.menu),
                       "status_callback": callbacks.twilio_status(),
                       "status_callback_method": "POST"}
            if callbacks.machine_detection:
                options["machine_detection"] = "Enable"
        call = await self._api.request(lambda client: client.calls.create_async(
            to=to, from_=from_number, **options))
        return call.sid

    async def close(self) -> None:
        await self._api.close()


class TelnyxDialer:
    """``calls.dial`` on a Call Control connection; the script rides in ``client_state``."""

    name = "telnyx"

    def __init__(self, settings: TelnyxSettings) -> None:
        self._connection_id = settings.connection_id
        self._client = telnyx_client(settings)

    async def dial(self, to: str, from_number: str, script: str, notification: Notification,
                   callbacks: Callbacks | None = None) -> str:
        options: dict[str, str] = {
            "client_state": encode_client_state(notification.incident_id, script)}
        if callbacks is not None:
            options["webhook_url"] = callbacks.telnyx_webhook()   # the receiver speaks it
            options["webhook_url_method"] = "POST"
        if callbacks is not None and callbacks.two_way:
            options = {"client_state": callbacks.telnyx_client_state(),
                       "webhook_url": callbacks.telnyx_webhook(), "webhook_url_method": "POST"}
            if callbacks.machine_detection:
                options["answering_machine_detection"] = "detect"
        with telnyx_errors():
            response = await self._client.calls.dial(
                connection_id=self._connection_id, to=to, from_=from_number,
                command_id=f"{notification.id}:{notification.attempt}:{to}", **options)
        if response.data is None:
            raise NotifyError("server_error", "Telnyx answered without call data", retryable=True)
        return response.data.call_control_id

    async def close(self) -> None:
        await self._client.close()


def encode_client_state(incident_id: str, script: str, **extra: object) -> str:
    """A one-way call's Telnyx ``client_state``: the script to say, plus ``extra``."""
    state = {"callwatch": "page", "incident": incident_id,
             "say": truncate(script, _CLIENT_STATE_SAY_LIMIT), **extra}
    return base64.b64encode(json.dumps(state, separators=(",", ":")).encode()).decode()


def encode_page_state(page: str, attempt: int, **extra: object) -> str:
    """A two-way call's Telnyx ``client_state``: which page and call, plus ``extra`` (what the
    receiver is waiting for next)."""
    state = {"callwatch": "page", "page": page, "attempt": attempt, **extra}
    return base64.b64encode(json.dumps(state, separators=(",", ":")).encode()).decode()


def decode_client_state(client_state: str | None) -> dict | None:
    """Our state in a Telnyx webhook's ``client_state`` (a page's script, or a two-way call's
    page and attempt); None when it is not one of ours."""
    try:
        state = json.loads(base64.b64decode(client_state or "", validate=True))
    except (ValueError, TypeError):
        return None
    return state if isinstance(state, dict) and state.get("callwatch") == "page" else None


async def speak_on_answer(client: telnyx.AsyncTelnyx, call_control_id: str,
                          client_state: str | None, voice: str = "female") -> bool:
    """On ``call.answered``: speak the page script carried in ``client_state``. False if not
    ours."""
    state = decode_client_state(client_state)
    if state is None:
        return False
    await client.calls.actions.speak(call_control_id, payload=state["say"], voice=voice,
                                     language="en-US")
    return True


@dataclass(frozen=True)
class PhoneSettings:
    """``public_url`` (``CALLWATCH_PUBLIC_URL``): where the providers report back; without it,
    calls are one-way. ``machine_detection``: voicemail counts as not answered."""

    from_number: str
    public_url: str = ""
    machine_detection: bool = False


class PhoneNotifier:
    """Calls every recipient (E.164 numbers in ``Notification.recipients``) from the settings'
    ``from_number``."""

    channel_type = "phone"

    def __init__(self, settings: PhoneSettings, dialers: Sequence[Dialer]) -> None:
        if not dialers:
            raise ValueError("a phone channel needs at least one provider")
        self._settings = settings
        self._from = settings.from_number
        self._dialers = tuple(dialers)

    @property
    def tracks_answers(self) -> bool:
        """Whether a page's call is delivered only once a person answers (two-way)."""
        return bool(self._settings.public_url)

    @property
    def providers(self) -> tuple[str, ...]:
        """The providers that place the calls, in the order they are tried."""
        return tuple(dialer.name for dialer in self._dialers)

    async def send(self, notification: Notification) -> Delivery:
        script = notification.text or f"{notification.priority} {notification.summary}"
        callbacks = self._callbacks(notification)
        ref, via = await to_each_number(
            notification, self._dialers, "phone",
            lambda dialer, number: dialer.dial(number, self._from, script, notification,
                                               callbacks))
        return Delivery(ref=ref, via=via, awaiting=callbacks is not None and callbacks.two_way)

    def _callbacks(self, n: Notification) -> Callbacks | None:
        """Where the providers report back, when they can: two-way for a page to one person;
        a call to a channel's list is only spoken."""
        if not self.tracks_answers:
            return None
        public_url = self._settings.public_url.rstrip("/")
        if not (n.page and len(n.recipients) == 1):
            return Callbacks(public_url, None, n.attempt)
        return Callbacks(public_url, n.page, n.attempt, self._settings.machine_detection)

    async def close(self) -> None:
        for dialer in self._dialers:
            await dialer.close()

"""Text-message pages through Twilio Messaging, else Telnyx Messaging.

One message per recipient (an E.164 number), from the channel's ``from_number``. As for phone
calls, the provider the incident is about goes last. The text is ``Notification.text``
(rendered from the ``sms`` template): it names the incident by a short code and says how to
answer: ``P1 #K7Q Twilio health 62%. Reply ACK K7Q / RES K7Q``; the person
replies to the number that texted them, and the receiver's ``/sms/twilio`` or ``/sms/telnyx``
acts as the contact whose number sent the reply.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from receiver.notify.base import Delivery, Notification, NotifyError
from receiver.notify.common import truncate
from receiver.notify.providers import (
    TelnyxSettings,
    TwilioApi,
    TwilioSettings,
    telnyx_client,
    telnyx_errors,
)

log = logging.getLogger(__name__)
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
MAX_BODY = 1600            # the longest body the providers take; the template aims at 320


class Texter(Protocol):
    name: str

    async def text(self, to: str, from_number: str, body: str) -> str:
        """Send ``body``; the provider's message id, or NotifyError."""
        ...

    async def close(self) -> None: ...


class TwilioTexter:
    name = "twilio"

    def __init__(self, settings: TwilioSettings) -> None:
        self._api = TwilioApi(settings)

    async def text(self, to: str, from_number: str, body: str) -> str:
        message = await self._api.request(lambda client: client.messages.create_async(
            to=to, from_=from_number, body=body))
        return message.sid

    async def close(self) -> None:
        await self._api.close()


class TelnyxTexter:
    name = "telnyx"

    def __init__(self, settings: TelnyxSettings) -> None:
        self._client = telnyx_client(settings)

    async def text(self, to: str, from_number: str, body: str) -> str:
        with telnyx_errors():
            response = await self._client.messages.send(to=to, from_=from_number, text=body)
        if response.data is None or not response.data.id:
            raise NotifyError("server_error", "Telnyx answered without message data",
                              retryable=True)
        return str(response.data.id)

    async def close(self) -> None:
        await self._client.close()


@dataclass(frozen=True)
class SmsSettings:
    from_number: str


class SmsNotifier:
    """Texts every recipient (E.164 numbers in ``Notification.recipients``)."""

    channel_type = "sms"

    def __init__(self, settings: SmsSettings, texters: Sequence[Texter]) -> None:
        if not texters:
            raise ValueError("an sms channel needs at least one provider")
        self._from = settings.from_number
        self._texters = tuple(texters)

    async def send(self, notification: Notification) -> Delivery:
        if not notification.recipients:
            raise NotifyError("config", "text page has no recipients", retryable=False)
        for index, number in enumerate(notification.recipients, 1):
            if not _E164.match(number):
                raise NotifyError("config", f"recipient #{index} is not an E.164 number",
                                  retryable=False)
        body = truncate(notification.text or notification.summary, MAX_BODY)
        refs, via = [], []
        for number in notification.recipients:
            ref, name = await self._text(number, body, notification)
            refs.append(ref)
            if name not in via:
                via.append(name)
        return Delivery(ref=",".join(refs), via=",".join(via))

    async def _text(self, number: str, body: str, n: Notification) -> tuple[str, str]:
        about = (n.provider or "").lower()
        errors: list[tuple[str, NotifyError]] = []
        for texter in sorted(self._texters, key=lambda t: t.name == about):
            try:
                return await texter.text(number, self._from, body), texter.name
            except NotifyError as exc:
                log.warning("text page via %s failed, trying the next provider", texter.name,
                            extra={"reason": exc.reason, "incident": n.incident_id})
                errors.append((texter.name, exc))
        retryable = [e for _, e in errors if e.retryable]
        chosen = retryable[0] if retryable else errors[-1][1]
        detail = "; ".join(f"{name}: {e.detail}" for name, e in errors)
        raise NotifyError(chosen.reason, f"every text provider failed ({detail})",
                          retryable=bool(retryable))

    async def close(self) -> None:
        for texter in self._texters:
            await texter.close()

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
    to_each_number,
)

log = logging.getLogger(__name__)
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
        body = truncate(notification.text or notification.summary, MAX_BODY)
        ref, via = await to_each_number(
            notification, self._texters, "text",
            lambda texter, number: texter.text(number, self._from, body))
        return Delivery(ref=ref, via=via)

    async def close(self) -> None:
        for texter in self._texters:
            await texter.close()

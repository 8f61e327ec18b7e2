"""Text-message pages through Twilio Messaging, else Telnyx Messaging.

One message per recipient (an E.164 number), from the channel's ``from_number``. As for phone
calls, the provider the incident is about goes last. The text is ``Notification.text``
(rendered from the ``sms`` template): it names the incident by a short code and says how to
answer: ``P1 #K7Q Twilio health 62%. Reply ACK K7Q / RES K7Q``; the person
replies to the number that texted them, and the receiver's ``/sms/twilio`` or ``/sms/telnyx``
acts as the contact whose number sent the reply.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import aiohttp
import telnyx
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client as TwilioClient

from receiver.notify.base import Delivery, Notification, NotifyError
from receiver.notify.common import http_error, truncate
from receiver.notify.phone import TelnyxSettings, TwilioSettings

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
        self._settings = settings
        self._client: TwilioClient | None = None
        self._http: AsyncTwilioHttpClient | None = None

    def _get_client(self) -> TwilioClient:
        # built on first use: AsyncTwilioHttpClient opens an aiohttp session, which wants a loop
        if self._client is None:
            self._http = AsyncTwilioHttpClient(timeout=self._settings.timeout)
            self._client = TwilioClient(self._settings.account_sid, self._settings.auth_token,
                                        http_client=self._http, environment={})
            if self._settings.base_url:
                self._client.api.base_url = self._settings.base_url.rstrip("/")
        return self._client

    async def text(self, to: str, from_number: str, body: str) -> str:
        try:
            async with asyncio.timeout(self._settings.timeout):
                message = await self._get_client().messages.create_async(
                    to=to, from_=from_number, body=body)
        except TwilioRestException as exc:
            raise http_error(int(exc.status), "Twilio") from None
        except (TimeoutError, aiohttp.ServerTimeoutError):
            raise NotifyError("timeout", "Twilio request timed out", retryable=True) from None
        except aiohttp.ClientError as exc:
            raise NotifyError("connection", f"cannot reach Twilio ({type(exc).__name__})",
                              retryable=True) from None
        except TwilioException:
            raise NotifyError("server_error", "Twilio answered something unreadable",
                              retryable=True) from None
        return message.sid

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()


class TelnyxTexter:
    name = "telnyx"

    def __init__(self, settings: TelnyxSettings) -> None:
        self._client = telnyx.AsyncTelnyx(api_key=settings.api_key, base_url=settings.base_url,
                                          timeout=settings.timeout,
                                          max_retries=settings.max_retries)

    async def text(self, to: str, from_number: str, body: str) -> str:
        try:
            response = await self._client.messages.send(to=to, from_=from_number, text=body)
        except telnyx.APIStatusError as exc:
            raise http_error(exc.status_code, "Telnyx") from None
        except telnyx.APITimeoutError:
            raise NotifyError("timeout", "Telnyx request timed out", retryable=True) from None
        except telnyx.APIConnectionError:
            raise NotifyError("connection", "cannot reach Telnyx", retryable=True) from None
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

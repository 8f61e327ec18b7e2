"""Phone pages: a voice call that reads the incident summary, through Twilio or else Telnyx.

Providers are tried in the channel's order (``providers``, default twilio then telnyx). The
provider the incident is ABOUT (``Notification.provider``) goes last: paging about a Twilio outage
through Twilio is the call most likely to fail. Any failure of one provider moves on to the next;
``Delivery.via`` names the provider that carried the call(s), ``Delivery.ref`` the call id(s).

Twilio speaks inline TwiML (``<Say>``). Telnyx Call Control cannot speak at dial time: the script
travels in ``client_state`` (base64 JSON ``{"callwatch": "page", "incident": …, "say": …}``) and
whoever handles the ``call.answered`` webhook calls ``speak_on_answer`` to read it out.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol
from xml.sax.saxutils import escape

import aiohttp
import telnyx
from twilio.base.exceptions import (
    TwilioException,
    TwilioRestException,
    TwilioServiceException,
)
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client as TwilioClient

from receiver.notify.base import Delivery, Notification, NotifyError
from receiver.notify.common import http_error, truncate

log = logging.getLogger(__name__)

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
_CLIENT_STATE_SAY_LIMIT = 700   # keeps base64 client_state well under a kilobyte


class Dialer(Protocol):
    name: str

    async def dial(self, to: str, from_number: str, script: str, notification: Notification) -> str:
        """Start a call reading ``script``; the provider's call id, or NotifyError."""
        ...

    async def close(self) -> None: ...


def voice_script(n: Notification) -> str:
    """What the call says: priority, summary, incident id; the short body when there is one."""
    script = (f"This is callwatch. Priority {' '.join(n.priority)} incident. "
              f"{n.summary.rstrip('.')}.")
    if n.text and n.text != n.summary and len(n.text) <= 400:
        script += f" {n.text}"
    return f"{script} Incident {n.incident_id}."


def twiml(script: str) -> str:
    """TwiML saying ``script`` twice, XML-escaped (and stripped of characters XML forbids)."""
    said = escape(_XML_BAD.sub(" ", script), {'"': "&quot;"})
    return (f'<Response><Say>{said}</Say><Pause length="1"/>'
            f'<Say>Repeating. {said}</Say></Response>')


@dataclass(frozen=True)
class TwilioSettings:
    """``base_url`` overrides ``https://api.twilio.com``."""

    account_sid: str
    auth_token: str = field(repr=False)
    base_url: str | None = None
    timeout: float = 10.0


@dataclass(frozen=True)
class TelnyxSettings:
    """``connection_id``: the Call Control connection that places the calls."""

    api_key: str = field(repr=False)
    connection_id: str = ""
    base_url: str | None = None
    timeout: float = 10.0
    max_retries: int = 1


class TwilioDialer:
    """``calls.create_async`` with inline TwiML."""

    name = "twilio"

    def __init__(self, settings: TwilioSettings) -> None:
        self._credentials = (settings.account_sid, settings.auth_token)
        self._base_url = settings.base_url
        self._timeout = settings.timeout
        self._client: TwilioClient | None = None
        self._http: AsyncTwilioHttpClient | None = None

    def _get_client(self) -> TwilioClient:
        # Built on first use: AsyncTwilioHttpClient opens an aiohttp session, which wants a loop.
        if self._client is None:
            self._http = AsyncTwilioHttpClient(timeout=self._timeout)
            # environment={}: TWILIO_REGION/EDGE would rewrite the base URL host.
            self._client = TwilioClient(*self._credentials, http_client=self._http, environment={})
            if self._base_url:
                self._client.api.base_url = self._base_url.rstrip("/")
        return self._client

    async def dial(self, to: str, from_number: str, script: str, notification: Notification) -> str:
        try:
            # our own deadline: AsyncTwilioHttpClient ignores its ``timeout`` (9.13, verified)
            async with asyncio.timeout(self._timeout):
                call = await self._get_client().calls.create_async(
                    to=to, from_=from_number, twiml=twiml(script))
        except (TwilioRestException, TwilioServiceException) as exc:
            raise http_error(int(exc.status), "Twilio") from None
        except (TimeoutError, aiohttp.ServerTimeoutError):
            raise NotifyError("timeout", "Twilio request timed out", retryable=True) from None
        except aiohttp.ClientConnectorCertificateError:
            raise NotifyError("config", "Twilio TLS certificate not trusted",
                              retryable=False) from None
        except aiohttp.ClientError as exc:
            raise NotifyError("connection", f"cannot reach Twilio ({type(exc).__name__})",
                              retryable=True) from None
        except TwilioException:
            raise NotifyError("server_error", "Twilio answered something unreadable",
                              retryable=True) from None
        return call.sid

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()


class TelnyxDialer:
    """``calls.dial`` on a Call Control connection; the script rides in ``client_state``."""

    name = "telnyx"

    def __init__(self, settings: TelnyxSettings) -> None:
        self._connection_id = settings.connection_id
        self._client = telnyx.AsyncTelnyx(api_key=settings.api_key, base_url=settings.base_url,
                                          timeout=settings.timeout,
                                          max_retries=settings.max_retries)

    async def dial(self, to: str, from_number: str, script: str, notification: Notification) -> str:
        try:
            response = await self._client.calls.dial(
                connection_id=self._connection_id, to=to, from_=from_number,
                client_state=encode_client_state(notification.incident_id, script),
                command_id=f"{notification.id}:{to}")
        except telnyx.APIStatusError as exc:
            raise http_error(exc.status_code, "Telnyx") from None
        except telnyx.APITimeoutError:
            raise NotifyError("timeout", "Telnyx request timed out", retryable=True) from None
        except telnyx.APIConnectionError:
            raise NotifyError("connection", "cannot reach Telnyx", retryable=True) from None
        if response.data is None:
            raise NotifyError("server_error", "Telnyx answered without call data", retryable=True)
        return response.data.call_control_id

    async def close(self) -> None:
        await self._client.close()


def encode_client_state(incident_id: str, script: str) -> str:
    state = {"callwatch": "page", "incident": incident_id,
             "say": truncate(script, _CLIENT_STATE_SAY_LIMIT)}
    return base64.b64encode(json.dumps(state, separators=(",", ":")).encode()).decode()


def decode_client_state(client_state: str | None) -> dict | None:
    """The page script of a Telnyx webhook's ``client_state``; None when it is not one of ours."""
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


class PhoneNotifier:
    """Calls every recipient (E.164 numbers in ``Notification.recipients``) from ``from_number``."""

    channel_type = "phone"

    def __init__(self, from_number: str, dialers: Sequence[Dialer]) -> None:
        if not dialers:
            raise ValueError("a phone channel needs at least one provider")
        self._from = from_number
        self._dialers = tuple(dialers)

    def order_for(self, notification: Notification) -> list[Dialer]:
        """The dialers to try, the one the incident is about moved last."""
        about = (notification.provider or "").lower()
        return sorted(self._dialers, key=lambda d: d.name == about)

    async def send(self, notification: Notification) -> Delivery:
        if not notification.recipients:
            raise NotifyError("config", "phone page has no recipients", retryable=False)
        for index, number in enumerate(notification.recipients, 1):
            if not _E164.match(number):
                raise NotifyError("config", f"recipient #{index} is not an E.164 number",
                                  retryable=False)
        script = voice_script(notification)
        refs, via = [], []
        # One recipient failing on every provider fails the send: a retry may call the others
        # again, which beats a page silently lost.
        for number in notification.recipients:
            ref, name = await self._call(number, script, notification)
            refs.append(ref)
            if name not in via:
                via.append(name)
        return Delivery(ref=",".join(refs), via=",".join(via))

    async def _call(self, number: str, script: str, n: Notification) -> tuple[str, str]:
        errors: list[tuple[str, NotifyError]] = []
        for dialer in self.order_for(n):
            try:
                return await dialer.dial(number, self._from, script, n), dialer.name
            except NotifyError as exc:
                log.warning("phone page via %s failed, trying the next provider",
                            dialer.name, extra={"reason": exc.reason, "incident": n.incident_id})
                errors.append((dialer.name, exc))
        retryable = [e for _, e in errors if e.retryable]
        chosen = retryable[0] if retryable else errors[-1][1]
        detail = "; ".join(f"{name}: {e.detail}" for name, e in errors)
        raise NotifyError(chosen.reason, f"every phone provider failed ({detail})",
                          retryable=bool(retryable))

    async def close(self) -> None:
        for dialer in self._dialers:
            await dialer.close()

"""What the phone and SMS notifiers share: trying Twilio and Telnyx in turn, their clients,
and their failures as NotifyErrors.

``to_each_number`` sends a page to every recipient number through the first provider that
works for it, the provider the incident is about last (paging about a Twilio outage through
Twilio is the page most likely to fail). ``TwilioApi`` is Twilio's REST client on the SDK's
async HTTP client, built on first use (it opens an aiohttp session, which wants a running
loop) with ``environment={}`` (TWILIO_REGION or TWILIO_EDGE would rewrite the base URL's
host); ``request`` bounds each request by the settings' timeout itself (AsyncTwilioHttpClient
ignores its own ``timeout``) and classifies what fails. ``telnyx_client`` builds the Telnyx
SDK's async client and ``telnyx_errors`` classifies its failures. No error text holds a
credential.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import aiohttp
import telnyx
from twilio.base.exceptions import (
    TwilioException,
    TwilioRestException,
    TwilioServiceException,
)
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client as TwilioClient

from receiver.notify.base import Notification, NotifyError
from receiver.notify.common import http_error, transport_error

T = TypeVar("T")
log = logging.getLogger(__name__)
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


class Provider(Protocol):
    name: str    # "twilio", "telnyx"


P = TypeVar("P", bound=Provider)


def in_order(providers: Sequence[P], n: Notification) -> list[P]:
    """``providers`` in their order, the one the incident is about moved last."""
    about = (n.provider or "").lower()
    return sorted(providers, key=lambda provider: provider.name == about)


async def to_each_number(n: Notification, providers: Sequence[P], what: str,
                         send: Callable[[P, str], Awaitable[str]]) -> tuple[str, str]:
    """``send(provider, number)`` for every recipient of ``n`` through the first provider that
    works (``in_order``); the refs and the providers used, each comma-joined. ``what`` ("phone",
    "text") names the page in errors. Recipients must be E.164 numbers (``config``). One number
    failing on every provider fails the send: a retry may page the others again, which beats a
    page silently lost."""
    if not n.recipients:
        raise NotifyError("config", f"{what} page has no recipients", retryable=False)
    for index, number in enumerate(n.recipients, 1):
        if not _E164.match(number):
            raise NotifyError("config", f"recipient #{index} is not an E.164 number",
                              retryable=False)
    refs, via = [], []
    for number in n.recipients:
        ref, name = await _first_that_works(in_order(providers, n), number, n, what, send)
        refs.append(ref)
        if name not in via:
            via.append(name)
    return ",".join(refs), ",".join(via)


async def _first_that_works(providers: list[P], number: str, n: Notification, what: str,
                            send: Callable[[P, str], Awaitable[str]]) -> tuple[str, str]:
    errors: list[tuple[str, NotifyError]] = []
    for provider in providers:
        try:
            return await send(provider, number), provider.name
        except NotifyError as exc:
            log.warning("%s page via %s failed, trying the next provider", what, provider.name,
                        extra={"reason": exc.reason, "incident": n.incident_id})
            errors.append((provider.name, exc))
    retryable = [e for _, e in errors if e.retryable]
    chosen = retryable[0] if retryable else errors[-1][1]
    detail = "; ".join(f"{name}: {e.detail}" for name, e in errors)
    raise NotifyError(chosen.reason, f"every {what} provider failed ({detail})",
                      retryable=bool(retryable))


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


class TwilioApi:
    """One Twilio account's REST client (see the module docstring)."""

    def __init__(self, settings: TwilioSettings) -> None:
        self._settings = settings
        self._client: TwilioClient | None = None
        self._http: AsyncTwilioHttpClient | None = None

    def _get_client(self) -> TwilioClient:
        if self._client is None:
            self._http = AsyncTwilioHttpClient(timeout=self._settings.timeout)
            self._client = TwilioClient(self._settings.account_sid, self._settings.auth_token,
                                        http_client=self._http, environment={})
            if self._settings.base_url:
                self._client.api.base_url = self._settings.base_url.rstrip("/")
        return self._client

    async def request(self, send: Callable[[TwilioClient], Awaitable[T]]) -> T:
        """``send(client)``'s result, or NotifyError: HTTP statuses as ``http_error``, the
        deadline as ``timeout``, an untrusted certificate as ``config``, the network as
        ``connection``, an answer the SDK cannot read as ``server_error``."""
        try:
            async with asyncio.timeout(self._settings.timeout):
                return await send(self._get_client())
        except (TwilioRestException, TwilioServiceException) as exc:
            raise http_error(int(exc.status), "Twilio") from None
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise transport_error(exc, "Twilio") from None
        except TwilioException:
            raise NotifyError("server_error", "Twilio answered something unreadable",
                              retryable=True) from None

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()


def telnyx_client(settings: TelnyxSettings) -> telnyx.AsyncTelnyx:
    return telnyx.AsyncTelnyx(api_key=settings.api_key, base_url=settings.base_url,
                              timeout=settings.timeout, max_retries=settings.max_retries)


@contextmanager
def telnyx_errors() -> Iterator[None]:
    """The Telnyx SDK's failures as NotifyErrors (HTTP statuses as ``http_error``)."""
    try:
        yield
    except telnyx.APIStatusError as exc:
        raise http_error(exc.status_code, "Telnyx") from None
    except telnyx.APITimeoutError:
        raise NotifyError("timeout", "Telnyx request timed out", retryable=True) from None
    except telnyx.APIConnectionError:
        raise NotifyError("connection", "cannot reach Telnyx", retryable=True) from None

"""The Twilio and Telnyx clients the phone and SMS notifiers share, and their failures as
NotifyErrors.

``TwilioApi`` is Twilio's REST client on the SDK's async HTTP client, built on first use (it
opens an aiohttp session, which wants a running loop) with ``environment={}`` (TWILIO_REGION or
TWILIO_EDGE would rewrite the base URL's host); ``request`` bounds each request by the
settings' timeout itself (AsyncTwilioHttpClient ignores its own ``timeout``) and classifies
what fails. ``telnyx_client`` builds the Telnyx SDK's async client and ``telnyx_errors``
classifies its failures. No error text holds a credential.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

import aiohttp
import telnyx
from twilio.base.exceptions import (
    TwilioException,
    TwilioRestException,
    TwilioServiceException,
)
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client as TwilioClient

from receiver.notify.base import NotifyError
from receiver.notify.common import http_error

T = TypeVar("T")


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

"""Slack through ``slack_sdk``'s AsyncWebClient: a Block Kit message, later kinds as thread replies.

A ``trigger`` posts a new message to the channel; every other kind is a reply in the incident's
thread (``thread_ts`` = ``Notification.thread_ref``; a top-level message when there is no thread
yet). ``Delivery.ref`` is the ``ts`` Slack gives the posted message. 429s are retried by the SDK's
rate-limit handler (``rate_limit_retries`` times, honouring Retry-After), connection failures
``connection_retries`` times; each request is bounded by ``timeout`` seconds.

The message is the notification's rendered ``text`` (the fallback Slack shows in
notifications) and ``blocks`` (templates ``slack_blocks`` and ``slack_settled``, see
``receiver.domain.render``). Both ways (``interactive``: the receiver verifies Slack's clicks,
``SLACK_SIGNING_SECRET``), a page carries buttons ``callwatch_ack``, ``callwatch_escalate`` and
``callwatch_resolve`` whose ``value`` is the incident id, and an ``acknowledge`` or ``resolve``
also edits the incident's first message (``chat.update``) to ``edit_text``/``edit_blocks``: the
state and who acted. A failed edit is logged; the reply in the thread is what counts.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from receiver.notify.base import Delivery, Notification, NotifyError
from receiver.notify.common import http_error

_AUTH_ERRORS = {"invalid_auth", "not_authed", "account_inactive", "token_revoked",
                "token_expired", "missing_scope", "no_permission", "ekm_access_denied"}
_CONFIG_ERRORS = {"channel_not_found", "not_in_channel", "is_archived", "thread_not_found"}
_SERVER_ERRORS = {"internal_error", "fatal_error", "service_unavailable", "request_timeout"}
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SlackSettings:
    """One Slack channel (``channel``: name or id), a bot ``token``; ``base_url`` ends in /."""

    token: str = field(repr=False)
    channel: str = ""
    base_url: str | None = None
    timeout: float = 10.0
    rate_limit_retries: int = 2
    connection_retries: int = 1
    interactive: bool = False       # buttons, and the first message edited on ack/resolve


class SlackNotifier:
    """Posts to the settings' channel. Name the channel by its id (``C…``) so that a message
    can be edited after a restart too (Slack edits by channel id; a name is resolved from the
    last post)."""

    channel_type = "slack"

    def __init__(self, settings: SlackSettings) -> None:
        self._channel = settings.channel
        self._channel_id = settings.channel if _is_id(settings.channel) else None
        self._interactive = settings.interactive
        self._client = AsyncWebClient(
            token=settings.token, base_url=settings.base_url or AsyncWebClient.BASE_URL,
            timeout=settings.timeout, retry_handlers=[
                AsyncConnectionErrorRetryHandler(max_retry_count=settings.connection_retries),
                AsyncRateLimitErrorRetryHandler(max_retry_count=settings.rate_limit_retries)])

    @property
    def interactive(self) -> bool:
        """Whether pages carry buttons (the receiver verifies the clicks)."""
        return self._interactive

    async def send(self, notification: Notification) -> Delivery:
        thread = None if notification.kind == "trigger" else notification.thread_ref
        if self._client.session is None or self._client.session.closed:
            # one session (and its kept-alive connections) for every message: without it the
            # SDK opens a session, a connection and a TLS handshake per message. The SDK
            # bounds a request by the session's timeout only, so it is set here.
            self._client.session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._client.timeout))
        try:
            response = await self._client.chat_postMessage(
                channel=self._channel, text=notification.text or notification.summary,
                blocks=list(notification.blocks) or None, thread_ts=thread, unfurl_links=False)
            self._channel_id = response.get("channel") or self._channel_id
        except SlackApiError as exc:
            raise classify_slack(exc.response.get("error"), exc.response.status_code) from None
        except TimeoutError:
            raise NotifyError("timeout", "Slack request timed out", retryable=True) from None
        except aiohttp.ClientConnectorCertificateError:
            raise NotifyError("config", "Slack TLS certificate not trusted",
                              retryable=False) from None
        except aiohttp.ClientError as exc:
            raise NotifyError("connection", f"cannot reach Slack ({type(exc).__name__})",
                              retryable=True) from None
        if self._interactive and thread and notification.edit_blocks:
            await self._edit_first(notification, thread)
        return Delivery(ref=response.get("ts"), via="slack")

    async def _edit_first(self, n: Notification, ts: str) -> None:
        """Show the incident's new state on its first message (see the module docstring)."""
        try:
            await self._client.chat_update(channel=self._channel_id or self._channel, ts=ts,
                                           text=n.edit_text or n.summary,
                                           blocks=list(n.edit_blocks))
        except (SlackApiError, TimeoutError, aiohttp.ClientError) as exc:
            log.warning("could not edit the incident's Slack message",
                        extra={"incident": n.incident_id, "error": type(exc).__name__})

    async def close(self) -> None:
        session = getattr(self._client, "session", None)
        if session is not None and not session.closed:
            await session.close()


def _is_id(channel: str) -> bool:
    return bool(_CHANNEL_ID.match(channel))


def classify_slack(error: str | None, status: int | None) -> NotifyError:
    """Slack's ``error`` code and HTTP status → NotifyError; the HTTP status decides first."""
    code = error or "unknown_error"
    if status == 429 or code in ("ratelimited", "rate_limited"):
        return NotifyError("rate_limited", "Slack rate-limited the message", retryable=True)
    if status is not None and status >= 500:
        return NotifyError("server_error", f"Slack failed (HTTP {status}, {code})", retryable=True)
    if code in _AUTH_ERRORS or status in (401, 403):
        return NotifyError("auth", f"Slack refused the token ({code})", retryable=False)
    if code in _CONFIG_ERRORS:
        return NotifyError("config", f"Slack channel problem ({code})", retryable=False)
    if status is not None and status != 200:
        return http_error(status, "Slack")
    if code in _SERVER_ERRORS:
        return NotifyError("server_error", f"Slack failed ({code})", retryable=True)
    return NotifyError("rejected", f"Slack rejected the message ({code})", retryable=False)

"""Slack through ``slack_sdk``'s AsyncWebClient: a Block Kit message, later kinds as thread replies.

A ``trigger`` posts a new message to the channel; every other kind is a reply in the incident's
thread (``thread_ts`` = ``Notification.thread_ref``; a top-level message when there is no thread
yet). ``Delivery.ref`` is the ``ts`` Slack gives the posted message. 429s are retried by the SDK's
rate-limit handler (``rate_limit_retries`` times, honouring Retry-After), connection failures
``connection_retries`` times; each request is bounded by ``timeout`` seconds.

The message is the notification's rendered ``text`` (the fallback Slack shows in
notifications) and ``blocks`` (templates ``slack_blocks`` and ``slack_settled``, see
``receiver.domain.render``). Both ways (``interactive``: the receiver verifies Slack's clicks,
``SLACK_SIGNING_SECRET``), a page carries buttons ``callwatch_ack``, ``callwatch_escalate``,
``callwatch_resolve`` (and ``callwatch_failover`` when it offers a provider failover) whose
``value`` is the incident id, and an ``acknowledge`` or ``resolve``
also edits the incident's first message (``chat.update``) to ``edit_text``/``edit_blocks``: the
state and who acted. A failed edit is logged; the reply in the thread is what counts.

Every message carries metadata naming its outbox row (``{"event_type": "callwatch_page",
"event_payload": {"page": <row id>}}``). A row that may already have been posted
(``Notification.maybe_sent_since``: taken over from a receiver that died mid-send, or retried
after a timeout or a 5xx) is first looked up: the channel's history since then, less
``LOOKBACK_MARGIN`` (a thread reply: the thread's replies), read with ``include_all_metadata``
(scope ``channels:history``, ``groups:history`` for a private channel). Found, it is answered as
that message (``Delivery(found=True)``) and not posted again. The history is read once for a
burst of takeovers (``FRESH_SECONDS``), at most ``HISTORY_PAGES`` pages deep and for at most
``LOOKUP_SECONDS``. When the look-up cannot be made (the channel named by name and nothing
posted yet, a missing scope, Slack failing or rate-limiting) the message is posted: a
duplicate beats a lost page.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass, field

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from receiver.notify.base import Delivery, Notification, NotifyError
from receiver.notify.common import http_error, transport_error

_AUTH_ERRORS = {"invalid_auth", "not_authed", "account_inactive", "token_revoked",
                "token_expired", "missing_scope", "no_permission", "ekm_access_denied"}
_CONFIG_ERRORS = {"channel_not_found", "not_in_channel", "is_archived", "thread_not_found"}
_SERVER_ERRORS = {"internal_error", "fatal_error", "service_unavailable", "request_timeout"}
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
log = logging.getLogger(__name__)
PAGE_EVENT = "callwatch_page"
LOOKBACK_MARGIN = 60.0   # seconds: receivers' clocks and Slack's may disagree by up to this
HISTORY_PAGES = 5        # a look-up reads at most 5 x 200 messages
FRESH_SECONDS = 3.0      # one history read serves the takeovers of a dead receiver's batch
LOOKUP_SECONDS = 10.0    # a look-up slower than this (rate-limited, say) gives up and posts


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
        self._lookup = asyncio.Lock()
        self._recent: tuple[float, float, dict[str, str]] | None = None  # oldest, read at, pages
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
        if notification.maybe_sent_since is not None:
            found = await self._posted_before(notification, thread)
            if found is not None:
                if self._interactive and thread and notification.edit_blocks:
                    await self._edit_first(notification, thread)
                return Delivery(ref=found, via="slack", found=True)
        try:
            response = await self._client.chat_postMessage(
                channel=self._channel, text=notification.text or notification.summary,
                blocks=list(notification.blocks) or None, thread_ts=thread, unfurl_links=False,
                metadata={"event_type": PAGE_EVENT, "event_payload": {"page": notification.id}})
            self._channel_id = response.get("channel") or self._channel_id
        except SlackApiError as exc:
            raise classify_slack(exc.response.get("error"), exc.response.status_code) from None
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise transport_error(exc, "Slack") from None
        if self._interactive and thread and notification.edit_blocks:
            await self._edit_first(notification, thread)
        return Delivery(ref=response.get("ts"), via="slack")

    async def _posted_before(self, n: Notification, thread: str | None) -> str | None:
        """The ts of a message already posted for ``n``'s row, if the channel shows one."""
        if self._channel_id is None:
            log.warning("cannot look up a taken-over Slack message: name the channel by its id",
                        extra={"outbox": n.id})
            return None
        oldest = (n.maybe_sent_since or 0.0) - LOOKBACK_MARGIN
        try:
            async with asyncio.timeout(LOOKUP_SECONDS):
                if thread is None:
                    pages = await self._recent_pages(oldest)
                else:
                    pages = await self._pages(self._client.conversations_replies, oldest,
                                              ts=thread)
        except SlackApiError as exc:
            log.warning("could not look up a taken-over Slack message; posting it",
                        extra={"outbox": n.id, "error": exc.response.get("error")})
            return None
        except (TimeoutError, aiohttp.ClientError) as exc:
            log.warning("could not look up a taken-over Slack message; posting it",
                        extra={"outbox": n.id, "error": type(exc).__name__})
            return None
        if n.id in pages:
            log.info("a taken-over Slack message was already posted",
                     extra={"outbox": n.id, "ts": pages[n.id]})
        return pages.get(n.id)

    async def _recent_pages(self, oldest: float) -> dict[str, str]:
        """The channel's pages since ``oldest``: one read for a burst of takeovers."""
        async with self._lookup:
            if self._recent is not None:
                since, read_at, pages = self._recent
                if since <= oldest and time.monotonic() - read_at < FRESH_SECONDS:
                    return pages
            pages = await self._pages(self._client.conversations_history, oldest)
            self._recent = (oldest, time.monotonic(), pages)
            return pages

    async def _pages(self, read, oldest: float, **args: str) -> dict[str, str]:
        """{row id: ts} of the messages ``read`` (history or replies) shows since ``oldest``."""
        found: dict[str, str] = {}
        cursor = None
        for _ in range(HISTORY_PAGES):
            response = await read(channel=self._channel_id, oldest=f"{oldest:.6f}", limit=200,
                                  include_all_metadata=True, cursor=cursor, **args)
            for message in response.get("messages") or ():
                metadata = message.get("metadata") or {}
                if metadata.get("event_type") == PAGE_EVENT:
                    page = (metadata.get("event_payload") or {}).get("page")
                    found.setdefault(str(page), str(message.get("ts")))
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not response.get("has_more") or not cursor:
                return found
        log.warning("Slack history too long to read whole for a taken-over message",
                    extra={"pages": HISTORY_PAGES})
        return found

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

"""Slack through ``slack_sdk``'s AsyncWebClient: a Block Kit message, later kinds as thread replies.

A ``trigger`` posts a new message to the channel; every other kind is a reply in the incident's
thread (``thread_ts`` = ``Notification.thread_ref``; a top-level message when there is no thread
yet). ``Delivery.ref`` is the ``ts`` Slack gives the posted message. 429s are retried by the SDK's
rate-limit handler (``rate_limit_retries`` times, honouring Retry-After), connection failures
``connection_retries`` times; each request is bounded by ``timeout`` seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from receiver.notify.base import Delivery, Notification, NotifyError
from receiver.notify.common import http_error, truncate

_EMOJI = {"P0": ":rotating_light:", "P1": ":red_circle:", "P2": ":large_orange_circle:",
          "P3": ":large_yellow_circle:"}
_KIND_WORD = {"update": "Update", "acknowledge": "Acknowledged", "resolve": "Resolved",
              "escalate": "Escalated", "digest": "Digest"}
_AUTH_ERRORS = {"invalid_auth", "not_authed", "account_inactive", "token_revoked",
                "token_expired", "missing_scope", "no_permission", "ekm_access_denied"}
_CONFIG_ERRORS = {"channel_not_found", "not_in_channel", "is_archived", "thread_not_found"}
_SERVER_ERRORS = {"internal_error", "fatal_error", "service_unavailable", "request_timeout"}


@dataclass(frozen=True)
class SlackSettings:
    """One Slack channel (``channel``: name or id), a bot ``token``; ``base_url`` ends in /."""

    token: str = field(repr=False)
    channel: str = ""
    base_url: str | None = None
    timeout: float = 10.0
    rate_limit_retries: int = 2
    connection_retries: int = 1


class SlackNotifier:
    """Posts to the settings' channel."""

    channel_type = "slack"

    def __init__(self, settings: SlackSettings) -> None:
        self._channel = settings.channel
        self._client = AsyncWebClient(
            token=settings.token, base_url=settings.base_url or AsyncWebClient.BASE_URL,
            timeout=settings.timeout, retry_handlers=[
                AsyncConnectionErrorRetryHandler(max_retry_count=settings.connection_retries),
                AsyncRateLimitErrorRetryHandler(max_retry_count=settings.rate_limit_retries)])

    async def send(self, notification: Notification) -> Delivery:
        text, blocks = build_message(notification)
        thread = None if notification.kind == "trigger" else notification.thread_ref
        try:
            response = await self._client.chat_postMessage(
                channel=self._channel, text=text, blocks=blocks, thread_ts=thread,
                unfurl_links=False)
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
        return Delivery(ref=response.get("ts"), via="slack")

    async def close(self) -> None:
        session = getattr(self._client, "session", None)
        if session is not None and not session.closed:
            await session.close()


def build_message(n: Notification) -> tuple[str, list[dict]]:
    """(fallback text, Block Kit blocks) for ``n``; within Slack's block limits."""
    word = _KIND_WORD.get(n.kind)
    title = f"{n.priority} {word + ': ' if word else ''}{n.summary}"
    text = f"{_EMOJI.get(n.priority, '')} {title}".strip()
    fields = [("Priority", n.priority), ("Provider", n.provider or "—"),
              ("Value", n.details.get("value", "—")), ("Alert", n.details.get("alertname", "—")),
              ("Incident", n.incident_id)]
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": truncate(title, 150)}},
        {"type": "section", "fields": [
            {"type": "mrkdwn", "text": truncate(f"*{name}*\n{_escape(str(value))}", 2000)}
            for name, value in fields]},
    ]
    if n.text and n.text != n.summary:
        blocks.append({"type": "section",
                       "text": {"type": "mrkdwn", "text": truncate(_escape(n.text), 3000)}})
    links = [f"<{href}|{name.title()}>" for name, href in n.links.items() if href]
    context = links + [_escape(r) for r in n.recipients]
    if context:
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": truncate(" · ".join(context), 2000)}]})
    return truncate(text, 3000), blocks


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


def _escape(text: str) -> str:
    """Slack mrkdwn control characters (&, <, >) escaped as Slack documents."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

"""Slack through ``slack_sdk``'s AsyncWebClient: a Block Kit message, later kinds as thread replies.

A ``trigger`` posts a new message to the channel; every other kind is a reply in the incident's
thread (``thread_ts`` = ``Notification.thread_ref``; a top-level message when there is no thread
yet). ``Delivery.ref`` is the ``ts`` Slack gives the posted message. 429s are retried by the SDK's
rate-limit handler (``rate_limit_retries`` times, honouring Retry-After), connection failures
``connection_retries`` times; each request is bounded by ``timeout`` seconds.

Both ways (``interactive``: the receiver verifies Slack's clicks, ``SLACK_SIGNING_SECRET``):
a page (``trigger``, ``update``, ``escalate``) carries buttons ``callwatch_ack``,
``callwatch_escalate`` and ``callwatch_resolve`` whose ``value`` is the incident id. An
``acknowledge`` or ``resolve`` also edits the incident's first message (``chat.update``) to show
the state and who acted, with only the buttons still useful; a failed edit is logged, the reply
in the thread is what counts.

Mentions are real: a recipient that is a user id (``U…``/``W…``) is ``<@U…>``, a user group
(``S…``) ``<!subteam^S…>``; a plain ``@name`` notifies nobody (the policy warns at load).
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
from receiver.notify.common import http_error, truncate

_EMOJI = {"P0": ":rotating_light:", "P1": ":red_circle:", "P2": ":large_orange_circle:",
          "P3": ":large_yellow_circle:"}
_KIND_WORD = {"update": "Update", "acknowledge": "Acknowledged", "resolve": "Resolved",
              "escalate": "Escalated", "digest": "Digest"}
_AUTH_ERRORS = {"invalid_auth", "not_authed", "account_inactive", "token_revoked",
                "token_expired", "missing_scope", "no_permission", "ekm_access_denied"}
_CONFIG_ERRORS = {"channel_not_found", "not_in_channel", "is_archived", "thread_not_found"}
_SERVER_ERRORS = {"internal_error", "fatal_error", "service_unavailable", "request_timeout"}
_PAGES = ("trigger", "update", "escalate")         # messages a person acts on
_SETTLED = ("acknowledge", "resolve")              # these edit the incident's first message
_BUTTONS = {"callwatch_ack": ("Acknowledge", "primary"), "callwatch_escalate": ("Escalate", None),
            "callwatch_resolve": ("Resolve", "danger")}
_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")
_GROUP = re.compile(r"^S[A-Z0-9]{2,}$")
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

    async def send(self, notification: Notification) -> Delivery:
        text, blocks = build_message(notification, self._interactive)
        thread = None if notification.kind == "trigger" else notification.thread_ref
        try:
            response = await self._client.chat_postMessage(
                channel=self._channel, text=text, blocks=blocks, thread_ts=thread,
                unfurl_links=False)
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
        if self._interactive and thread and notification.kind in _SETTLED:
            await self._edit_first(notification, thread)
        return Delivery(ref=response.get("ts"), via="slack")

    async def _edit_first(self, n: Notification, ts: str) -> None:
        """Show the incident's new state on its first message (see the module docstring)."""
        text, blocks = settled_message(n)
        try:
            await self._client.chat_update(channel=self._channel_id or self._channel, ts=ts,
                                           text=text, blocks=blocks)
        except (SlackApiError, TimeoutError, aiohttp.ClientError) as exc:
            log.warning("could not edit the incident's Slack message",
                        extra={"incident": n.incident_id, "error": type(exc).__name__})

    async def close(self) -> None:
        session = getattr(self._client, "session", None)
        if session is not None and not session.closed:
            await session.close()


def build_message(n: Notification, interactive: bool = False) -> tuple[str, list[dict]]:
    """(fallback text, Block Kit blocks) for ``n``; within Slack's block limits. A page
    carries the action buttons when ``interactive``."""
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
    context = links + [mention(r) for r in n.recipients]
    if context:
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": truncate(" · ".join(context), 2000)}]})
    if interactive and n.kind in _PAGES:
        blocks.append(_buttons(n.incident_id, ("callwatch_ack", "callwatch_escalate",
                                               "callwatch_resolve")))
    return truncate(text, 3000), blocks


def settled_message(n: Notification) -> tuple[str, list[dict]]:
    """The incident's first message once acknowledged or resolved: its state, who acted
    (the notification's note), and only the buttons still useful."""
    state = "Acknowledged" if n.kind == "acknowledge" else "Resolved"
    title = f"{n.priority} {state}: {n.summary}"
    who = n.details.get("note") or state
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": truncate(title, 150)}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(
            f":white_check_mark: {_escape(who)} · Incident {_escape(n.incident_id)}", 2000)}]}]
    if n.kind == "acknowledge":
        blocks.append(_buttons(n.incident_id, ("callwatch_resolve",)))
    return truncate(title, 3000), blocks


def mention(recipient: str) -> str:
    """A Slack recipient as a mention that notifies: ``<@U…>`` or ``<!subteam^S…>``."""
    if _USER.match(recipient):
        return f"<@{recipient}>"
    if _GROUP.match(recipient):
        return f"<!subteam^{recipient}>"
    return _escape(recipient)


def _buttons(incident_id: str, action_ids: tuple[str, ...]) -> dict:
    return {"type": "actions", "block_id": "callwatch_actions", "elements": [
        {"type": "button", "action_id": action_id, "value": incident_id,
         "text": {"type": "plain_text", "text": _BUTTONS[action_id][0]},
         **({"style": _BUTTONS[action_id][1]} if _BUTTONS[action_id][1] else {})}
        for action_id in action_ids]}


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


def _escape(text: str) -> str:
    """Slack mrkdwn control characters (&, <, >) escaped as Slack documents."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

"""Helpers every notifier shares: HTTP status classification, secrets, the "not configured"
stand-in.

Nothing here talks to the network. The classification table is the one contract the dispatcher
relies on: ``reason`` is a metric label (a short fixed word), ``retryable`` decides whether the
outbox tries again or falls back at once.
"""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp

from callwatch.logs import register_secret
from callwatch.secrets import SecretError, read_secret, read_secret_file
from receiver.domain.render import DRILL
from receiver.notify.base import Delivery, Notification, NotifyError

# The fixed vocabulary of ``NotifyError.reason`` (metric label values).
REASONS = ("rate_limited", "server_error", "timeout", "connection", "rejected", "auth", "config")


def http_error(status: int, what: str) -> NotifyError:
    """Classify an HTTP status answered by the far side of ``what`` (e.g. "PagerDuty").

    429 → rate_limited (retry); 408 → timeout (retry); 5xx → server_error (retry);
    401/403 → auth (no retry); 404 → config (no retry: wrong base URL or resource);
    any other 4xx → rejected (no retry: the same request will be refused again).
    """
    if status == 429:
        return NotifyError("rate_limited", f"{what} rate-limited the request (HTTP 429)",
                           retryable=True)
    if status == 408:
        return NotifyError("timeout", f"{what} timed out the request (HTTP 408)", retryable=True)
    if status >= 500:
        return NotifyError("server_error", f"{what} failed with HTTP {status}", retryable=True)
    if status in (401, 403):
        return NotifyError("auth", f"{what} refused the credentials (HTTP {status})",
                           retryable=False)
    if status == 404:
        return NotifyError("config", f"{what} answered 404: check the base URL", retryable=False)
    return NotifyError("rejected", f"{what} rejected the request (HTTP {status})", retryable=False)


def tagged(priority: str, summary: str) -> str:
    """``[P1] summary``: the priority tag before a headline, after a drill's mark, so a drill's
    subject still says DRILL in its first word (``DRILL: [P1] summary``)."""
    tag = f"[{priority}] " if priority else ""   # a handoff notice has no priority
    if summary.startswith(DRILL):
        return DRILL + tag + summary[len(DRILL):]
    return tag + summary


def transport_error(exc: TimeoutError | aiohttp.ClientError, service: str) -> NotifyError:
    """A request to ``service`` that failed below HTTP: a timeout (retried), an untrusted TLS
    certificate (``config``: retrying cannot help) or the network (``connection``, retried)."""
    if isinstance(exc, TimeoutError):
        return NotifyError("timeout", f"{service} request timed out", retryable=True)
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return NotifyError("config", f"{service} TLS certificate not trusted", retryable=False)
    return NotifyError("connection", f"cannot reach {service} ({type(exc).__name__})",
                       retryable=True)


def truncate(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, marking the cut with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


class MissingSecret(Exception):
    """A channel's secret is not available. ``str()`` names where it was looked for, never a
    value."""


def channel_secret(settings: Mapping[str, object], environ: Mapping[str, str],
                   key: str, default_env: str) -> str:
    """The secret ``key`` of a channel: ``<key>_file`` path, ``<key>_env`` variable, else
    ``default_env``.

    ``default_env`` is also read as ``<default_env>_FILE`` (callwatch.secrets). The value is
    registered with the log scrubber before it is returned. Raises MissingSecret naming the
    variable or file that was empty or unreadable.
    """
    file_setting = settings.get(f"{key}_file")
    env_name = str(settings.get(f"{key}_env") or default_env)
    try:
        if file_setting:
            value: str | None = read_secret_file(str(file_setting), f"{key} file")
            where = f"file {file_setting}"
        else:
            value = read_secret(environ, env_name)
            where = f"${env_name} (or ${env_name}_FILE)"
    except SecretError as exc:
        raise MissingSecret(str(exc)) from None
    if not value:
        raise MissingSecret(f"{key} not set: define {where}")
    register_secret(value)
    return value


class UnconfiguredNotifier:
    """Stands in for a channel that cannot work (missing secret, bad setting).

    Every send fails with ``NotifyError("config", problem, retryable=False)`` so the dispatcher
    records the problem and falls back, instead of the receiver refusing to start.
    """

    def __init__(self, channel_type: str, problem: str) -> None:
        self.channel_type = channel_type
        self.problem = problem

    async def send(self, notification: Notification) -> Delivery:
        raise NotifyError("config", f"{self.channel_type} channel not configured: {self.problem}",
                          retryable=False)

    async def close(self) -> None:
        return None

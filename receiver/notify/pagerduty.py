"""PagerDuty through the ``pagerduty`` package's Events API v2 client.

One ``dedup_key`` per incident (``Notification.dedup_key``, else the incident id): ``trigger``,
``update`` and ``escalate`` send a trigger event (PagerDuty folds it into the open alert),
``acknowledge`` and ``resolve`` send those actions. The client is synchronous (httpx2), so every
call runs in this notifier's own worker threads (a PagerDuty outage cannot starve the event
loop's default executor, which other parts of the receiver share); its retries are capped (it
retries 429 forever by default) and the whole send is bounded by ``deadline`` seconds.
"""

from __future__ import annotations

import asyncio
import ssl
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx2
import pagerduty

from receiver.notify.base import Delivery, Notification, NotifyError
from receiver.notify.common import http_error, tagged, truncate

# Our priority -> PagerDuty payload.severity (critical, error, warning, info).
SEVERITY = {"P0": "critical", "P1": "critical", "P2": "error", "P3": "warning"}
_TRIGGER_KINDS = ("trigger", "update", "escalate")
_LINK_TEXT = {"runbook": "Runbook", "dashboard": "Dashboard", "incident": "Incident"}


@dataclass(frozen=True)
class PagerDutySettings:
    """``base_url`` must be https (the client refuses anything else); ``ca_file`` trusts an
    extra CA (tests, private proxies). Retry budget per send: ``rate_limit_retries`` 429s,
    ``server_retries`` per 5xx status, 1 transport retry, each request ``timeout`` seconds;
    ``deadline`` caps the whole send (a timeout then, retryable)."""

    routing_key: str = field(repr=False)
    base_url: str | None = None
    ca_file: str | None = None
    source: str = "callwatch"
    timeout: float = 10.0
    rate_limit_retries: int = 2
    server_retries: int = 1
    sleep_timer: float = 1.5
    deadline: float = 60.0
    workers: int = 4


class PagerDutyNotifier:
    """``send`` posts one Events API v2 event; ``Delivery.ref`` is the dedup_key PagerDuty
    echoes."""

    channel_type = "pagerduty"

    def __init__(self, settings: PagerDutySettings) -> None:
        kwargs: dict = {}
        if settings.ca_file:
            kwargs["verify"] = ssl.create_default_context(cafile=settings.ca_file)
        try:
            self._client = pagerduty.EventsApiV2Client(settings.routing_key,
                                                       base_url=settings.base_url, **kwargs)
        except pagerduty.UrlError:
            raise ValueError("PAGERDUTY_BASE_URL must be an https:// URL") from None
        self._client.timeout = settings.timeout
        self._client.retry[429] = settings.rate_limit_retries
        for status in (500, 502, 503, 504):
            self._client.retry[status] = settings.server_retries
        self._client.max_network_attempts = 1
        self._client.sleep_timer = settings.sleep_timer
        self._source = settings.source
        self._deadline = settings.deadline
        self._pool = ThreadPoolExecutor(max_workers=settings.workers,
                                        thread_name_prefix="pagerduty")

    async def send(self, notification: Notification) -> Delivery:
        key = notification.dedup_key or notification.incident_id
        try:
            loop = asyncio.get_running_loop()
            async with asyncio.timeout(self._deadline):
                dedup = await loop.run_in_executor(self._pool, self._send_sync, notification, key)
        except TimeoutError:
            raise NotifyError("timeout", f"PagerDuty did not answer within {self._deadline:g}s",
                              retryable=True) from None
        return Delivery(ref=dedup or key, via="pagerduty")

    def _send_sync(self, notification: Notification, key: str) -> str:
        """Runs in a worker thread; translates every client failure into NotifyError."""
        try:
            if notification.kind == "acknowledge":
                return self._client.acknowledge(key)
            if notification.kind == "resolve":
                return self._client.resolve(key)
            if notification.kind not in _TRIGGER_KINDS:
                raise NotifyError("config", f"PagerDuty cannot send kind {notification.kind!r}",
                                  retryable=False)
            return self._client.trigger(**trigger_event(notification, key, self._source))
        except pagerduty.HttpError as exc:
            raise classify_http(exc.response.status_code) from None
        except pagerduty.Error as exc:
            raise classify_transport(exc) from None

    async def close(self) -> None:
        # A send still running past its deadline finishes in the background; don't wait for it.
        self._pool.shutdown(wait=False, cancel_futures=True)
        await asyncio.to_thread(self._client.close)


def trigger_event(notification: Notification, dedup_key: str, source: str) -> dict:
    """Keyword arguments for ``EventsApiV2Client.trigger``: summary, severity, details, links."""
    details = {str(k): str(v) for k, v in notification.details.items()}
    details.update(incident_id=notification.incident_id, priority=notification.priority)
    if notification.provider:
        details["provider"] = notification.provider
    links = [{"href": href, "text": _LINK_TEXT.get(name, name.title())}
             for name, href in notification.links.items() if href]
    payload: dict = {}
    if notification.provider:
        payload["component"] = notification.provider
    if details.get("alertname"):
        payload["class"] = details["alertname"]
    return {
        "summary": truncate(tagged(notification.priority, notification.summary), 1024),
        "source": details.get("instance") or source,
        "dedup_key": dedup_key[:255],
        "severity": SEVERITY.get(notification.priority, "critical"),
        "payload": payload,
        "custom_details": details,
        "links": links or None,
    }


def classify_http(status: int) -> NotifyError:
    """PagerDuty statuses: 400 invalid event → rejected; otherwise the shared HTTP table."""
    if status == 400:
        return NotifyError("rejected", "PagerDuty rejected the event as invalid (HTTP 400)",
                           retryable=False)
    return http_error(status, "PagerDuty")


def classify_transport(exc: pagerduty.Error) -> NotifyError:
    """A pagerduty.Error without an HTTP response: the network failed (after the client's retry)."""
    cause = exc.__cause__
    if isinstance(cause, httpx2.TimeoutException):
        return NotifyError("timeout", "PagerDuty request timed out", retryable=True)
    if cause is not None and _is_cert_failure(cause):
        return NotifyError("config", "PagerDuty TLS certificate not trusted (PAGERDUTY_CA_FILE?)",
                           retryable=False)
    kind = type(cause).__name__ if cause is not None else "error"
    return NotifyError("connection", f"cannot reach PagerDuty ({kind})", retryable=True)


def _is_cert_failure(exc: BaseException) -> bool:
    while exc is not None:
        if isinstance(exc, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False

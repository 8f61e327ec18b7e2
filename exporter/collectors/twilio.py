"""Twilio polling through the official SDK's async client.

Three sources, each incremental with its own cursor:

- ``twilio.calls``: in-progress calls (→ live calls) and calls that ended since the cursor (→
  ended calls) from the Calls resource. Ended calls are counted here only when polling is
  Twilio's source of truth for outcomes (see exporter/config.py); otherwise the status
  callbacks count them and this poll only refreshes live calls. The Call resource has no SIP
  code, so in polling mode completed calls wait for their Insights summary to tell completed
  from dropped (``twilio_pending``); failed/busy/no-answer/canceled count at once.
- ``twilio.insights``: Voice Insights call summaries (they arrive 10-30 min late, so each poll
  looks back ``INSIGHTS_LOOKBACK``; a bounded dedup makes each call count once): MOS where a
  summary carries one, and the SIP code that resolves parked completed calls.
- ``twilio.alerts``: Monitor alerts; webhook error codes (112xx, 15002) count as
  ``telephony_webhook_deliveries_total{provider="twilio",source="provider",outcome="failure"}``;
  each alert once.

Every HTTP request (pages included) goes through ``ApiCaller``. ``TWILIO_BASE_URL`` replaces the
scheme and host of every ``*.twilio.com`` URL, in the HTTP client, so the absolute
``next_page_url`` of the v1 APIs is rewritten as well.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from exporter import outcomes
from exporter.calls import ENDED, CallEvent, CallTracker, Deduplicator
from exporter.collectors.base import ApiCaller, PollError, http_error
from exporter.collectors.twilio_pending import PendingCompleted
from exporter.parse import parse_mos

PAGE_SIZE = 200
MAX_PAGES = 10
OVERLAP = dt.timedelta(seconds=60)       # the Calls filters are coarse; dedup absorbs the overlap
INSIGHTS_LOOKBACK = "45m"
WEBHOOK_ERROR_CODES = frozenset({"11203", "15002"})


class RebasingHttpClient(AsyncTwilioHttpClient):
    """The SDK's aiohttp client, sending every ``*.twilio.com`` request to ``base_url``."""

    def __init__(self, base_url: str | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rebase = base_url.rstrip("/") if base_url else None

    async def request(self, method: str, url: str, *args: Any, **kwargs: Any):
        if self.rebase:
            url = rebase_url(url, self.rebase)
        return await super().request(method, url, *args, **kwargs)


def rebase_url(url: str, base: str) -> str:
    parts, target = urlsplit(url), urlsplit(base)
    if not parts.hostname or not parts.hostname.endswith("twilio.com"):
        return url
    return urlunsplit((target.scheme, target.netloc, target.path.rstrip("/") + parts.path,
                       parts.query, parts.fragment))


def make_client(account_sid: str, auth_token: str, base_url: str | None) -> Client:
    """A Twilio REST client on the async HTTP client; region/edge never read from the env."""
    # the SDK logs every request and header at INFO; keep our INFO log about our own events
    quiet = logging.getLogger("callwatch.exporter.twilio_sdk")
    quiet.setLevel(logging.WARNING)
    http = RebasingHttpClient(base_url, logger=quiet)
    return Client(account_sid, auth_token, account_sid, http_client=http, environment={})


def classify_error(exc: BaseException) -> PollError | None:
    """SDK errors → PollError: list/page raise TwilioException(msg, Response), fetch raises
    TwilioRestException."""
    if isinstance(exc, TwilioRestException):
        return http_error(exc.status, f"HTTP {exc.status} (code {exc.code})")
    if isinstance(exc, TwilioException) and len(exc.args) > 1:
        response = exc.args[1]
        status = getattr(response, "status_code", None)
        headers = getattr(response, "headers", None) or {}
        return http_error(status, f"HTTP {status}", headers.get("Retry-After"))
    if isinstance(exc, (OSError, ConnectionError)) or "Client" in type(exc).__name__:
        return PollError(f"transport error: {type(exc).__name__}")
    return None


def _enum_text(value: Any) -> str:
    """The wire value of an SDK enum (``CallInstance.Status.COMPLETED`` → ``completed``)."""
    return str(getattr(value, "value", value) or "")


async def _pages(api: ApiCaller, operation: str, first: Callable) -> list:
    """Every record of a listing, page by page (each page one timed request), up to MAX_PAGES."""
    page = await api.call(operation, first)
    records = list(page)
    for _ in range(MAX_PAGES - 1):
        if not page.next_page_url:
            break
        page = await api.call(operation, page.next_page_async)
        if page is None:
            break
        records.extend(page)
    return records


class TwilioCalls:
    name, provider, operation = "twilio.calls", "twilio", "calls"

    def __init__(self, client: Client, api: ApiCaller, tracker: CallTracker, interval: float,
                 pending: PendingCompleted | None, clock: Callable[[], float]) -> None:
        """``pending`` is set in polling mode (count ended calls), None in webhook mode."""
        self.client, self.api, self.tracker = client, api, tracker
        self.interval, self.pending, self.clock = interval, pending, clock
        self.count_ended = pending is not None
        self.cursor: dt.datetime | None = None

    async def poll(self) -> None:
        now = dt.datetime.fromtimestamp(self.clock(), dt.UTC)
        since = (self.cursor or now - dt.timedelta(seconds=self.interval)) - OVERLAP
        calls = self.client.calls
        live = await _pages(self.api, "calls", lambda: calls.page_async(
            status="in-progress", page_size=PAGE_SIZE))
        for call in live:
            self.tracker.ingest(CallEvent("twilio", call.sid, "answered",
                                          outcomes.twilio_direction(_enum_text(call.direction))))
        if self.count_ended:
            ended = await _pages(self.api, "calls", lambda: calls.page_async(
                end_time_after=since, page_size=PAGE_SIZE))
            for call in ended:
                self._ingest_ended(call)
            self.pending.expire()
        self.cursor = now

    def _ingest_ended(self, call: Any) -> None:
        status = _enum_text(call.status)
        if outcomes.twilio_outcome(status) is None:
            return
        direction = outcomes.twilio_direction(_enum_text(call.direction))
        if status == "completed" and self.pending is not None:
            self.pending.add(call.sid, direction)
            return
        self.tracker.ingest(CallEvent("twilio", call.sid, ENDED, direction, cause=status))


class TwilioInsights:
    name, provider, operation = "twilio.insights", "twilio", "insights_summaries"

    def __init__(self, client: Client, api: ApiCaller, tracker: CallTracker,
                 interval: float, pending: PendingCompleted | None = None) -> None:
        self.client, self.api, self.tracker, self.interval = client, api, tracker, interval
        self.pending = pending
        self.seen = Deduplicator(50_000)

    async def poll(self) -> None:
        summaries = self.client.insights.v1.call_summaries
        records = await _pages(self.api, "insights_summaries", lambda: summaries.page_async(
            start_time=INSIGHTS_LOOKBACK, page_size=PAGE_SIZE))
        for summary in records:
            if self.pending is not None:
                properties = summary.properties or {}
                self.pending.resolve(summary.call_sid, properties.get("last_sip_response_num"))
            if not self.seen.add(("insights", summary.call_sid)):
                continue
            mos = summary_mos(summary)
            if mos is not None:
                self.tracker.metrics.call_mos.labels("twilio").observe(mos)
                self.tracker.record_mos("twilio", mos)


def summary_mos(summary: Any) -> float | None:
    """A MOS from an Insights summary: any edge's ``metrics.<dir>.mos`` (number or {avg})."""
    for edge in ("sdk_edge", "client_edge", "sip_edge", "carrier_edge"):
        metrics = (getattr(summary, edge, None) or {}).get("metrics") or {}
        for direction in ("inbound", "outbound"):
            value = (metrics.get(direction) or {}).get("mos")
            if isinstance(value, dict):
                value = value.get("avg")
            mos = parse_mos(value) if value is not None else None
            if mos is not None:
                return mos
    return None


class TwilioAlerts:
    name, provider, operation = "twilio.alerts", "twilio", "monitor_alerts"

    def __init__(self, client: Client, api: ApiCaller, interval: float,
                 clock: Callable[[], float]) -> None:
        self.client, self.api, self.interval, self.clock = client, api, interval, clock
        self.cursor: dt.datetime | None = None
        self.seen = Deduplicator(20_000)

    async def poll(self) -> None:
        now = dt.datetime.fromtimestamp(self.clock(), dt.UTC)
        since = (self.cursor or now - dt.timedelta(seconds=self.interval)) - OVERLAP
        alerts = self.client.monitor.v1.alerts
        records = await _pages(self.api, "monitor_alerts", lambda: alerts.page_async(
            start_date=since, page_size=PAGE_SIZE))
        deliveries = self.api.metrics.webhook_deliveries
        for alert in records:
            if is_webhook_error(alert.error_code) and self.seen.add(("alert", alert.sid)):
                deliveries.labels("twilio", "provider", "failure").inc()
        self.cursor = now


def is_webhook_error(code: Any) -> bool:
    """Twilio's webhook delivery errors: 112xx (HTTP retrieval, connection, TLS...) and 15002."""
    text = str(code or "").strip()
    return (len(text) == 5 and text.startswith("112")) or text in WEBHOOK_ERROR_CODES

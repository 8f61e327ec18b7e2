"""Telnyx polling through ``telnyx.AsyncTelnyx``.

- ``telnyx.calls``: active calls of ``TELNYX_CONNECTION_ID`` (→ live calls), and — only when
  polling is Telnyx's source of truth for outcomes (no ``TELNYX_PUBLIC_KEY``, so no verified
  webhooks) — call-control detail records finished since the cursor (→ ended calls, classified
  by ``exporter.outcomes`` from ``hangup_cause``/``sip_hangup_cause``/``answered_at``).
- ``telnyx.deliveries``: webhook deliveries finished since the cursor. ``failed`` ones always
  count as ``outcome="failure"`` (our endpoint never sees those); ``delivered`` ones count as
  ``success`` only in polling mode, since verified webhooks already count themselves.

The SDK's own retries are off (``max_retries=0``): the scheduler backs off instead, and every
page is one timed request. Each record is counted once (bounded dedup of ids).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import telnyx

from exporter import outcomes
from exporter.calls import ENDED, CallEvent, CallTracker, Deduplicator
from exporter.collectors.base import ApiCaller, PollError, http_error
from exporter.parse import parse_mos

PAGE_SIZE = 250
MAX_PAGES = 10
OVERLAP = dt.timedelta(seconds=60)


def make_client(api_key: str, base_url: str | None, timeout: float) -> telnyx.AsyncTelnyx:
    kwargs: dict[str, Any] = {"api_key": api_key, "max_retries": 0, "timeout": timeout}
    if base_url:
        kwargs["base_url"] = base_url
    return telnyx.AsyncTelnyx(**kwargs)


def classify_error(exc: BaseException) -> PollError | None:
    if isinstance(exc, telnyx.APIStatusError):
        return http_error(exc.status_code, f"HTTP {exc.status_code}",
                          exc.response.headers.get("retry-after"))
    if isinstance(exc, telnyx.APITimeoutError):
        return PollError("request timed out")
    if isinstance(exc, telnyx.APIConnectionError):
        return PollError("connection error")
    return None


def _iso(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


async def _pages(api: ApiCaller, operation: str, fetch: Callable[[int], Any]) -> list:
    """Every item of a page-numbered listing, one timed request per page, up to MAX_PAGES."""
    items: list = []
    for number in range(1, MAX_PAGES + 1):
        page = await api.call(operation, lambda n=number: fetch(n))
        items.extend(page.data or [])
        meta = page.meta
        total = getattr(meta, "total_pages", None) if meta is not None else None
        if not page.data or total is None or number >= total:
            break
    return items


def _as_dict(item: Any) -> dict:
    return item.to_dict() if hasattr(item, "to_dict") else dict(item)


class TelnyxCalls:
    name, provider = "telnyx.calls", "telnyx"

    def __init__(self, client: telnyx.AsyncTelnyx, api: ApiCaller, tracker: CallTracker,
                 interval: float, connection_id: str | None, count_ended: bool,
                 clock: Callable[[], float]) -> None:
        self.client, self.api, self.tracker = client, api, tracker
        self.interval, self.connection_id = interval, connection_id
        self.count_ended, self.clock = count_ended, clock
        self.cursor: dt.datetime | None = None

    async def poll(self) -> None:
        now = dt.datetime.fromtimestamp(self.clock(), dt.UTC)
        if self.connection_id:
            connections = self.client.connections
            active = await _pages(self.api, "active_calls", lambda n: connections.list_active_calls(
                self.connection_id, page_number=n, page_size=PAGE_SIZE))
            for call in active:
                record = _as_dict(call)
                call_id = record.get("call_leg_id") or record.get("call_control_id")
                if call_id:
                    self.tracker.ingest(CallEvent("telnyx", call_id, "answered"))
        if self.count_ended:
            await self._poll_ended(now)
        self.cursor = now

    async def _poll_ended(self, now: dt.datetime) -> None:
        since = (self.cursor or now - dt.timedelta(seconds=self.interval)) - OVERLAP
        records = self.client.detail_records
        rows = await _pages(self.api, "detail_records", lambda n: records.list(
            filter={"record_type": "call-control", "finished_at": {"gte": _iso(since)}},
            page_number=n, page_size=PAGE_SIZE))
        for row in rows:
            event = detail_record_event(_as_dict(row))
            if event is not None:
                self.tracker.ingest(event)


def detail_record_event(record: dict) -> CallEvent | None:
    """An ended-call event from a call-control detail record, or None without a call id."""
    call_id = record.get("call_leg_id") or record.get("call_control_id") or record.get("id")
    if not call_id or not record.get("finished_at"):
        return None
    stats = record.get("call_quality_stats")
    inbound = stats.get("inbound") if isinstance(stats, dict) else None
    mos = parse_mos(inbound.get("mos")) if isinstance(inbound, dict) else None
    if mos is None and record.get("mos") is not None:
        mos = parse_mos(record.get("mos"))        # call-control CDRs carry a top-level "mos"
    answered = bool(record.get("answered_at")) if "answered_at" in record else None
    cause = record.get("hangup_cause")
    return CallEvent("telnyx", str(call_id), ENDED,
                     outcomes.telnyx_direction(record.get("direction")),
                     cause=cause if isinstance(cause, str) else None,
                     sip=str(record.get("sip_hangup_cause") or "") or None,
                     has_quality=isinstance(inbound, dict) or bool(answered), mos=mos)


class TelnyxDeliveries:
    name, provider = "telnyx.deliveries", "telnyx"

    def __init__(self, client: telnyx.AsyncTelnyx, api: ApiCaller, interval: float,
                 count_success: bool, clock: Callable[[], float]) -> None:
        self.client, self.api, self.interval = client, api, interval
        self.count_success, self.clock = count_success, clock
        self.cursor: dt.datetime | None = None
        self.seen = Deduplicator(50_000)

    async def poll(self) -> None:
        now = dt.datetime.fromtimestamp(self.clock(), dt.UTC)
        since = (self.cursor or now - dt.timedelta(seconds=self.interval)) - OVERLAP
        wanted = ("failed", "delivered") if self.count_success else ("failed",)
        counter = self.api.metrics.webhook_deliveries
        deliveries = self.client.webhook_deliveries
        for status in wanted:
            rows = await _pages(self.api, "webhook_deliveries", lambda n, s=status: deliveries.list(
                filter={"status": {"eq": s}, "finished_at": {"gte": _iso(since)}},
                page_number=n, page_size=PAGE_SIZE))
            for row in rows:
                record = _as_dict(row)
                if record.get("status") == status and self.seen.add(("delivery", record.get("id"))):
                    outcome = "failure" if status == "failed" else "success"
                    counter.labels("telnyx", "provider", outcome).inc()
        self.cursor = now

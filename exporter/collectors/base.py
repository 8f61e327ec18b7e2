"""What every polling source shares: timed API calls, error classes, backoff.

A source is an object with ``name``, ``provider``, ``interval`` and ``async poll()``; the
scheduler (``exporter.poller``) runs each one in its own loop, so one source is never polled
twice at once. ``ApiCaller.call`` wraps every single provider HTTP request: it bounds it with a
timeout, records ``telephony_provider_api_request_duration_seconds`` and
``telephony_provider_api_requests_total``, and turns SDK errors into :class:`PollError`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from exporter.metrics import ExporterMetrics

T = TypeVar("T")


class PollError(Exception):
    """A provider request failed. ``retryable``: 429, 5xx, timeouts and transport errors."""

    def __init__(self, detail: str, status: int | None = None, retryable: bool = True,
                 retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after


class Source(Protocol):
    name: str
    provider: str
    interval: float

    async def poll(self) -> None: ...


StatusOf = Callable[[BaseException], "PollError | None"]


@dataclass
class ApiCaller:
    """Times, bounds and counts single provider API requests for one provider."""

    metrics: ExporterMetrics
    provider: str
    timeout: float
    classify: StatusOf
    monotonic: Callable[[], float] = time.monotonic

    async def call(self, operation: str, request: Callable[[], Awaitable[T]]) -> T:
        started = self.monotonic()
        try:
            async with asyncio.timeout(self.timeout):
                result = await request()
        except TimeoutError:
            self.metrics.api_call(self.provider, operation, self.monotonic() - started, False)
            raise PollError(f"{operation}: no answer within {self.timeout:g}s") from None
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - any SDK/transport failure is an API error
            self.metrics.api_call(self.provider, operation, self.monotonic() - started, False)
            error = self.classify(exc) or PollError(f"{operation}: {type(exc).__name__}")
            raise error from None
        self.metrics.api_call(self.provider, operation, self.monotonic() - started, True)
        return result


def http_error(status: int | None, detail: str, retry_after: str | None = None) -> PollError:
    """A PollError for an HTTP answer; 429 and 5xx are retryable (with backoff)."""
    retryable = status is None or status == 429 or status >= 500
    after = None
    if retry_after:
        try:
            after = min(float(retry_after), 600.0)
        except ValueError:
            after = None
    return PollError(detail, status, retryable, after)


class Backoff:
    """Delay before the next poll: the interval, doubled per consecutive retryable failure."""

    def __init__(self, interval: float, maximum: float | None = None) -> None:
        self.interval = interval
        self.maximum = maximum if maximum is not None else max(interval * 16, 300.0)
        self.failures = 0

    def success(self) -> float:
        self.failures = 0
        return self.interval

    def failure(self, error: BaseException) -> float:
        """The delay after ``error``: Retry-After when given, else exponential."""
        if isinstance(error, PollError) and not error.retryable:
            self.failures = 0
            return self.interval
        self.failures += 1
        delay = min(self.interval * (2 ** self.failures), self.maximum)
        if isinstance(error, PollError) and error.retry_after:
            delay = max(delay, error.retry_after)
        return delay

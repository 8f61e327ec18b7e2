"""A small client for the Prometheus and Alertmanager HTTP APIs the runbook endpoints read."""

from __future__ import annotations

import math
from dataclasses import dataclass

import aiohttp


class UpstreamError(Exception):
    """Prometheus or Alertmanager did not answer usefully; the message says how."""


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str]
    value: float | None  # None for NaN (e.g. a ratio with no traffic)


class PrometheusClient:
    """Instant queries against ``base_url`` (e.g. http://127.0.0.1:9090), bounded by a timeout."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, timeout: float = 5.0):
        self._session = session
        self.base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def query(self, expr: str) -> list[Sample]:
        url = f"{self.base_url}/api/v1/query"
        try:
            async with self._session.get(url, params={"query": expr},
                                         timeout=self._timeout) as response:
                body = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise UpstreamError(f"prometheus at {self.base_url}: {type(exc).__name__}") from None
        if body.get("status") != "success":
            raise UpstreamError(f"prometheus: {body.get('errorType')}: {body.get('error')}")
        return [Sample(item["metric"], _number(item["value"][1]))
                for item in body["data"]["result"]]


async def ready(session: aiohttp.ClientSession, url: str, timeout: float = 3.0) -> tuple[bool, str]:
    """Whether ``url`` answers 2xx (used on Prometheus' and Alertmanager's ``/-/ready``)."""
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=timeout)) as response:
            return 200 <= response.status < 300, f"HTTP {response.status}"
    except (aiohttp.ClientError, TimeoutError) as exc:
        return False, f"{type(exc).__name__}: unreachable"


def _number(text: str) -> float | None:
    value = float(text)
    return None if math.isnan(value) or math.isinf(value) else value

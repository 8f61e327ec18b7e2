"""Each provider's Statuspage ``summary.json`` → ``telephony_provider_status{provider}``.

``status.indicator``: ``none`` 0, ``minor`` and ``maintenance`` 1, ``major`` 2, ``critical`` 3
(Statuspage's own scale). An unknown indicator is taken as ``minor`` (1: something is reported, we
cannot say how bad); a page that cannot be fetched or parsed leaves the last value in place and
records the problem (the status page being down says nothing about the provider).
These requests are not provider API calls and are kept out of the API metrics.
"""

from __future__ import annotations

import asyncio
import json
import logging

import aiohttp

from exporter.health import ProviderState
from exporter.metrics import ExporterMetrics

log = logging.getLogger("callwatch.exporter.statuspage")
INDICATORS = {"none": 0, "minor": 1, "maintenance": 1, "major": 2, "critical": 3}
UNKNOWN_INDICATOR = 1
MAX_BYTES = 2 * 1024 * 1024


def indicator_value(summary: object) -> tuple[int, str]:
    """(value, description) from a summary.json document; ValueError when it has no status."""
    status = summary.get("status") if isinstance(summary, dict) else None
    if not isinstance(status, dict) or "indicator" not in status:
        raise ValueError("summary.json has no status.indicator")
    indicator = str(status.get("indicator") or "").strip().lower()
    description = str(status.get("description") or indicator)[:200]
    return INDICATORS.get(indicator, UNKNOWN_INDICATOR), description


class StatuspageSource:
    """Polls one provider's Statuspage summary."""

    def __init__(self, provider: str, url: str, session: aiohttp.ClientSession,
                 metrics: ExporterMetrics, state: ProviderState, interval: float,
                 timeout: float) -> None:
        self.name, self.provider = f"{provider}.statuspage", provider
        self.url, self.session, self.metrics, self.state = url, session, metrics, state
        self.interval, self.timeout = interval, timeout

    async def poll(self) -> None:
        try:
            async with asyncio.timeout(self.timeout):
                async with self.session.get(self.url, headers={"Accept": "application/json"}) as r:
                    if r.status != 200:
                        raise ValueError(f"HTTP {r.status}")
                    body = await r.content.read(MAX_BYTES)
            value, description = indicator_value(json.loads(body))
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            self.state.status_description = f"status page unreadable: {exc or type(exc).__name__}"
            log.warning("statuspage poll failed", extra={"provider": self.provider,
                                                          "problem": str(exc)[:200]})
            raise
        self.metrics.provider_status.labels(self.provider).set(value)
        self.state.status, self.state.status_description = value, description

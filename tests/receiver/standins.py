"""Small notifiers implementing receiver.notify.base.Notifier, and payload builders, for tests.

``build_http_notifiers`` is a notifier factory for a receiver run as a subprocess
(``CALLWATCH_NOTIFIER_FACTORY=tests.receiver.standins:build_http_notifiers``): every channel
POSTs the notification as JSON to ``$CALLWATCH_TEST_NOTIFY_URL/<channel>``; a 2xx is a
delivery, anything else a retryable failure.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import aiohttp

from receiver.notify.base import Delivery, Notification, NotifyError


class RecordingNotifier:
    """Delivers everything and remembers it; refs are ``<channel>-<n>``."""

    channel_type = "test"

    def __init__(self, name: str = "test") -> None:
        self.name = name
        self.sent: list[Notification] = []

    async def send(self, notification: Notification) -> Delivery:
        self.sent.append(notification)
        return Delivery(ref=f"{self.name}-{len(self.sent)}")

    async def close(self) -> None:
        pass


class FlakyNotifier(RecordingNotifier):
    """Fails the first ``failures`` sends (retryable unless told otherwise), then delivers."""

    def __init__(self, name: str = "test", failures: int = 1, retryable: bool = True,
                 reason: str = "server_error") -> None:
        super().__init__(name)
        self.failures = failures
        self.retryable = retryable
        self.reason = reason
        self.calls = 0

    async def send(self, notification: Notification) -> Delivery:
        self.calls += 1
        if self.calls <= self.failures:
            raise NotifyError(self.reason, f"simulated failure {self.calls}",
                              retryable=self.retryable)
        return await super().send(notification)


class DeadNotifier(FlakyNotifier):
    """Fails every send."""

    def __init__(self, name: str = "test", retryable: bool = True,
                 reason: str = "connection") -> None:
        super().__init__(name, failures=10**9, retryable=retryable, reason=reason)


class HttpNotifier:
    """POSTs each notification to ``url``; 2xx delivers, anything else is retryable."""

    channel_type = "http"

    def __init__(self, url: str) -> None:
        self.url = url
        self._session: aiohttp.ClientSession | None = None

    async def send(self, notification: Notification) -> Delivery:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
        body = asdict(notification)
        body["links"], body["details"] = dict(notification.links), dict(notification.details)
        try:
            async with self._session.post(self.url, json=body) as response:
                if response.status >= 300:
                    raise NotifyError("server_error", f"HTTP {response.status}", retryable=True)
                return Delivery(ref=(await response.json()).get("ref"))
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise NotifyError("connection", type(exc).__name__, retryable=True) from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def build_http_notifiers(policy, environ) -> dict[str, HttpNotifier]:
    base = environ["CALLWATCH_TEST_NOTIFY_URL"].rstrip("/")
    return {name: HttpNotifier(f"{base}/{name}") for name in policy.channels}


def alert(name: str = "TelephonyCallDropRateHigh", *, status: str = "firing",
          fingerprint: str | None = None, starts_at: str = "2026-11-27T03:00:00.123456789Z",
          ends_at: str = "0001-01-01T00:00:00Z", **labels: str) -> dict[str, Any]:
    labels = {"alertname": name, "severity": "critical", "provider": "twilio", **labels}
    return {
        "status": status, "labels": labels,
        "annotations": {"summary": f"{name} on {labels['provider']}",
                        "description": "6.2% of answered calls dropped",
                        "runbook_url": "https://runbooks.example/high-call-drop-rate.md",
                        "dashboard_url": "http://grafana.example/d/x"},
        "startsAt": starts_at,
        "endsAt": "2026-11-27T03:10:00Z" if status == "resolved" and ends_at.startswith("0001")
        else ends_at,
        "generatorURL": "http://prometheus.example/graph",
        "fingerprint": fingerprint or f"fp-{name}-{sorted(labels.items())!r}"[:40],
    }


def payload(*alerts: dict[str, Any], group: str = 'TelephonyCallDropRateHigh',
            status: str | None = None, truncated: int = 0, **extra: Any) -> dict[str, Any]:
    alerts = alerts or (alert(),)
    if status is None:
        status = "firing" if any(a["status"] == "firing" for a in alerts) else "resolved"
    body = {
        "receiver": "callwatch", "status": status, "alerts": list(alerts),
        "groupLabels": {"alertname": group}, "commonLabels": {"alertname": group},
        "commonAnnotations": {}, "externalURL": "http://alertmanager.example",
        "version": "4", "groupKey": f'{{}}:{{alertname="{group}"}}',
        "truncatedAlerts": truncated,
    }
    body.update(extra)
    return body


def dumps(body: Any) -> str:
    return json.dumps(body)

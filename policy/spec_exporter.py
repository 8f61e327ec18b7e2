"""``policy/v1``: the optional ``exporter:`` section (probe targets, intervals, limits).

Absent → :class:`ExporterSettings` defaults. Same strictness as the rest of the file: unknown
keys, wrong types and bad durations are errors naming the key path and line.

.. code-block:: yaml

    exporter:
      poll_intervals: {calls: 30s, insights: 5m, alerts: 1m, deliveries: 1m, statuspage: 1m}
      api_timeout: 10s
      probe_interval: 1m
      probe_timeout: 10s
      webhook_body_limit: 65536      # bytes
      dedup_capacity: 100000         # remembered (call, state) pairs
      health_window: 5m
      control_targets: [https://www.example.com/]   # egress control URLs (see below)
      probe_targets:
        - name: twilio-webhook
          kind: twilio_webhook
          url: https://api.example.com/telephony/webhooks/twilio
        - {name: app-api, kind: http, url: "https://api.example.com/health"}

``control_targets`` are URLs the egress control probe (``exporter.probes.egress``) fetches
besides resolving the providers' API hosts: they tell "callwatch cannot reach anything" from
"the providers are down", so pick ones that depend on neither provider. Each URL is its own
``target`` label, hence no user, password, query or fragment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import SplitResult, urlsplit

from policy.reader import Node

PROBE_KINDS = ("twilio_webhook", "telnyx_webhook", "http")
KIND_PROVIDER = {"twilio_webhook": "twilio", "telnyx_webhook": "telnyx"}
POLL_SOURCES = ("calls", "insights", "alerts", "deliveries", "statuspage")
DEFAULT_POLL_INTERVALS = {"calls": 30.0, "insights": 300.0, "alerts": 60.0, "deliveries": 60.0,
                          "statuspage": 60.0}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_KEYS = ("poll_intervals", "api_timeout", "probe_interval", "probe_timeout", "probe_targets",
         "webhook_body_limit", "dedup_capacity", "health_window", "control_targets")


@dataclass(frozen=True)
class ProbeTarget:
    """One synthetic probe: ``name`` is the ``target`` label (never the URL)."""

    name: str
    kind: str                 # twilio_webhook | telnyx_webhook | http
    url: str
    provider: str | None      # for webhook kinds; None for plain http probes
    expect_status: int | None = None   # http: exact status wanted; None means any 2xx


@dataclass(frozen=True)
class ExporterSettings:
    poll_intervals: Mapping[str, float] = field(
        default_factory=lambda: dict(DEFAULT_POLL_INTERVALS))
    api_timeout_seconds: float = 10.0
    probe_interval_seconds: float = 60.0
    probe_timeout_seconds: float = 10.0
    probe_targets: tuple[ProbeTarget, ...] = ()
    webhook_body_limit: int = 64 * 1024
    dedup_capacity: int = 100_000
    health_window_seconds: float = 300.0
    control_targets: tuple[str, ...] = ()   # egress control URLs, each its own target label


def read_exporter(node: Node) -> ExporterSettings:
    """The ``exporter:`` section; defaults when it is absent or empty."""
    if node.value is None:
        return ExporterSettings()
    node.mapping((), _KEYS)
    defaults = ExporterSettings()
    return ExporterSettings(
        poll_intervals=_read_intervals(node.child("poll_intervals")),
        api_timeout_seconds=node.positive_duration("api_timeout", defaults.api_timeout_seconds),
        probe_interval_seconds=node.positive_duration("probe_interval",
                                                      defaults.probe_interval_seconds),
        probe_timeout_seconds=node.positive_duration("probe_timeout",
                                                     defaults.probe_timeout_seconds),
        probe_targets=_read_targets(node.child("probe_targets")),
        webhook_body_limit=(node.child("webhook_body_limit").integer(1024)
                            if node.has("webhook_body_limit") else defaults.webhook_body_limit),
        dedup_capacity=(node.child("dedup_capacity").integer(100)
                        if node.has("dedup_capacity") else defaults.dedup_capacity),
        health_window_seconds=node.positive_duration("health_window",
                                                     defaults.health_window_seconds),
        control_targets=_read_control_targets(node.child("control_targets")),
    )


def _read_intervals(node: Node) -> dict[str, float]:
    intervals = dict(DEFAULT_POLL_INTERVALS)
    if node.value is None:
        return intervals
    node.mapping((), POLL_SOURCES)
    for key in POLL_SOURCES:
        intervals[key] = node.positive_duration(key, intervals[key])
    return intervals


def _read_targets(node: Node) -> tuple[ProbeTarget, ...]:
    if node.value is None:
        return ()
    targets = node.list_of(_read_target)
    seen: set[str] = set()
    for item, target in zip(node.each(), targets, strict=True):
        if target.name in seen:
            raise item.child("name").error(f"probe target name {target.name!r} is used twice")
        seen.add(target.name)
    return targets


def _read_target(node: Node) -> ProbeTarget:
    node.mapping(("name", "kind", "url"), ("provider", "expect_status"))
    name = node.child("name").string()
    if not _NAME.match(name):
        raise node.child("name").error(
            "must be letters, digits, '.', '_' or '-' (it becomes the target label)")
    kind = node.child("kind").choice(PROBE_KINDS, "probe kind")
    url = node.child("url").string()
    if not url.startswith(("http://", "https://")):
        raise node.child("url").error(f"must be an http:// or https:// URL, got {url!r}")
    provider = KIND_PROVIDER.get(kind)
    if node.has("provider"):
        given = node.child("provider").choice(("twilio", "telnyx"), "provider")
        if provider and given != provider:
            raise node.child("provider").error(f"a {kind} probe is for {provider}, not {given}")
        provider = given
    expect = None
    if node.has("expect_status"):
        expect = node.child("expect_status").integer(100)
        if expect > 599:
            raise node.child("expect_status").error(f"must be an HTTP status, got {expect}")
    return ProbeTarget(name, kind, url, provider, expect)


def _read_control_targets(node: Node) -> tuple[str, ...]:
    """Absolute http(s) URLs, each once; one becomes a label, so nothing secret may ride on it."""
    if node.value is None:
        return ()
    urls: list[str] = []
    for item in node.each():
        url = item.string()
        parts = urlsplit(url)
        # checked first, and the URL not echoed: a user or password must not reach the logs
        if "@" in parts.netloc or parts.query or parts.fragment:
            raise item.error("must not carry a user, password, query or fragment "
                             "(the URL is the target label)")
        if parts.scheme not in ("http", "https") or not parts.hostname or _bad_port(parts):
            raise item.error(f"must be an http:// or https:// URL with a host, got {url!r}")
        if url in urls:
            raise item.error(f"control target {url!r} is listed twice")
        urls.append(url)
    return tuple(urls)


def _bad_port(parts: SplitResult) -> bool:
    try:
        return parts.port == 0
    except ValueError:   # not a number, or above 65535
        return True

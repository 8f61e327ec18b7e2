"""Every exporter metric (docs/exporter.md), registered on a given registry.

Names come from ``policy.catalog`` (the contract). Labels are closed sets only — provider,
direction, outcome, source, operation, probe target names, egress control targets (``dns:`` and
the configured hosts, the policy's control URLs) — never a call id, phone number or the path of
a request received. Every label combination that can occur for the known providers is created up
front, so the number of series does not grow with traffic.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from policy import catalog

PROVIDERS = ("twilio", "telnyx")
DIRECTIONS = ("inbound", "outbound", "unknown")
SOURCES = ("provider", "probe")
DELIVERY_OUTCOMES = ("success", "failure")
API_OUTCOMES = ("success", "error")
# MOS is 1..5; buckets every 0.5 so the dashboard can show the distribution.
MOS_BUCKETS = (1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0)
# Provider APIs answer in tens of milliseconds to seconds; thresholds are 1 s and 2 s at p95.
API_BUCKETS = catalog.API_BUCKETS
# No rule reads it (the rules read EGRESS_SUCCESS), so it is named here, not in the catalog.
EGRESS_DURATION = "callwatch_egress_probe_duration_seconds"


@dataclass(frozen=True)
class ExporterMetrics:
    """The metric objects; build with :func:`create_metrics`."""

    registry: CollectorRegistry
    calls_ended: Counter
    calls_active: Gauge
    call_mos: Histogram
    webhook_deliveries: Counter
    api_duration: Histogram
    api_requests: Counter
    provider_up: Gauge
    provider_status: Gauge
    probe_success: Gauge
    probe_duration: Gauge
    probe_cert_expiry: Gauge
    egress_success: Gauge
    egress_duration: Gauge
    signature_failures: Counter

    def api_call(self, provider: str, operation: str, seconds: float, ok: bool) -> None:
        """Record one provider API request: its duration and whether it worked."""
        self.api_duration.labels(provider, operation).observe(seconds)
        self.api_requests.labels(provider, operation, "success" if ok else "error").inc()

    def init_operation(self, provider: str, operation: str) -> None:
        """Create the series of one (provider, operation) pair before its first request."""
        self.api_duration.labels(provider, operation)
        for outcome in API_OUTCOMES:
            self.api_requests.labels(provider, operation, outcome)

    def init_probe(self, target: str) -> None:
        """Create the series of one probe target (a name from the policy)."""
        self.probe_success.labels(target)
        self.probe_duration.labels(target)

    def init_egress(self, target: str) -> None:
        """Create the series of one egress control target (``dns:<host>`` or a policy URL)."""
        self.egress_success.labels(target)
        self.egress_duration.labels(target)


def create_metrics(registry: CollectorRegistry) -> ExporterMetrics:
    """Define every exporter metric on ``registry`` (never the global one)."""
    metrics = ExporterMetrics(
        registry=registry,
        calls_ended=Counter(
            catalog.CALLS_ENDED,
            "Calls that ended, by outcome: completed|dropped (answered, ended abnormally)|"
            "failed|busy|no_answer|canceled. See exporter.outcomes.",
            ("provider", "direction", "outcome"), registry=registry),
        calls_active=Gauge(
            catalog.CALLS_ACTIVE,
            "Calls in progress (initiated, ringing or answered, not yet ended).",
            ("provider",), registry=registry),
        call_mos=Histogram(
            catalog.CALL_MOS,
            "Mean opinion score (1-5, higher is better) of ended calls, where given.",
            ("provider",), buckets=MOS_BUCKETS, registry=registry),
        webhook_deliveries=Counter(
            catalog.WEBHOOK_DELIVERIES,
            "Webhook deliveries: source=provider (provider to app, from ingestion and provider "
            "delivery logs) or probe (our signed test webhooks); outcome success|failure.",
            ("provider", "source", "outcome"), registry=registry),
        api_duration=Histogram(
            catalog.API_DURATION,
            "Duration of provider API requests made by the pollers, in seconds.",
            ("provider", "operation"), buckets=API_BUCKETS, unit="seconds", registry=registry),
        api_requests=Counter(
            catalog.API_REQUESTS,
            "Provider API requests made by the pollers; outcome success|error (error: timeout, "
            "transport failure, 429 or any non-2xx).",
            ("provider", "operation", "outcome"), registry=registry),
        provider_up=Gauge(
            catalog.PROVIDER_UP,
            "1 when the last poll of the provider's API succeeded, 0 when it failed.",
            ("provider",), registry=registry),
        provider_status=Gauge(
            catalog.PROVIDER_STATUS,
            # An ordered gauge, not an Enum (a StateSet in OpenMetrics): the dashboard shows the
            # number, tests and operators' queries compare it (>= 2: major or worse); one 0/1
            # series per state would break them and make "worse than" a regex over states.
            "Provider Statuspage indicator, higher is worse: 0=none, 1=minor or maintenance "
            "(or an indicator callwatch does not know), 2=major, 3=critical.",
            ("provider",), registry=registry),
        probe_success=Gauge(
            catalog.PROBE_SUCCESS,
            "1 when the last synthetic probe of the target succeeded, else 0.",
            ("target",), registry=registry),
        probe_duration=Gauge(
            catalog.PROBE_DURATION,
            "Duration of the last synthetic probe of the target, in seconds.",
            ("target",), unit="seconds", registry=registry),
        probe_cert_expiry=Gauge(
            catalog.PROBE_CERT_EXPIRY,
            "Unix time at which the earliest-expiring certificate the https probe target sent "
            "expires; absent for http targets and when the last probe got no certificate.",
            ("target",), registry=registry),
        egress_success=Gauge(
            catalog.EGRESS_SUCCESS,
            "1 when callwatch's last egress control probe of the target succeeded, else 0: "
            "dns:<host> resolved to an address, a URL answered below 400.",
            ("target",), registry=registry),
        egress_duration=Gauge(
            EGRESS_DURATION,
            "Duration of callwatch's last egress control probe of the target, in seconds.",
            ("target",), unit="seconds", registry=registry),
        signature_failures=Counter(
            catalog.SIGNATURE_FAILURES,
            "Webhooks rejected for a missing, forged or stale signature.",
            ("provider",), registry=registry),
    )
    _init_series(metrics)
    return metrics


def _init_series(metrics: ExporterMetrics) -> None:
    """Create every fixed label combination so series exist (at 0) before the first event."""
    for provider in PROVIDERS:
        for direction in DIRECTIONS:
            for outcome in catalog.OUTCOMES:
                metrics.calls_ended.labels(provider, direction, outcome)
        metrics.calls_active.labels(provider)
        metrics.call_mos.labels(provider)
        for source in SOURCES:
            for outcome in DELIVERY_OUTCOMES:
                metrics.webhook_deliveries.labels(provider, source, outcome)
        metrics.signature_failures.labels(provider)

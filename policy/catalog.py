"""The fixed catalog: the six threshold rows, their recording rules and alert names.

These names are contracts: other tools, dashboards and tests depend on them.
The policy file sets only the numbers; what a row measures is defined here, once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from policy.durations import format_duration

# Exporter metric names. The exporter defines them with these names.
CALLS_ENDED = "telephony_calls_ended_total"
CALLS_ACTIVE = "telephony_calls_active"
CALL_MOS = "telephony_call_mos"
WEBHOOK_DELIVERIES = "telephony_webhook_deliveries_total"
API_DURATION = "telephony_provider_api_request_duration_seconds"
API_REQUESTS = "telephony_provider_api_requests_total"
PROVIDER_UP = "telephony_provider_up"
PROVIDER_STATUS = "telephony_provider_status"
PROBE_SUCCESS = "telephony_probe_success"
PROBE_DURATION = "telephony_probe_duration_seconds"
SIGNATURE_FAILURES = "telephony_webhook_signature_failures_total"

# The provider API histogram's buckets: the API-latency thresholds must be among them, so that
# "requests slower than the threshold" can be counted from the buckets.
API_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
# The poll sources that make at least one provider API request every poll, whatever else is
# configured: with no application traffic, the API rows see at least this many requests.
GUARANTEED_API_POLLS = {"twilio": ("calls", "alerts"), "telnyx": ("deliveries",)}

# callwatch's own metrics, which the callwatch-self rule group reads.
EGRESS_SUCCESS = "callwatch_egress_probe_success"
PROBE_CERT_EXPIRY = "telephony_probe_ssl_earliest_cert_expiry_seconds"
SCHEDULE_GAP = "callwatch_schedule_gap_seconds"   # the receiver's, per schedule, next 14 days
NOTIFICATION_FAILURES = "callwatch_notification_failures_total"
OUTBOX_OLDEST_PENDING = "callwatch_outbox_oldest_pending_age_seconds"
ESCALATION_OVERDUE = "callwatch_escalation_overdue_seconds"
CALLBACK_SIGNATURE_FAILURES = "callwatch_callback_signature_failures_total"

# Call outcomes. "Answered" calls are the ones that connected: they end completed or dropped.
OUTCOMES = ("completed", "dropped", "failed", "busy", "no_answer", "canceled")
ANSWERED_OUTCOMES = ("completed", "dropped")
# Outcomes that say the provider failed us; busy, no answer and caller hang-ups do not.
PROVIDER_FAILURE_OUTCOMES = ("failed", "dropped")

TRAFFIC_SHARE_RECORD = "telephony:traffic_share:ratio"
CALL_SUCCESS_RECORD = "telephony:provider_call_success:ratio"
SERVICE_DOWN_ALERT = "TelephonyServiceDown"
TRAFFIC_ABSENT_ALERT = "TelephonyTrafficAbsent"
# The receiver's own incident when the watchdog's heartbeat stops arriving.
WATCHDOG_MISSING_ALERT = "CallwatchWatchdogMissing"


@dataclass(frozen=True)
class Row:
    """What one threshold row measures and how it is named and shown."""

    key: str
    title: str            # the row's name, as the dashboard shows it
    record: str           # recording rule name
    alert: str            # alert name
    direction: str        # "above": alert when the value rises past the threshold; "below": falls
    unit: str             # Grafana unit id
    value_format: str     # Prometheus template turning $value into text for humans
    description: str      # sentence after the value, e.g. "of answered calls dropped"
    traffic: str | None   # minimum_traffic field guarding the row, None for no guard

    def breaches(self, value: float, threshold: float) -> bool:
        """Whether ``value`` is on the alerting side of ``threshold``."""
        return value > threshold if self.direction == "above" else value < threshold


ROWS: dict[str, Row] = {row.key: row for row in (
    Row("call_drop_rate", "Call Drop Rate", "telephony:call_drop_rate:ratio",
        "TelephonyCallDropRateHigh", "above", "percentunit",
        "{{ $value | humanizePercentage }}", "of answered calls dropped", "answered_calls"),
    Row("call_quality", "Call Quality Score", "telephony:call_quality_mos:avg",
        "TelephonyCallQualityLow", "below", "none",
        '{{ $value | printf "%.2f" }}', "mean opinion score (1-5) of ended calls",
        "answered_calls"),
    Row("webhook_failure_rate", "Webhook Failure Rate", "telephony:webhook_failure_rate:ratio",
        "TelephonyWebhookFailureRateHigh", "above", "percentunit",
        "{{ $value | humanizePercentage }}", "of webhook deliveries failed", "webhook_deliveries"),
    Row("api_response_time", "API Response Time", "telephony:api_response_time_seconds:p95",
        "TelephonyApiResponseTimeHigh", "above", "s",
        "{{ $value | humanizeDuration }}", "95th percentile provider API response time",
        "api_requests"),
    Row("error_rate", "Error Rate", "telephony:error_rate:ratio",
        "TelephonyErrorRateHigh", "above", "percentunit",
        "{{ $value | humanizePercentage }}", "of provider API requests failed", "api_requests"),
    Row("provider_health", "Provider Health", "telephony:provider_health:ratio",
        "TelephonyProviderHealthLow", "below", "percentunit",
        "{{ $value | humanizePercentage }}", "provider health", None),
)}


def row_for_alert(alertname: str) -> Row | None:
    """The row whose alert is ``alertname``, or None."""
    for row in ROWS.values():
        if row.alert == alertname:
            return row
    return None


# Message templates the receiver renders; the policy may replace any of them by path.
TEMPLATE_NAMES = ("page_text", "page_html", "slack_blocks", "slack_settled", "sms",
                  "internal_notice", "internal_notice_html", "customer_notice", "vendor_email",
                  "voice_script", "digest", "digest_html", "post_incident_report")


def guaranteed_api_requests(window: float, intervals: Mapping[str, float],
                            provider: str) -> tuple[int, str]:
    """How many provider API requests callwatch's own polls make about ``provider`` within
    ``window`` at least (one per poll of each source in GUARANTEED_API_POLLS), and the
    arithmetic as words."""
    parts = [(source, int(window // intervals[source]))
             for source in GUARANTEED_API_POLLS[provider]]
    words = ", ".join(f"{source} every {format_duration(intervals[source])}: {count}"
                      for source, count in parts)
    return sum(count for _, count in parts), words

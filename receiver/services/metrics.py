"""The receiver's metrics (names listed in docs/receiver.md), registered on the app's registry.

``callwatch_incidents_open``, ``callwatch_outbox_pending`` and the waiting gauges
(``callwatch_outbox_oldest_pending_age_seconds``, ``callwatch_escalation_overdue_seconds``)
are read from the store (so they are right across restarts and replicas) each time the
dispatcher polls. ``callwatch_schedule_gap_seconds`` follows from the policy alone, refreshed
by the handoff worker.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from policy.model import PRIORITIES
from receiver.domain.model import Changes

CALLBACK_SOURCES = ("twilio", "telnyx", "slack", "pagerduty")   # who signs what they send us
# a handoff notice's end: the dispatcher's last word on its row, or nobody to send it to
HANDOFF_RESULTS = ("sent", "failed", "abandoned", "unreachable")
# seconds: 1 min .. 1 day, around the P0..P3 response times (15m, 30m, 2h, 8h)
RESPONSE_BUCKETS = (60, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400)


class ReceiverMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.incidents_open = Gauge("callwatch_incidents_open", "Incidents not yet resolved",
                                    ["priority"], registry=registry)
        self.ack_seconds = Histogram("callwatch_incident_ack_seconds",
                                     "Time from opening to acknowledgement (MTTA)", ["priority"],
                                     buckets=RESPONSE_BUCKETS, registry=registry)
        self.resolve_seconds = Histogram("callwatch_incident_resolve_seconds",
                                         "Time from opening to resolution (MTTR)", ["priority"],
                                         buckets=RESPONSE_BUCKETS, registry=registry)
        self.sla_breaches = Counter("callwatch_response_sla_breaches_total",
                                    "Incidents not acknowledged within their priority's response "
                                    "time", ["priority"], registry=registry)
        self.notifications = Counter("callwatch_notifications_total",
                                     "Notification attempts by channel and outcome "
                                     "(sent, retry, failed, abandoned, fallback)",
                                     ["channel", "outcome"], registry=registry)
        self.failures = Counter("callwatch_notification_failures_total",
                                "Failed notification attempts by channel and reason",
                                ["channel", "reason"], registry=registry)
        self.signature_failures = Counter(
            "callwatch_callback_signature_failures_total",
            "Provider callbacks refused for a bad, missing or stale signature, by source",
            ["source"], registry=registry)
        self.outbox_pending = Gauge("callwatch_outbox_pending",
                                    "Outbox rows not yet delivered, failed or abandoned",
                                    registry=registry)
        self.outbox_waiting = Gauge("callwatch_outbox_oldest_pending_age_seconds",
                                    "Seconds the oldest undelivered outbox row (pending, or a "
                                    "call awaiting its answer) has been due: since its first "
                                    "attempt, else since it fell due; rows scheduled for later "
                                    "do not count; 0 when none", registry=registry)
        self.escalation_overdue = Gauge("callwatch_escalation_overdue_seconds",
                                        "Seconds the oldest due escalation step has waited "
                                        "without being fired; 0 when none", registry=registry)
        self.policy_load_success = _policy_gauge(registry)
        self.deliveries = Counter("callwatch_alertmanager_deliveries_total",
                                  "Alertmanager webhook posts by result "
                                  "(accepted, duplicate, heartbeat, rejected, unauthorized, "
                                  "unavailable)",
                                  ["result"], registry=registry)
        self.watchdog_last_heartbeat = Gauge(
            "callwatch_watchdog_last_heartbeat_timestamp_seconds",
            "When the latest watchdog heartbeat reached a receiver of this store (Unix seconds; "
            "0 until one has)", registry=registry)
        self.handoff_notices = Counter(
            "callwatch_handoff_notices_total",
            "On-call handoff notices by result (sent, failed, abandoned: as the dispatcher "
            "finished the row; unreachable: the person has no Slack or email the policy can "
            "use)", ["result"], registry=registry)
        self.schedule_gap = Gauge(
            "callwatch_schedule_gap_seconds",
            "Seconds with nobody on call in the next 14 days, by schedule", ["schedule"],
            registry=registry)
        for result in HANDOFF_RESULTS:
            self.handoff_notices.labels(result)
        for priority in PRIORITIES:
            self.incidents_open.labels(priority)
            self.sla_breaches.labels(priority)
        for source in CALLBACK_SOURCES:
            self.signature_failures.labels(source)

    def record_response_times(self, changes: Changes) -> None:
        """MTTA / MTTR: the one place time-to-acknowledge and time-to-resolve are observed,
        for whatever committed ``changes`` acknowledged or resolved (an alert, a person,
        PagerDuty). A drill's (``Incident.drill``) are not response times: never observed."""
        acked, resolved = changes.acknowledged_incident, changes.resolved_incident
        if acked is not None and acked.acked_at is not None and not acked.drill:
            self.ack_seconds.labels(acked.priority).observe(
                max(0.0, acked.acked_at - acked.opened_at))
        if resolved is not None and resolved.resolved_at is not None and not resolved.drill:
            self.resolve_seconds.labels(resolved.priority).observe(
                max(0.0, resolved.resolved_at - resolved.opened_at))

    def set_waiting(self, now: float, outbox_due: float | None,
                    timer_due: float | None) -> None:
        """The waiting gauges, from since when the oldest undelivered row and escalation timer
        have been due (None: nothing is)."""
        self.outbox_waiting.set(0.0 if outbox_due is None else max(0.0, now - outbox_due))
        self.escalation_overdue.set(0.0 if timer_due is None else max(0.0, now - timer_due))

    def set_open(self, counts: dict[str, int]) -> None:
        for priority in PRIORITIES:
            self.incidents_open.labels(priority).set(counts.get(priority, 0))


def _policy_gauge(registry: CollectorRegistry) -> Gauge | None:
    """``callwatch_policy_load_success`` = 1: the policy loaded (else the process stops).

    The exporter may register the same gauge on the shared registry under ``callwatch run``;
    then that one stands and this returns None.
    """
    try:
        gauge = Gauge("callwatch_policy_load_success", "1 when the policy file loaded and "
                      "passed its checks", registry=registry)
    except ValueError:  # already registered by the other component
        return None
    gauge.set(1)
    return gauge

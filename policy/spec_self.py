"""``policy/v1``: how callwatch watches itself and the traffic it is meant to see.

Three optional sections, defaults below when absent, as strict as the rest of the file:

.. code-block:: yaml

    self_monitoring:              # the callwatch-self rule group
      priority: P1                # every Callwatch* alert
      target_down_for: 2m         # a callwatch scrape target down or gone
      notification_failures_for: 10m
      escalation_lag: 2m          # an escalation timer overdue this long
      signature_failures: {count: 5, within: 5m}   # a rotated secret, or someone forging
      probe_failing_for: 5m
      egress_down_for: 2m         # callwatch itself reaches nothing
      certificate_expiry: 14d     # an https probe target's certificate expires within this
      certificate_priority: P3    # that warning's priority
      schedule_gap_priority: P3   # a schedule names nobody some time in the next 14 days
    watchdog:                     # the dead man's switch
      alertname: CallwatchWatchdog
      missing_after: 5m           # no heartbeat this long: the alerting pipeline is silent
      priority: P1
      repeat_interval: 1m         # how often Alertmanager re-sends the always-firing heartbeat
    traffic_absent:               # TelephonyTrafficAbsent
      for: 15m                    # no ended call at all this long...
      seen_within: 1d             # ...on a provider that carried calls this recently
      priority: P2
      business_hours: {days: [mon, tue, wed, thu, fri], start: '08:00', end: '18:00'}  # UTC

The cross-checks that need other sections (the heartbeat's repeat against ``missing_after``)
are in ``policy.spec``.
"""

from __future__ import annotations

import re

from policy.model import PRIORITIES, BusinessHours, SelfMonitoring, TrafficAbsent, Watchdog
from policy.reader import Node

DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")   # PromQL day_of_week(): 0 is Sunday
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_ALERTNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def read_self_monitoring(node: Node) -> SelfMonitoring:
    """The ``self_monitoring:`` section; defaults when absent."""
    if node.value is None:
        return SelfMonitoring()
    keys = ("priority", "target_down_for", "notification_failures_for", "escalation_lag",
            "signature_failures", "probe_failing_for", "egress_down_for", "certificate_expiry",
            "certificate_priority", "schedule_gap_priority")
    node.mapping((), keys)
    defaults = SelfMonitoring()
    count, window = defaults.signature_failures, defaults.signature_window_seconds
    if node.has("signature_failures"):
        burst = node.child("signature_failures").mapping(("count", "within"))
        count = burst.child("count").integer(1)
        window = burst.positive_duration("within", window)
    return SelfMonitoring(
        priority=_priority(node, defaults.priority),
        target_down_seconds=node.positive_duration("target_down_for", defaults.target_down_seconds),
        notification_failures_seconds=node.positive_duration("notification_failures_for",
                                                defaults.notification_failures_seconds),
        escalation_lag_seconds=node.positive_duration("escalation_lag",
                                                      defaults.escalation_lag_seconds),
        signature_failures=count, signature_window_seconds=window,
        probe_failing_seconds=node.positive_duration("probe_failing_for",
                                        defaults.probe_failing_seconds),
        egress_down_seconds=node.positive_duration("egress_down_for", defaults.egress_down_seconds),
        certificate_expiry_days=node.positive_duration("certificate_expiry",
                                          defaults.certificate_expiry_days * 86400) / 86400,
        certificate_priority=_priority(node, defaults.certificate_priority,
                                       "certificate_priority"),
        schedule_gap_priority=_priority(node, defaults.schedule_gap_priority,
                                        "schedule_gap_priority"),
    )


def read_watchdog(node: Node) -> Watchdog:
    """The ``watchdog:`` section; defaults when absent."""
    if node.value is None:
        return Watchdog()
    node.mapping((), ("alertname", "missing_after", "priority", "repeat_interval"))
    defaults = Watchdog()
    alertname = defaults.alertname
    if node.has("alertname"):
        alertname = node.child("alertname").string()
        if not _ALERTNAME.match(alertname):
            raise node.child("alertname").error(
                f"must be a Prometheus alert name (letters, digits, '_'), got {alertname!r}")
    return Watchdog(
        alertname=alertname,
        missing_after_seconds=node.positive_duration("missing_after",
                                                     defaults.missing_after_seconds),
        priority=_priority(node, defaults.priority),
        repeat_interval_seconds=node.positive_duration("repeat_interval",
                                          defaults.repeat_interval_seconds),
    )


def read_traffic_absent(node: Node) -> TrafficAbsent:
    """The ``traffic_absent:`` section; defaults when absent. ``business_hours: always`` (or
    the key set to nothing) watches around the clock."""
    if node.value is None:
        return TrafficAbsent()
    node.mapping((), ("for", "seen_within", "priority", "business_hours"))
    defaults = TrafficAbsent()
    absent = node.positive_duration("for", defaults.absent_seconds)
    seen = node.positive_duration("seen_within", defaults.seen_within_seconds)
    if seen <= absent:
        raise node.child("seen_within").error(
            "must be longer than for: traffic seen within it is what the silence breaks")
    hours = defaults.business_hours
    if node.has("business_hours"):
        hours = _read_hours(node.child("business_hours"))
    return TrafficAbsent(absent, seen, _priority(node, defaults.priority), hours)


def _read_hours(node: Node) -> BusinessHours | None:
    if node.value is None or node.value == "always":
        return None
    node.mapping(("days", "start", "end"))
    days = tuple(DAYS.index(item.choice(DAYS, "day")) for item in node.child("days").each())
    if not days:
        raise node.child("days").error("must name at least one day")
    start, end = (_minute(node.child(key)) for key in ("start", "end"))
    if start >= end:
        raise node.child("end").error("must be later than start (hours are UTC, within a day)")
    return BusinessHours(tuple(sorted(set(days))), start, end)


def _minute(node: Node) -> int:
    text = node.string()
    match = _CLOCK.match(text)
    if match is None:
        raise node.error(f"must be a time of day as 'HH:MM' (UTC), got {text!r}")
    return int(match.group(1)) * 60 + int(match.group(2))


def _priority(node: Node, default: str, key: str = "priority") -> str:
    return node.child(key).choice(PRIORITIES, "priority") if node.has(key) else default

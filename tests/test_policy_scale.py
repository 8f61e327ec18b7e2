"""scale_policy: every duration shrinks by the same factor, nothing else changes."""

from __future__ import annotations

import pytest

from policy.scale import scale_policy


def test_every_duration_is_divided_by_the_factor(policy) -> None:
    fast = scale_policy(policy, 60)
    assert fast.thresholds["call_drop_rate"].for_seconds == 5
    assert fast.priorities["P0"].response_seconds == 15
    assert fast.escalation.deadlines["P1"].after_seconds == 60
    assert [s.after_seconds for s in fast.escalation.engineering] == [
        s.after_seconds / 60 for s in policy.escalation.engineering]
    assert fast.vendors["twilio"].criteria[0].lasting_seconds == 30
    assert fast.vendors["telnyx"].tiers["premium"]["response_seconds"] == 120
    assert fast.alertmanager.repeat_interval_seconds["P0"] == 30
    assert fast.notifications.fallback_after_seconds == 10


def test_thresholds_and_counts_are_left_alone(policy) -> None:
    fast = scale_policy(policy, 60)
    assert fast.thresholds["call_drop_rate"].critical == 0.05
    assert fast.minimum_traffic == policy.minimum_traffic
    assert fast.majority_traffic_share == policy.majority_traffic_share
    assert fast.contacts == policy.contacts


def test_a_factor_of_one_is_the_same_policy_and_zero_is_refused(policy) -> None:
    assert scale_policy(policy, 1) is policy
    with pytest.raises(ValueError, match="above 0"):
        scale_policy(policy, 0)


def test_timeouts_are_not_scaled(policy) -> None:
    fast = scale_policy(policy, 60)
    assert fast.exporter.api_timeout_seconds == policy.exporter.api_timeout_seconds
    assert fast.exporter.probe_timeout_seconds == policy.exporter.probe_timeout_seconds
    assert fast.exporter.probe_interval_seconds == policy.exporter.probe_interval_seconds / 60


def test_the_exporter_poll_intervals_are_scaled(policy) -> None:
    fast = scale_policy(policy, 60)
    assert fast.exporter.poll_intervals == {
        name: seconds / 60 for name, seconds in policy.exporter.poll_intervals.items()}

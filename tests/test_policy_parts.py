"""Durations and matchers: the small parsers the policy and the receiver share."""

from __future__ import annotations

import pytest

from policy.durations import format_duration, parse_duration
from policy.matchers import matches_all, parse_matcher


@pytest.mark.parametrize(("text", "seconds"), [
    ("30s", 30), ("5m", 300), ("1h30m", 5400), ("24h", 86400), ("500ms", 0.5), ("0s", 0), ("0", 0),
])
def test_a_prometheus_duration_parses_to_seconds(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "5 m", "m5", "1h-5m", "5minutes", "1.5.0s"])
def test_a_malformed_duration_is_rejected_naming_the_text(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


@pytest.mark.parametrize(("seconds", "text"), [
    (300, "5m"), (5400, "1h30m"), (2.5, "2s500ms"), (0, "0s"), (1 / 6, "167ms"), (86400, "24h"),
])
def test_seconds_format_as_the_shortest_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize(("matcher", "labels", "expected"), [
    ('severity="critical"', {"severity": "critical"}, True),
    ('severity="critical"', {"severity": "warning"}, False),
    ('severity!="critical"', {}, True),
    ('alertname=~"Telephony.+"', {"alertname": "TelephonyServiceDown"}, True),
    ('alertname=~"Telephony"', {"alertname": "TelephonyServiceDown"}, False),
    ('provider!~"twilio|telnyx"', {"provider": "all"}, True),
    ("provider=twilio", {"provider": "twilio"}, True),
])
def test_a_matcher_matches_labels_as_alertmanager_does(matcher, labels, expected) -> None:
    assert parse_matcher(matcher).matches(labels) is expected


def test_all_matchers_must_match() -> None:
    assert matches_all(('a="1"', 'b="2"'), {"a": "1", "b": "2"})
    assert not matches_all(('a="1"', 'b="2"'), {"a": "1"})


@pytest.mark.parametrize("text", ["severity", 'severity=="x"', 'x=~"("', '="v"'])
def test_a_malformed_matcher_is_rejected(text: str) -> None:
    with pytest.raises(ValueError):
        parse_matcher(text)

"""An alert's priority (P0..P3) from its labels and the policy, and an incident's leading alert.

An alert's priority is its ``priority`` label (P0..P3), else the first matching
``policy.priority_overrides`` entry, else ``policy.severity_default[severity]``, else
``UNKNOWN_SEVERITY_PRIORITY`` (P2: an alert nobody classified is seen, not buried in a digest).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from policy import Policy
from policy.matchers import Matcher, parse_matcher
from policy.model import PRIORITIES
from receiver.domain.model import Incident

UNKNOWN_SEVERITY_PRIORITY = "P2"


def alert_priority(labels: dict[str, str] | object, policy: Policy) -> str:
    """The priority of one alert from its labels (see the module docstring for the order)."""
    labels = dict(labels)  # type: ignore[arg-type]
    label = labels.get("priority", "")
    if label in PRIORITIES:
        return label
    for override in policy.priority_overrides:
        if all(_matcher(text).matches(labels) for text in override.matchers):
            return override.priority
    return policy.severity_default.get(labels.get("severity", ""), UNKNOWN_SEVERITY_PRIORITY)


@lru_cache(maxsize=1024)
def _matcher(text: str) -> Matcher:
    """Parsed once per matcher text (the policy was validated at load)."""
    return parse_matcher(text)


def highest(priorities: list[str]) -> str:
    return min(priorities, key=PRIORITIES.index)


def leading_alert(incident: Incident, policy: Policy) -> Mapping[str, Any] | None:
    """The first firing alert of the highest priority (else the first alert), or None."""
    alerts = [a for a in incident.alerts if isinstance(a, Mapping)]
    firing = [a for a in alerts if a.get("status") == "firing"] or alerts
    if not firing:
        return None
    ranked = [(PRIORITIES.index(alert_priority(a.get("labels", {}), policy)), i)
              for i, a in enumerate(firing)]
    return firing[min(ranked)[1]]

"""Per-provider state the pollers write and the ops endpoints read, and the health ratio.

Health mirrors the recording rule ``telephony:provider_health:ratio`` (policy/render/rules.py):
the worst of its inputs —

- ``calls``: completed / (completed + failed + dropped) of calls that ended within the window
  (busy, no_answer and canceled say nothing about the provider), only once at least
  ``minimum_traffic.answered_calls`` such calls ended;
- ``api``: 1 when the last poll of the provider's API worked, 0 when it failed (absent when
  polling is off).

The Statuspage indicator is reported beside them but is not part of the ratio, as in the rule.
"""

from __future__ import annotations

from dataclasses import dataclass

from exporter.calls import CallTracker

STATUS_NAMES = {0: "none", 1: "minor", 2: "major", 3: "critical"}


@dataclass
class ProviderState:
    """What the pollers last learnt about one provider."""

    polling: bool = False
    polling_detail: str = ""
    api_up: bool | None = None
    last_poll_at: float | None = None
    last_error: str | None = None
    status: int | None = None
    status_description: str | None = None


def provider_health(provider: str, tracker: CallTracker, state: ProviderState,
                    minimum_calls: int, warning: float = 0.8, critical: float = 0.7) -> dict:
    """The JSON body of ``/telephony/providers/{provider}/health``."""
    counts = tracker.outcome_counts(provider)
    attempted = counts["completed"] + counts["failed"] + counts["dropped"]
    answered = counts["completed"] + counts["dropped"]
    success = counts["completed"] / attempted if attempted else None
    enough = attempted >= max(1, minimum_calls)
    inputs: dict[str, float] = {}
    if success is not None and enough:
        inputs["calls"] = success
    if state.api_up is not None:
        inputs["api"] = 1.0 if state.api_up else 0.0
    health = min(inputs.values()) if inputs else None
    return {
        "provider": provider,
        "health_ratio": health,
        "status": _status(health, warning, critical),
        "thresholds": {"warning": warning, "critical": critical},
        "window_seconds": tracker.window,
        "inputs": {
            "calls": {"success_ratio": success, "counted_in_ratio": "calls" in inputs,
                      "minimum_calls": minimum_calls, "ended": counts,
                      "drop_rate": counts["dropped"] / answered if answered else None},
            "api": {"polling": state.polling, "detail": state.polling_detail,
                    "up": state.api_up, "last_poll_at": state.last_poll_at,
                    "last_error": state.last_error},
            "statuspage": {"indicator": STATUS_NAMES.get(state.status) if state.status is not None
                           else None, "value": state.status,
                           "description": state.status_description},
        },
        "active_calls": tracker.active_count(provider),
        "recent_failed_calls": [
            {"call_id": call_id, "outcome": outcome, "ended_at": at}
            for at, call_id, outcome in reversed(tracker.recent_failures(provider))],
    }


def _status(health: float | None, warning: float, critical: float) -> str:
    """As the alert sees it: below critical is critical, below warning degraded."""
    if health is None:
        return "unknown"
    return "critical" if health < critical else "degraded" if health < warning else "healthy"

"""The dead man's switch as pure logic: the heartbeat's part of a delivery, and when the
alerting pipeline is silent.

Prometheus always fires ``policy.watchdog.alertname``; Alertmanager re-sends it to the
receiver every ``repeat_interval``. A delivery's firing heartbeat alerts are its heartbeat
(``split_heartbeat``); they never open an incident. ``decide_watchdog`` says, from the latest
heartbeat any receiver recorded, this receiver's start-up and the switch's latest incident,
whether to open the incident (no heartbeat for ``missing_after``), resolve it (the heartbeat
returned) or do nothing. The incident itself is opened and resolved by the same
``receiver.domain.incidents.decide`` that Alertmanager's deliveries go through, from the
synthetic group ``missing_group`` builds, so routing, escalation and MTTA/MTTR are the usual.

The verdict's ``key`` is the delivery key the change is claimed under: the same for every
receiver that sees the same silence (it names the last heartbeat, which they read from the
store they share), so several receivers open one incident, and a silence whose incident was
resolved by hand is not paged about again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from policy.catalog import WATCHDOG_MISSING_ALERT
from policy.durations import format_duration
from policy.model import Watchdog
from receiver.domain.alertmanager import SUPPORTED_VERSION, Alert, AlertGroup, parse_time
from receiver.domain.model import Incident, IncidentState

GROUP_KEY = "callwatch:watchdog-missing"   # the switch's incidents: one group, like any alert's
RECEIVER = "callwatch-watchdog"
OPEN, RESOLVE = "open", "resolve"
_FINGERPRINT = "callwatch-watchdog-missing"
_ZERO_TIME = "0001-01-01T00:00:00Z"        # Alertmanager's endsAt of a firing alert
# A silence's start is kept as RFC 3339 text (microseconds) in the incident's alert: a heartbeat
# counts as returned when it is later than that by more than the text can lose.
_RETURN_MARGIN = 0.001


@dataclass(frozen=True)
class SwitchState:
    """What the switch looks at: this receiver's start-up, the latest heartbeat any receiver
    recorded (None: never), and the latest incident of ``GROUP_KEY`` (None: never opened)."""

    started_at: float
    last_heartbeat: float | None
    incident: Incident | None


@dataclass(frozen=True)
class Verdict:
    """``OPEN`` or ``RESOLVE`` the switch's incident, claimed under delivery key ``key``;
    ``silent_since`` is when the silence began (the last heartbeat, else the start-up)."""

    action: str
    key: str
    silent_since: float


def split_heartbeat(group: AlertGroup, alertname: str) -> tuple[bool, AlertGroup | None]:
    """(whether ``group`` carries a firing heartbeat, the group without any heartbeat alert or
    None when nothing else is in it). A resolved heartbeat alert is no heartbeat: it means
    Prometheus stopped sending it."""
    heartbeats = [a for a in group.alerts if a.labels.get("alertname") == alertname]
    if not heartbeats:
        return False, group
    beat = any(a.firing for a in heartbeats)
    others = tuple(a for a in group.alerts if a.labels.get("alertname") != alertname)
    if not others:
        return beat, None
    status = "firing" if any(a.firing for a in others) else "resolved"
    return beat, replace(group, alerts=others, status=status)


def decide_watchdog(state: SwitchState, watchdog: Watchdog, now: float) -> Verdict | None:
    """Open, resolve or nothing (None); see the module docstring. The silence is counted from
    the last heartbeat or this receiver's start-up, whichever is later: a receiver that was
    down itself gives the pipeline ``missing_after`` to reach it again."""
    incident = state.incident
    if incident is not None and incident.state != IncidentState.RESOLVED:
        since = silent_since(incident)
        if state.last_heartbeat is not None and state.last_heartbeat > since + _RETURN_MARGIN:
            return Verdict(RESOLVE, _key(RESOLVE, state.last_heartbeat), since)
        return None
    last = state.last_heartbeat
    counted_from = state.started_at if last is None else max(last, state.started_at)
    if now - counted_from < watchdog.missing_after_seconds:
        return None
    return Verdict(OPEN, _key(OPEN, last), state.started_at if last is None else last)


def silent_since(incident: Incident) -> float:
    """When the silence an incident of the switch is about began (its alert's startsAt)."""
    for alert in incident.alerts:
        if alert.get("startsAt"):
            return parse_time(str(alert["startsAt"]))
    return incident.opened_at


def missing_group(verdict: Verdict, watchdog: Watchdog, now: float) -> AlertGroup:
    """The verdict as an Alertmanager-like group of one ``CallwatchWatchdogMissing`` alert,
    firing (OPEN) or resolved (RESOLVE), for ``receiver.domain.incidents.decide``."""
    firing = verdict.action == OPEN
    status = "firing" if firing else "resolved"
    labels = {"alertname": WATCHDOG_MISSING_ALERT, "priority": watchdog.priority,
              "severity": "critical", "component": "callwatch"}
    annotations = _annotations(watchdog)
    alert = Alert(status=status, labels=labels, annotations=annotations,
                  starts_at=_rfc3339(verdict.silent_since),
                  ends_at=_ZERO_TIME if firing else _rfc3339(now),
                  fingerprint=_FINGERPRINT, group=GROUP_KEY)
    return AlertGroup(version=SUPPORTED_VERSION, group_key=GROUP_KEY, status=status,
                      receiver=RECEIVER, alerts=(alert,),
                      group_labels={"alertname": WATCHDOG_MISSING_ALERT},
                      common_labels=labels, common_annotations=annotations)


def _annotations(watchdog: Watchdog) -> dict[str, str]:
    name, after = watchdog.alertname, format_duration(watchdog.missing_after_seconds)
    every = format_duration(watchdog.repeat_interval_seconds)
    return {
        "summary": f"The alerting pipeline is silent: no {name} heartbeat for {after}",
        "description": (
            f"Prometheus always fires {name} and Alertmanager re-sends it to the callwatch "
            f"receiver every {every}; none has arrived for {after}. Prometheus or "
            "Alertmanager is down or broken, or cannot reach the receiver: no other alert "
            "can page either. Check Prometheus (/-/healthy, its rule evaluation and its "
            f"Alertmanagers), Alertmanager (/-/healthy, the route sending alertname=\"{name}\" "
            "to the callwatch receiver), and that its webhook reaches the receiver with the "
            "right token (callwatch_alertmanager_deliveries_total{result=\"unauthorized\"}). "
            "This incident resolves when the heartbeat returns."),
    }


def _key(action: str, last_heartbeat: float | None) -> str:
    epoch = "never" if last_heartbeat is None else f"{last_heartbeat:.6f}"
    return f"{GROUP_KEY}:{action}:{epoch}"


def _rfc3339(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")

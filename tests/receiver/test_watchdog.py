"""The dead man's switch as pure logic: what a delivery's heartbeat is, and when the switch
opens or resolves its incident, told as sentences."""

from __future__ import annotations

import pytest

from policy.model import Watchdog
from receiver.domain.alertmanager import parse_payload
from receiver.domain.incidents import Context, decide
from receiver.domain.model import GroupSnapshot, Incident
from receiver.domain.watchdog import (
    GROUP_KEY,
    OPEN,
    RESOLVE,
    SwitchState,
    Verdict,
    decide_watchdog,
    missing_group,
    split_heartbeat,
)
from tests.receiver.standins import alert, payload

WATCHDOG = Watchdog(alertname="CallwatchWatchdog", missing_after_seconds=300.0, priority="P1",
                    repeat_interval_seconds=60.0)
START = 1_000_000.0
MINUTE = 60.0


def _switch_incident(state: str, silent_since: float) -> Incident:
    """An incident of the switch about the silence that began at ``silent_since``."""
    group = missing_group(Verdict(OPEN, "k", silent_since), WATCHDOG, silent_since + 300)
    return Incident(id="inc1", group_key=GROUP_KEY, priority="P1", state=state,
                    summary="silent", provider=None, opened_at=silent_since + 300,
                    alerts=[a.as_dict() for a in group.alerts])


def _at(minutes: float) -> float:
    return START + minutes * MINUTE


CASES = [
    ("a receiver started four minutes ago that never heard a heartbeat waits",
     SwitchState(START, None, None), 4, None),
    ("a receiver started five minutes ago that never heard a heartbeat opens the incident",
     SwitchState(START, None, None), 5, (OPEN, f"{GROUP_KEY}:open:never", START)),
    ("a heartbeat a minute old is fresh: nothing to do",
     SwitchState(START, _at(9), None), 10, None),
    ("a heartbeat four minutes and 59 seconds old is still within missing_after",
     SwitchState(START, _at(5), None), 9 + 59 / 60, None),
    ("no heartbeat for five minutes opens the incident about the silence since the last one",
     SwitchState(START, _at(5), None), 10, (OPEN, f"{GROUP_KEY}:open:{_at(5):.6f}", _at(5))),
    ("a receiver restarted a minute ago gives the pipeline missing_after from its start-up",
     SwitchState(_at(60), _at(5), None), 61, None),
    ("a receiver restarted five minutes ago with an old heartbeat opens about that heartbeat",
     SwitchState(_at(60), _at(5), None), 65, (OPEN, f"{GROUP_KEY}:open:{_at(5):.6f}", _at(5))),
    ("an open incident with no heartbeat since it began stays open: nobody is paged twice",
     SwitchState(START, _at(5), _switch_incident("triggered", _at(5))), 30, None),
    ("an open incident resolves when the heartbeat returns",
     SwitchState(START, _at(20), _switch_incident("triggered", _at(5))), 20,
     (RESOLVE, f"{GROUP_KEY}:resolve:{_at(20):.6f}", _at(5))),
    ("an acknowledged incident resolves when the heartbeat returns",
     SwitchState(START, _at(20), _switch_incident("acknowledged", _at(5))), 20,
     (RESOLVE, f"{GROUP_KEY}:resolve:{_at(20):.6f}", _at(5))),
    ("an incident opened before any heartbeat resolves at the first one",
     SwitchState(START, _at(7), _switch_incident("triggered", START)), 7,
     (RESOLVE, f"{GROUP_KEY}:resolve:{_at(7):.6f}", START)),
    ("an open incident opened by a receiver that never heard a heartbeat is not resolved "
     "by another receiver's start-up",
     SwitchState(_at(30), None, _switch_incident("triggered", START)), 31, None),
    ("a resolved incident and a fresh heartbeat: nothing to do",
     SwitchState(START, _at(20), _switch_incident("resolved", _at(5))), 22, None),
    ("a resolved incident and a new silence of five minutes opens again",
     SwitchState(START, _at(20), _switch_incident("resolved", _at(5))), 25,
     (OPEN, f"{GROUP_KEY}:open:{_at(20):.6f}", _at(20))),
    ("a silence whose incident was resolved by hand asks under the same key: it is not "
     "paged again",
     SwitchState(START, _at(5), _switch_incident("resolved", _at(5))), 40,
     (OPEN, f"{GROUP_KEY}:open:{_at(5):.6f}", _at(5))),
]


@pytest.mark.parametrize(("state", "minutes", "expected"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_the_switch(state, minutes, expected) -> None:
    verdict = decide_watchdog(state, WATCHDOG, _at(minutes))
    got = None if verdict is None else (verdict.action, verdict.key, verdict.silent_since)
    assert got == expected


def test_two_receivers_seeing_the_same_silence_claim_the_same_key() -> None:
    early = decide_watchdog(SwitchState(START, _at(5), None), WATCHDOG, _at(10))
    late = decide_watchdog(SwitchState(_at(2), _at(5), None), WATCHDOG, _at(11))
    assert early is not None and late is not None and early.key == late.key


def _group(*alerts):
    return parse_payload(payload(*alerts, group="CallwatchWatchdog"))


def test_a_delivery_of_the_heartbeat_alone_is_a_heartbeat_and_nothing_else() -> None:
    beat, rest = split_heartbeat(_group(alert("CallwatchWatchdog")), "CallwatchWatchdog")
    assert (beat, rest) == (True, None)


def test_a_resolved_heartbeat_alert_is_no_heartbeat_and_no_incident() -> None:
    beat, rest = split_heartbeat(_group(alert("CallwatchWatchdog", status="resolved")),
                                 "CallwatchWatchdog")
    assert (beat, rest) == (False, None)


def test_a_mixed_delivery_keeps_its_other_alerts_and_their_status() -> None:
    group = _group(alert("CallwatchWatchdog"), alert("TelephonyCallDropRateHigh",
                                                     status="resolved"))
    beat, rest = split_heartbeat(group, "CallwatchWatchdog")
    assert beat is True and rest is not None
    assert [a.labels["alertname"] for a in rest.alerts] == ["TelephonyCallDropRateHigh"]
    assert rest.status == "resolved" and rest.group_key == group.group_key


def test_a_delivery_without_the_heartbeat_is_left_as_it_is() -> None:
    group = _group(alert("TelephonyCallDropRateHigh"))
    assert split_heartbeat(group, "CallwatchWatchdog") == (False, group)


def test_the_missing_heartbeat_opens_a_p1_incident_that_says_what_to_check(policy) -> None:
    verdict = Verdict(OPEN, f"{GROUP_KEY}:open:never", START)
    group = missing_group(verdict, WATCHDOG, _at(5))
    ctx = Context(policy=policy, now=_at(5), new_id=lambda: "id", batch=verdict.key)
    changes = decide(group, GroupSnapshot(GROUP_KEY, None, frozenset()), ctx)
    incident = changes.incident
    assert incident is not None and changes.new_incident
    assert (incident.priority, incident.group_key, incident.labels["alertname"]) == (
        "P1", GROUP_KEY, "CallwatchWatchdogMissing")
    assert incident.summary == ("The alerting pipeline is silent: no CallwatchWatchdog "
                                "heartbeat for 5m")
    description = group.alerts[0].annotations["description"]
    for words in ("Prometheus", "/-/healthy", "Alertmanager", 'alertname="CallwatchWatchdog"',
                  "token"):
        assert words in description
    assert {row.channel for row in changes.outbox} == set(policy.routing["P1"].channels)


def test_the_returned_heartbeat_resolves_the_incident_through_the_usual_decision(policy):
    opened = _switch_incident("triggered", _at(5))
    verdict = decide_watchdog(SwitchState(START, _at(20), opened), WATCHDOG, _at(20))
    assert verdict is not None and verdict.action == RESOLVE
    ctx = Context(policy=policy, now=_at(20), new_id=lambda: "id", batch=verdict.key)
    changes = decide(missing_group(verdict, WATCHDOG, _at(20)),
                     GroupSnapshot(GROUP_KEY, opened, frozenset({"slack"})), ctx)
    assert changes.resolved_incident is not None
    assert changes.resolved_incident.resolved_at == _at(20)

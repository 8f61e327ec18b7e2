"""Escalation over an injected clock: what is due, told as sentences."""

from __future__ import annotations

import dataclasses

import pytest

from receiver.domain.escalation import (
    EscalationCase,
    FiringAlert,
    due_actions,
    next_due,
    next_level,
    pending_actions,
)

MINUTE = 60.0
HOUR = 3600.0
OPENED = 1_000_000.0


def _incident(priority: str, state: str = "triggered", done: tuple[str, ...] = (),
              provider: str | None = "twilio", alerts: tuple[FiringAlert, ...] = ()):
    return EscalationCase(priority=priority, state=state, opened_at=OPENED, provider=provider,
                         alerts=alerts, done=frozenset(done))


def _keys(incident: EscalationCase, policy, minutes: float) -> set[str]:
    return {action.key for action in due_actions(incident, policy, OPENED + minutes * MINUTE)}


CASES = [
    ("a P0 pages the on-call and the VP Engineering at once",
     _incident("P0"), 0, {"engineering:L1", "engineering:L4"}),
    ("a P0 nobody acknowledges for 15 minutes reaches the team lead",
     _incident("P0", done=("engineering:L1", "engineering:L4")), 15, {"engineering:L2", "sla"}),
    ("a P0 at 14 minutes has nothing new due",
     _incident("P0", done=("engineering:L1", "engineering:L4")), 14, set()),
    ("an acknowledged P0 does not page L2",
     _incident("P0", "acknowledged", done=("engineering:L1", "engineering:L4")), 30, set()),
    ("a P1 nobody acknowledges for 61 minutes reaches the engineering manager",
     _incident("P1", done=("engineering:L1", "engineering:L2")), 61,
     {"engineering:L3", "sla", "business:L1"}),
    ("a P1 does not page the VP Engineering however long it lasts",
     _incident("P1", done=("engineering:L1", "engineering:L2", "engineering:L3", "sla",
                           "business:L1", "business:L2", "business:L3")), 600, set()),
    ("a P2 reaches nobody before its four-hour deadline but the SLA clock",
     _incident("P2"), 239, {"sla"}),
    ("a P2 unacknowledged for four hours reaches the team lead",
     _incident("P2", done=("sla",)), 240, {"engineering:L2"}),
    ("a P2 never reaches the business chain",
     _incident("P2", done=("sla", "engineering:L2")), 24 * 60, set()),
    ("a P3 reaches the team lead after 24 hours",
     _incident("P3", done=("sla",)), 24 * 60, {"engineering:L2"}),
    ("an acknowledged P1 still tells the operations manager after an hour",
     _incident("P1", "acknowledged", done=("engineering:L1",)), 60, {"business:L1"}),
    ("a resolved incident escalates nothing",
     _incident("P0", "resolved"), 600, set()),
    ("an incident upgraded from P2 to P1 at minute 20 pages L1 and the team lead at once",
     _incident("P1"), 20, {"engineering:L1", "engineering:L2"}),
]


@pytest.mark.parametrize(("incident", "minutes", "expected"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_escalation(policy, incident, minutes, expected) -> None:
    assert _keys(incident, policy, minutes) == expected


def test_a_restart_at_minute_14_still_escalates_at_minute_15(policy) -> None:
    # What the store holds at minute 14 is all a new process knows.
    stored = _incident("P0", done=("engineering:L1", "engineering:L4"))
    assert _keys(stored, policy, 14) == set()
    assert next_due(stored, policy) == OPENED + 15 * MINUTE
    assert "engineering:L2" in _keys(stored, policy, 15)


def test_an_escalation_step_names_its_contacts_and_channels(policy) -> None:
    (action,) = [a for a in due_actions(_incident("P1", done=("engineering:L1",)), policy,
                                        OPENED + 16 * MINUTE) if a.key == "engineering:L2"]
    assert action.contacts == ("team_lead",)
    assert action.channels == ("slack", "phone")
    assert action.level == "L2"


def test_next_due_is_none_when_nothing_more_can_happen(policy) -> None:
    assert next_due(_incident("P2", "resolved"), policy) is None
    done = ("sla", "engineering:L2")
    assert next_due(_incident("P2", done=done), policy) is None


def test_the_sla_breach_is_due_at_the_priority_response_time(policy) -> None:
    for priority, minutes in (("P0", 15), ("P1", 30), ("P2", 120), ("P3", 480)):
        sla = [a for a in pending_actions(_incident(priority), policy) if a.key == "sla"]
        assert sla[0].due_at == OPENED + minutes * MINUTE, priority


VENDOR_CASES = [
    ("a Twilio outage lasting 29 minutes is not yet a vendor escalation",
     "twilio", "TelephonyProviderHealthLow", 29, set()),
    ("a Twilio outage lasting 30 minutes is escalated to Twilio",
     "twilio", "TelephonyProviderHealthLow", 30, {"vendor:twilio"}),
    ("a Telnyx disruption lasting 15 minutes is escalated to Telnyx",
     "telnyx", "TelephonyProviderHealthLow", 15, {"vendor:telnyx"}),
    ("poor Telnyx call quality is escalated to Telnyx at once",
     "telnyx", "TelephonyCallQualityLow", 0, {"vendor:telnyx"}),
    ("poor Twilio call quality is not a Twilio escalation criterion",
     "twilio", "TelephonyCallQualityLow", 120, set()),
    ("a complete outage lasting 30 minutes is escalated to both vendors",
     "all", "TelephonyServiceDown", 30, {"vendor:twilio", "vendor:telnyx"}),
]


@pytest.mark.parametrize(("provider", "alertname", "minutes", "expected"),
                         [case[1:] for case in VENDOR_CASES], ids=[c[0] for c in VENDOR_CASES])
def test_vendor_escalation(policy, provider, alertname, minutes, expected) -> None:
    incident = _incident("P1", "acknowledged", provider=provider,
                         alerts=(FiringAlert(alertname, provider, OPENED),),
                         done=("engineering:L1", "business:L1", "business:L2", "business:L3"))
    keys = {key for key in _keys(incident, policy, minutes) if key.startswith("vendor:")}
    assert keys == expected


@pytest.mark.parametrize(("sentence", "incident", "expected"), [
    ("a P1 whose on-call was paged escalates now to the team lead",
     _incident("P1", done=("engineering:L1",)), "L2"),
    ("a second request while the team lead is being paged asks for the engineering manager",
     dataclasses.replace(_incident("P1", done=("engineering:L1",)),
                         requested=(("L2", OPENED + MINUTE),)), "L3"),
    ("a P2 escalates now to its deadline level, the team lead",
     _incident("P2"), "L2"),
    ("a P1 with every level paged has nowhere further to go",
     _incident("P1", done=("engineering:L1", "engineering:L2", "engineering:L3")), None),
])
def test_escalate_now_reaches_the_next_level(policy, sentence, incident, expected):
    assert next_level(incident, policy) == expected, sentence


def test_a_requested_level_is_due_when_it_was_asked_for_not_at_its_time(policy):
    asked = dataclasses.replace(_incident("P1", done=("engineering:L1",)),
                                requested=(("L2", OPENED + 2 * MINUTE),))
    assert _keys(asked, policy, 2) == {"engineering:L2"}
    assert _keys(asked, policy, 1) == set()
    assert "engineering:L2" not in _keys(_incident("P1", done=("engineering:L1",)), policy, 2)

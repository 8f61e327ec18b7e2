"""Incident lifecycle: priority mapping, upgrade re-routing, resolve threading, reopen window."""

from __future__ import annotations

import asyncio
import itertools
import json
from datetime import UTC, datetime

import pytest

from receiver.domain.alertmanager import parse_payload
from receiver.domain.incidents import Context, decide
from receiver.domain.model import GroupSnapshot
from receiver.domain.priority import alert_priority
from tests.receiver.conftest import auth, with_notifications
from tests.receiver.standins import alert, payload

NOW = 1_800_000_000.0


@pytest.mark.parametrize("labels,expected", [
    pytest.param({"priority": "P0", "severity": "warning"}, "P0",
                 id="the priority label wins over everything"),
    pytest.param({"priority": "urgent", "severity": "warning"}, "P3",
                 id="an invalid priority label is ignored"),
    pytest.param({"alertname": "TelephonyServiceDown", "severity": "critical"}, "P0",
                 id="service down matches the first override and is P0"),
    pytest.param({"alertname": "TelephonyProviderHealthLow", "severity": "critical"}, "P1",
                 id="critical provider health matches an override and is P1"),
    pytest.param({"alertname": "TelephonyProviderHealthLow", "severity": "warning"}, "P3",
                 id="a provider health warning falls to the severity default"),
    pytest.param({"alertname": "TelephonyCallDropRateHigh", "severity": "critical"}, "P2",
                 id="critical without override is the severity default P2"),
    pytest.param({"alertname": "Other", "severity": "info"}, "P3", id="info is P3"),
    pytest.param({"alertname": "Other"}, "P2",
                 id="an alert without severity is P2 so somebody sees it"),
])
def test_alert_priority(policy, labels, expected):
    assert alert_priority(labels, policy) == expected


_ids = itertools.count(1)


def ctx(policy, now=NOW, batch="b"):
    return Context(policy=policy, now=now, new_id=lambda: f"id{next(_ids)}", batch=batch)


def group(*alerts, **kw):
    return parse_payload(payload(*alerts, **kw))


def test_a_new_group_opens_an_incident_paging_its_route(policy):
    changes = decide(group(alert("TelephonyProviderHealthLow")),
                     GroupSnapshot("g", None, frozenset()), ctx(policy))
    inc = changes.incident
    assert changes.new_incident and (inc.priority, inc.state) == ("P1", "triggered")
    assert inc.summary == "TelephonyProviderHealthLow on twilio" and inc.provider == "twilio"
    assert [(r.channel, r.kind) for r in changes.outbox] == [("slack", "trigger"),
                                                             ("email", "trigger")]
    first = changes.outbox[0].payload
    assert first["priority"] == "P1" and first["links"]["runbook"].endswith("drop-rate.md")
    assert first["details"]["value"].startswith("6.2% of answered calls dropped")
    assert first["incident_id"] == first["dedup_key"] == inc.id
    assert [e.kind for e in changes.events] == ["opened"]


def test_the_incident_takes_the_highest_priority_of_its_firing_alerts(policy):
    changes = decide(group(alert("TelephonyCallDropRateHigh", severity="warning"),
                           alert("TelephonyServiceDown", fingerprint="sd"),
                           alert("X", priority="P1", fingerprint="x")),
                     GroupSnapshot("g", None, frozenset()), ctx(policy))
    assert changes.incident.priority == "P0"
    assert changes.incident.summary == "TelephonyServiceDown on twilio"
    assert [r.channel for r in changes.outbox] == ["pagerduty", "slack", "phone"]


def test_an_upgrade_pages_the_new_routes_channels_and_updates_the_others(policy):
    opened = decide(group(alert()), GroupSnapshot("g", None, frozenset()), ctx(policy))
    assert opened.incident.priority == "P2"
    later = group(alert(), alert("TelephonyServiceDown", fingerprint="sd"))
    changes = decide(later, GroupSnapshot("g", opened.incident, frozenset({"slack", "email"})),
                     ctx(policy, NOW + 60))
    assert changes.incident.priority == "P0" and not changes.new_incident
    assert sorted((r.channel, r.kind) for r in changes.outbox) == [
        ("email", "update"), ("pagerduty", "trigger"), ("phone", "trigger"), ("slack", "update")]
    assert changes.outbox[0].payload["details"]["note"] == "Priority raised from P2 to P0"
    assert {e.kind for e in changes.events} == {"alerts_changed", "priority_changed"}


def test_a_downgrade_is_recorded_but_pages_nobody(policy):
    opened = decide(group(alert("TelephonyServiceDown")), GroupSnapshot("g", None, frozenset()),
                    ctx(policy))
    changes = decide(group(alert(severity="warning", fingerprint="w")),
                     GroupSnapshot("g", opened.incident, frozenset({"pagerduty"})),
                     ctx(policy, NOW + 5))
    assert changes.incident.priority == "P3" and changes.outbox == []
    assert [e.detail for e in changes.events if e.kind == "priority_changed"] == [
        {"from": "P0", "to": "P3"}]


def test_resolving_notifies_every_paged_channel_and_nothing_twice(policy):
    opened = decide(group(alert("TelephonyProviderHealthLow")),
                    GroupSnapshot("g", None, frozenset()), ctx(policy))
    resolved = group(alert("TelephonyProviderHealthLow", status="resolved"))
    snapshot = GroupSnapshot("g", opened.incident, frozenset({"slack", "email", "phone"}))
    changes = decide(resolved, snapshot, ctx(policy, NOW + 600))
    assert changes.incident.state == "resolved" and changes.incident.resolved_at == NOW + 600
    assert sorted(r.channel for r in changes.outbox) == ["email", "slack"]  # no call to say so
    assert {r.kind for r in changes.outbox} == {"resolve"}
    assert changes.resolved_incident is changes.incident
    again = decide(resolved, GroupSnapshot("g", changes.incident, snapshot.notified),
                   ctx(policy, NOW + 700))
    assert again.incident is None and again.outbox == []


@pytest.mark.parametrize("gap,reopens", [
    pytest.param(599, True, id="firing again 599 s after resolving reopens the incident"),
    pytest.param(601, False, id="firing again 601 s after resolving opens a new incident"),
])
def test_reopen_window(policy, gap, reopens):
    policy = with_notifications(policy, reopen_window_seconds=600)
    opened = decide(group(alert()), GroupSnapshot("g", None, frozenset()), ctx(policy))
    resolved = decide(group(alert(status="resolved")),
                      GroupSnapshot("g", opened.incident, frozenset({"slack"})),
                      ctx(policy, NOW + 100)).incident
    changes = decide(group(alert(starts_at="2026-11-27T04:00:00Z")),
                     GroupSnapshot("g", resolved, frozenset({"slack"})),
                     ctx(policy, NOW + 100 + gap))
    assert changes.new_incident is (not reopens)
    assert (changes.incident.id == resolved.id) is reopens
    assert changes.incident.state == "triggered" and changes.incident.resolved_at is None
    assert [e.kind for e in changes.events] == (["reopened"] if reopens else ["opened"])
    assert [r.kind for r in changes.outbox] == ["trigger", "trigger"]


def test_a_p3_goes_to_the_digest_due_at_its_send_time(policy):
    now = datetime(2026, 11, 27, 10, 30, tzinfo=UTC).timestamp()
    changes = decide(group(alert(severity="warning")), GroupSnapshot("g", None, frozenset()),
                     ctx(policy, now))
    assert [(r.channel, r.kind) for r in changes.outbox] == [("digest", "trigger")]
    due = datetime.fromtimestamp(changes.outbox[0].next_attempt_at, UTC)
    assert due == datetime(2026, 11, 28, 9, 0, tzinfo=UTC)  # send_at 09:00 UTC


async def eventually(predicate, timeout=5.0):
    for _ in range(int(timeout / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached in time")


async def test_an_upgrade_through_the_api_pages_new_channels_at_once(make_client, recorders):
    client = await make_client()
    first = await client.post("/alerts", data=json.dumps(payload(alert())), headers=auth())
    assert first.status == 200
    await eventually(lambda: len(recorders["slack"].sent) == 1 and recorders["email"].sent)
    both = payload(alert(), alert("TelephonyServiceDown", fingerprint="sd"))
    second = await client.post("/alerts", data=json.dumps(both), headers=auth())
    assert (await second.json())["priority"] == "P0"
    await eventually(lambda: recorders["pagerduty"].sent and recorders["phone"].sent
                     and len(recorders["slack"].sent) == 2)
    assert [n.kind for n in recorders["slack"].sent] == ["trigger", "update"]
    assert recorders["slack"].sent[1].thread_ref == "slack-1"
    assert [n.kind for n in recorders["pagerduty"].sent] == ["trigger"]
    assert recorders["pagerduty"].sent[0].priority == "P0"


async def test_a_resolve_threads_under_the_first_message_per_channel(make_client, recorders):
    client = await make_client()
    await client.post("/alerts", data=json.dumps(payload(alert("TelephonyProviderHealthLow"))),
                      headers=auth())
    await eventually(lambda: recorders["slack"].sent and recorders["email"].sent)
    resolved = payload(alert("TelephonyProviderHealthLow", status="resolved"))
    answer = await (await client.post("/alerts", data=json.dumps(resolved),
                                      headers=auth())).json()
    assert answer["state"] == "resolved"
    await eventually(lambda: len(recorders["slack"].sent) == 2
                     and len(recorders["email"].sent) == 2)
    for name in ("slack", "email"):
        trigger, resolve = recorders[name].sent
        assert (trigger.kind, resolve.kind) == ("trigger", "resolve")
        assert resolve.thread_ref == f"{name}-1" and trigger.thread_ref is None
        assert resolve.dedup_key == trigger.dedup_key == answer["incident"]
    # PagerDuty only heard the first escalation level (P1: PagerDuty is not in the route)
    assert [n.kind for n in recorders["pagerduty"].sent] in ([], ["escalate"])
    assert recorders["phone"].sent == []
    detail = await (await client.get(f"/incidents/{answer['incident']}")).json()
    kinds = [e["kind"] for e in detail["timeline"]]
    routed = [e for e in detail["timeline"] if e["kind"] == "notified"
              and e["detail"]["channel"] in ("slack", "email")]
    assert kinds[0] == "opened" and "resolved" in kinds and len(routed) == 4

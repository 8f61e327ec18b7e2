"""Post-incident follow-up (issue 17, part 3): the report and post-mortem reminders as pure
decisions (table tests), and over HTTP: report done, action items, the reminders fired by the
escalation worker at resolved + 24h / + 48h, cancelled by a reopening or a report marked done."""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import replace

import pytest

from receiver.domain import followup
from receiver.domain.model import Changes, Event, EventKind, Incident, Timer
from receiver.http.common import RECEIVER
from tests.receiver.conftest import auth
from tests.receiver.test_actions import call, fixture, open_incident

HOUR = 3600.0


def incident(priority="P1", state="resolved", resolved_at=1000.0, acked_by=None) -> Incident:
    return Incident("inc1", "g", priority, state, "Calls failing", "twilio", 0.0,
                    acked_at=10.0 if acked_by else None, acked_by=acked_by,
                    resolved_at=resolved_at if state == "resolved" else None)


def ids():
    counter = itertools.count(1)
    return lambda: f"id{next(counter)}"


@pytest.mark.parametrize("case, priority, state, expected", [
    ("a resolved P0 gets the report at +24h and the post-mortem at +48h", "P0", "resolved",
     [("incident_report", 1000 + 24 * HOUR), ("post_mortem", 1000 + 48 * HOUR)]),
    ("a resolved P2 gets them too", "P2", "resolved",
     [("incident_report", 1000 + 24 * HOUR), ("post_mortem", 1000 + 48 * HOUR)]),
    ("a resolved P3 gets none", "P3", "resolved", []),
    ("an open P1 gets none", "P1", "triggered", []),
])
def test_which_resolved_incidents_get_reminders_and_when(case, priority, state, expected):
    timers = followup.followup_timers(incident(priority, state), ids())
    assert [(t.payload["reminder"], t.due_at) for t in timers] == expected, case
    assert all(t.kind == followup.TIMER_KIND for t in timers)


def test_a_change_that_resolves_adds_the_timers_and_one_that_reopens_cancels_them():
    resolved = incident("P1")
    changes = followup.with_followup(Changes(incident=resolved, resolved_incident=resolved,
                                             cancel_timers=("*",)), ids())
    assert len(changes.timers) == 2 and changes.cancel_timers == ("*",)
    reopened = Changes(incident=replace(resolved, state="triggered"), cancel_timers=("escalation",),
                       events=[Event("inc1", 2000.0, EventKind.REOPENED, "alertmanager")])
    assert followup.with_followup(reopened, ids()).cancel_timers == ("escalation", "followup")
    assert followup.with_followup(Changes(), ids()).cancel_timers == ()


DONE = Event("inc1", 1500.0, EventKind.REPORT_DONE, "Ada")
REOPEN = Event("inc1", 1200.0, EventKind.REOPENED, "alertmanager")


@pytest.mark.parametrize("case, current, timeline, verdict", [
    ("a resolved incident without a report is reminded", incident(), [], "send"),
    ("a report marked done stops the reminders", incident(), [DONE], "cancel"),
    ("a report done before the last reopening does not count", incident(), [DONE, REOPEN],
     "send"),
    ("an incident open again is not reminded", incident(state="triggered"), [], "cancel"),
    ("a deleted incident is not reminded", None, [], "cancel"),
])
def test_when_a_due_reminder_is_sent_or_cancelled(case, current, timeline, verdict):
    assert followup.reminder_verdict(current, timeline) == verdict, case


@pytest.mark.parametrize("case, acked_by, expected", [
    ("a contact's key names them", "eng_a", "eng_a"),
    ("a contact's name names them, in any case", "team lead", "team_lead"),
    ("a name no contact has names nobody", "Somebody Else", None),
    ("no acknowledger names nobody", None, None),
])
def test_which_contact_the_acknowledger_is(case, acked_by, expected, policy):
    assert followup.acknowledger(policy, acked_by) == expected, case


def test_a_reminder_goes_to_the_acknowledger_and_the_team_lead_on_slack_and_email(policy):
    timer = Timer("t1", "inc1", followup.TIMER_KIND, 1000 + 24 * HOUR,
                  {"reminder": "incident_report"})
    changes = followup.reminder_changes(incident(acked_by="eng_a"), timer, policy,
                                        1000 + 24 * HOUR, ids())
    assert sorted(row.channel for row in changes.outbox) == ["email", "slack"]
    assert {row.kind for row in changes.outbox} == {"reminder"}
    slack = next(row for row in changes.outbox if row.channel == "slack")
    assert slack.payload["recipients"] == [policy.contacts["eng_a"].slack, "@team-lead"]
    assert "the incident report for this P1 incident is due" in slack.payload["details"]["note"]
    [event] = changes.events
    assert (event.kind, event.detail["contacts"]) == ("followup_reminder", ["eng_a", "team_lead"])


@pytest.mark.parametrize("case, body, field", [
    ("a missing title", {"owner": "eng_a", "due": "2026-12-01"}, "title"),
    ("an empty owner", {"title": "t", "owner": " ", "due": "2026-12-01"}, "owner"),
    ("a due date that is no date", {"title": "t", "owner": "x", "due": "2026-02-30"}, "due"),
    ("a due date with a time", {"title": "t", "owner": "x", "due": "2026-12-01T10"}, "due"),
    ("an unknown field", {"title": "t", "owner": "x", "due": "2026-12-01", "prio": 1}, "prio"),
])
def test_an_action_item_is_read_strictly(case, body, field):
    assert followup.read_item(body).problem[0] == field, case


# --- over HTTP ----------------------------------------------------------------------------

async def resolved_p0(client, clock) -> str:
    incident_id = await open_incident(client)  # P0 TelephonyServiceDown
    assert (await call(client, f"/incidents/{incident_id}/ack", {"by": "eng_b"}))[0] == 200
    clock.advance(600)
    assert (await call(client, f"/incidents/{incident_id}/resolve", {"by": "eng_b"}))[0] == 200
    return incident_id


def reminders(timers) -> list[tuple[str, float]]:
    return sorted((t.payload["reminder"], t.due_at) for t in timers
                  if t.kind == followup.TIMER_KIND)


async def test_the_worker_sends_each_reminder_when_due_and_the_report_done_stops_the_rest(
        make_client, clock):
    client = await make_client()
    state = client.app[RECEIVER]
    incident_id = await resolved_p0(client, clock)
    resolved_at = clock.now
    assert reminders(await state.store.timers_for(incident_id)) == [
        ("incident_report", resolved_at + 24 * HOUR), ("post_mortem", resolved_at + 48 * HOUR)]
    clock.advance(24 * HOUR)
    assert await state.escalation.run_once() == 1
    rows = [r for r in await state.store.outbox_for(incident_id) if r.kind == "reminder"]
    assert sorted(r.channel for r in rows) == ["email", "slack"]
    [sent] = [e for e in await state.store.timeline(incident_id)
              if e.kind == "followup_reminder"]
    assert sent.detail["reminder"] == "incident_report" and "eng_b" in sent.detail["contacts"]
    status, _ = await call(client, f"/incidents/{incident_id}/report/done", {"by": "Ada"})
    assert status == 200
    status, body = await call(client, f"/incidents/{incident_id}/report/done", {"by": "Bo"})
    assert (status, body["error"]) == (409, "conflict")
    clock.advance(24 * HOUR)
    assert await state.escalation.run_once() == 0   # the post-mortem reminder was cancelled
    assert len([r for r in await state.store.outbox_for(incident_id)
                if r.kind == "reminder"]) == 2


async def test_two_report_done_requests_at_once_mark_it_once(make_client, clock):
    client = await make_client()
    incident_id = await resolved_p0(client, clock)
    answers = await asyncio.gather(*(call(client, f"/incidents/{incident_id}/report/done",
                                          {"by": who}) for who in ("Ada", "Bo", "Cy")))
    assert sorted(status for status, _ in answers) == [200, 409, 409]
    marked = [e for e in await client.app[RECEIVER].store.timeline(incident_id)
              if e.kind == "report_done"]
    assert len(marked) == 1
    (winner,) = [body for status, body in answers if status == 200]
    assert all(f"marked done by {marked[0].actor}" in body["detail"]
               for status, body in answers if status == 409)
    assert winner["id"] == incident_id


def test_report_done_writes_nothing_when_the_incident_changed_since_it_was_looked_at(policy):
    from receiver.domain.actions import ActionContext
    from receiver.domain.model import GroupSnapshot

    ctx = ActionContext(policy=policy, now=5000.0, new_id=ids(), actor="Ada")
    snapshot = GroupSnapshot("g", replace(incident(), updated_at=4000.0), frozenset())
    stale = followup.decide_report_done(snapshot, ctx, seen_updated_at=3000.0)
    assert (stale.conflict, stale.changes.events) == (followup.CHANGED, [])
    fresh = followup.decide_report_done(snapshot, ctx, seen_updated_at=4000.0)
    assert fresh.conflict is None and fresh.incident.updated_at == 5000.0
    assert [e.kind for e in fresh.changes.events] == ["report_done"]


async def test_a_reopened_incident_cancels_its_reminders(make_client, clock):
    client = await make_client()
    state = client.app[RECEIVER]
    incident_id = await resolved_p0(client, clock)
    clock.advance(60)
    again = fixture("firing")     # the same group fires again within the reopen window
    again["alerts"][0]["startsAt"] = "2030-01-01T00:00:00Z"
    response = await client.post("/alerts", data=json.dumps(again), headers=auth())
    assert (await response.json())["incident"] == incident_id
    clock.advance(48 * HOUR)
    claimed = await state.store.claim_timers("t", clock.now, 60, 50)
    assert followup.TIMER_KIND not in [t.kind for t in claimed if t.incident_id == incident_id]


async def test_action_items_are_added_listed_closed_and_in_the_report(make_client, clock):
    client = await make_client()
    incident_id = await resolved_p0(client, clock)
    status, item = await call(client, f"/incidents/{incident_id}/actions",
                              {"title": "Alert on SIP 503s", "owner": "eng_a",
                               "due": "2020-01-31", "by": "Ada"})
    assert status == 201
    assert (item["owner_contact"], item["state"], item["overdue"]) == ("eng_a", "open", True)
    status, other = await call(client, f"/incidents/{incident_id}/actions",
                               {"title": "Runbook", "owner": "the SRE team", "due": "2999-01-01"})
    assert (status, other["owner_contact"], other["overdue"]) == (201, None, False)
    status, closed = await call(client, f"/incidents/{incident_id}/actions/{item['id']}/close",
                                {"by": "Ada"})
    assert (status, closed["state"], closed["closed_by"]) == (200, "closed", "Ada")
    again = await call(client, f"/incidents/{incident_id}/actions/{item['id']}/close", {})
    assert again[0] == 409
    listed = await (await client.get(f"/incidents/{incident_id}/actions")).json()
    assert [(i["title"], i["state"]) for i in listed["items"]] == [
        ("Alert on SIP 503s", "closed"), ("Runbook", "open")]
    report = await (await client.get(f"/incidents/{incident_id}/report")).text()
    assert "\n- [x] Alert on SIP 503s (owner eng_a, due 2020-01-31, closed)" in report
    assert "\n- [ ] Runbook (owner the SRE team, due 2999-01-01, open)" in report


@pytest.mark.parametrize("case, path, body, status, error", [
    ("a bad due date", "/incidents/{id}/actions", {"title": "t", "owner": "o", "due": "soon"},
     400, "invalid_request"),
    ("an unknown incident", "/incidents/nope/actions",
     {"title": "t", "owner": "o", "due": "2026-12-01"}, 404, "not_found"),
    ("an unknown item", "/incidents/{id}/actions/nope/close", {}, 404, "not_found"),
    ("report done without a name", "/incidents/{id}/report/done", {}, 400, "invalid_request"),
    ("report done of an unknown incident", "/incidents/nope/report/done", {"by": "A"}, 404,
     "not_found"),
])
async def test_bad_follow_up_requests_are_4xx_json(make_client, case, path, body, status, error):
    client = await make_client()
    incident_id = await open_incident(client)
    got, answer = await call(client, path.replace("{id}", incident_id), body)
    assert (got, answer["error"]) == (status, error), case
    listing = await client.get("/incidents/nope/actions")
    assert listing.status == 404

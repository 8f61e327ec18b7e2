"""The Store contract, run unchanged on SQLite and on a throwaway PostgreSQL cluster."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from receiver.domain.followup import action_item_event
from receiver.domain.incident_query import Cursor, IncidentQuery
from receiver.domain.model import (
    ActionItem,
    Attempt,
    Changes,
    Event,
    Finish,
    GroupSnapshot,
    Incident,
    NewOutbox,
    Timer,
)
from receiver.store import make_store

pytestmark = pytest.mark.binaries


@pytest.fixture(params=["sqlite", "postgresql"])
async def store_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite://{tmp_path}/store.db"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
async def store(store_url):
    s = make_store(store_url)
    await s.open()
    yield s
    await s.close()


def incident(id="inc1", group="{}:{alertname=\"X\"}", priority="P1", state="triggered", at=100.0):
    return Incident(id=id, group_key=group, priority=priority, state=state, summary="drops high",
                    provider="twilio", opened_at=at, labels={"alertname": "X"},
                    alerts=[{"fingerprint": "f1"}], updated_at=at)


def row(id, inc="inc1", channel="slack", kind="trigger", due=100.0, batch="b1", fallback_of=None):
    return NewOutbox(id=id, incident_id=inc, channel=channel, kind=kind,
                     payload={"summary": "s", "priority": "P1"}, next_attempt_at=due, batch=batch,
                     fallback_of=fallback_of)


def opening(inc: Incident, *rows: NewOutbox, timers=()):
    def decide(snapshot: GroupSnapshot) -> Changes:
        return Changes(incident=inc, new_incident=snapshot.incident is None,
                       events=[Event(inc.id, inc.opened_at, "opened", "alertmanager", {"n": 1})],
                       outbox=list(rows), timers=list(timers))
    return decide


def attempt(id, outcome="sent", at=101.0, worker="w1", reason=None):
    return Attempt(id, at, worker, outcome, reason, None if reason is None else "boom")


async def test_reopening_a_store_applies_no_migration_twice_and_keeps_data(store, store_url):
    await store.apply_group("k1", "g", 100.0, opening(incident(group="g"), row("o1")))
    again = make_store(store_url)
    await again.open()
    try:
        assert (await again.get_incident("inc1")).summary == "drops high"
    finally:
        await again.close()


async def test_a_delivery_writes_incident_events_outbox_and_timers_together(store):
    timer = Timer("t1", "inc1", "escalate", 1000.0, {"level": "L2"})
    changes = await store.apply_group("k1", "g", 100.0, opening(
        incident(group="g"), row("o1"), row("o2", channel="email"), timers=[timer]))
    assert changes is not None and changes.incident.id == "inc1"
    got = await store.get_incident("inc1")
    assert (got.state, got.labels, got.alerts) == ("triggered", {"alertname": "X"},
                                                   [{"fingerprint": "f1"}])
    assert [e.kind for e in await store.timeline("inc1")] == ["opened"]
    assert [(o.id, o.state, o.attempts) for o in await store.outbox_for("inc1")] == [
        ("o1", "pending", 0), ("o2", "pending", 0)]
    assert await store.timers_for("inc1") == [timer]
    assert await store.pending_count() == 2
    assert await store.open_counts() == {"P1": 1}


async def test_the_same_delivery_key_twice_changes_nothing_the_second_time(store):
    calls = []

    def decide(snapshot):
        calls.append(snapshot)
        return opening(incident(group="g"), row("o1"))(snapshot)

    assert await store.apply_group("k1", "g", 100.0, decide) is not None
    assert await store.apply_group("k1", "g", 101.0, decide) is None
    assert len(calls) == 1
    assert len(await store.outbox_for("inc1")) == 1


async def test_a_failing_decision_rolls_everything_back_and_keeps_the_key_usable(store):
    def explode(snapshot):
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError):
        await store.apply_group("k1", "g", 100.0, explode)
    assert await store.get_incident("inc1") is None
    assert await store.apply_group("k1", "g", 100.0, opening(incident(group="g"))) is not None


async def test_the_snapshot_shows_the_groups_latest_incident_and_paged_channels(store):
    await store.apply_group("k1", "g", 100.0, opening(
        incident(group="g"), row("o1"), row("o2", channel="email", kind="resolve")))
    seen = []

    def look(snapshot):
        seen.append(snapshot)
        return Changes()

    await store.apply_group("k2", "g", 101.0, look)
    await store.apply_group("k3", "other", 101.0, look)
    assert seen[0].incident.id == "inc1" and seen[0].notified == frozenset({"slack"})
    assert seen[1].incident is None and seen[1].notified == frozenset()


async def test_updating_an_incident_keeps_one_row(store):
    inc = incident(group="g")
    await store.apply_group("k1", "g", 100.0, opening(inc))
    inc.state, inc.resolved_at, inc.priority = "resolved", 200.0, "P0"
    await store.apply_group("k2", "g", 200.0, lambda s: Changes(incident=inc))
    listed = await store.list_incidents()
    assert [(i.id, i.state, i.priority, i.resolved_at) for i in listed] == [
        ("inc1", "resolved", "P0", 200.0)]
    assert await store.list_incidents(state="triggered") == []
    assert await store.open_counts() == {}


async def test_claims_take_only_due_rows_and_exclude_other_workers_until_expiry(store):
    await store.apply_group("k1", "g", 100.0, opening(
        incident(group="g"), row("due"), row("later", channel="email", due=500.0)))
    first = await store.claim_outbox("w1", 100.0, 30.0, 10)
    assert [r.id for r in first] == ["due"] and first[0].claimed_by == "w1"
    assert await store.claim_outbox("w2", 110.0, 30.0, 10) == []
    # w1 died: after its claim expires, w2 takes the row, and w1 can no longer finish it
    taken = await store.claim_outbox("w2", 131.0, 30.0, 10)
    assert [r.id for r in taken] == ["due"]
    assert not await store.finish_outbox("due", "w1", 132.0, Finish("sent", attempt("due")))
    assert await store.finish_outbox("due", "w2", 132.0, Finish(
        "sent", attempt("due", worker="w2"), delivered_ref="ts-1"))
    assert [r.id for r in await store.claim_outbox("w2", 600.0, 30.0, 10)] == ["later"]


async def test_a_later_message_waits_for_the_earlier_one_on_the_same_channel(store):
    await store.apply_group("k1", "g", 100.0, opening(incident(group="g"), row("trig")))
    await store.apply_group("k2", "g", 101.0, lambda s: Changes(
        outbox=[row("res", kind="resolve", batch="b2", due=101.0)]))
    assert [r.id for r in await store.claim_outbox("w1", 102.0, 30.0, 10)] == ["trig"]
    await store.finish_outbox("trig", "w1", 103.0, Finish("sent", attempt("trig"),
                                                          delivered_ref="ts-1"))
    assert [r.id for r in await store.claim_outbox("w1", 104.0, 30.0, 10)] == ["res"]
    assert await store.first_ref("inc1", "slack") == "ts-1"
    assert await store.first_ref("inc1", "email") is None


async def test_finishing_records_attempts_retries_and_inserts_each_fallback_once(store):
    await store.apply_group("k1", "g", 100.0, opening(incident(group="g"), row("o1")))
    await store.claim_outbox("w1", 100.0, 30.0, 10)
    fallback = row("fb1", channel="email", batch="b1", fallback_of="o1")
    retry = Finish("pending", attempt("o1", "retry", reason="server_error"),
                   next_attempt_at=160.0, fallbacks=(fallback,),
                   events=(Event("inc1", 101.0, "fallback", "dispatcher", {"to": "email"}),))
    assert await store.finish_outbox("o1", "w1", 101.0, retry)
    rows = {r.id: r for r in await store.outbox_for("inc1")}
    assert rows["o1"].attempts == 1 and rows["o1"].next_attempt_at == 160.0
    assert rows["o1"].first_attempt_at == 101.0 and rows["o1"].last_error == "server_error: boom"
    assert rows["fb1"].fallback_of == "o1" and rows["fb1"].channel == "email"
    # a second fallback attempt for the same batch/channel/kind is ignored
    claimed = await store.claim_outbox("w1", 161.0, 30.0, 10)
    assert sorted(r.id for r in claimed) == ["fb1", "o1"]
    again = Finish("failed", attempt("o1", "failed", at=162.0, reason="rejected"),
                   fallbacks=(row("fb2", channel="email", batch="b1", fallback_of="o1"),))
    assert await store.finish_outbox("o1", "w1", 162.0, again)
    assert [r.id for r in await store.outbox_for("inc1")] == ["o1", "fb1"]
    assert [(a.outcome, a.reason) for a in await store.attempts_for("o1")] == [
        ("retry", "server_error"), ("failed", "rejected")]
    assert (await store.outbox_for("inc1"))[0].state == "failed"
    assert [e.kind for e in await store.timeline("inc1")] == ["opened", "fallback"]


async def test_concurrent_claimers_never_share_a_row(store, store_url):
    rows = [row(f"o{i}", inc="inc1", channel=f"c{i}") for i in range(40)]
    await store.apply_group("k1", "g", 100.0, opening(incident(group="g"), *rows))
    other = make_store(store_url)
    await other.open()
    try:
        results = await asyncio.gather(*(
            (store if i % 2 else other).claim_outbox(f"w{i}", 101.0, 30.0, 7) for i in range(8)))
    finally:
        await other.close()
    claimed = [r.id for batch in results for r in batch]
    assert len(claimed) == 40 and len(set(claimed)) == 40


async def test_concurrent_deliveries_of_one_key_apply_once(store, store_url):
    other = make_store(store_url)
    await other.open()
    try:
        results = await asyncio.gather(*(
            (store if i % 2 else other).apply_group(
                "same", "g", 100.0,
                opening(incident(id=f"inc{i}", group="g"), row(f"o{i}", inc=f"inc{i}")))
            for i in range(6)))
    finally:
        await other.close()
    assert sum(r is not None for r in results) == 1
    assert len(await store.list_incidents()) == 1


async def test_an_incident_changes_by_id_atomically_and_a_missing_one_is_none(store):
    await store.apply_group("k1", "g", 100.0, opening(
        incident(group="g"), row("o1"), timers=[Timer("t1", "inc1", "escalate", 900.0),
                                                Timer("t2", "inc1", "sla", 1800.0)]))

    def acknowledge(snapshot):
        inc = snapshot.incident
        inc.state, inc.acked_at, inc.acked_by = "acknowledged", 200.0, "alice"
        return Changes(incident=inc, events=[Event(inc.id, 200.0, "acknowledged", "alice")],
                       cancel_timers=("escalate",))

    changes = await store.apply_incident("inc1", 200.0, acknowledge)
    assert changes.incident.acked_by == "alice"
    got = await store.get_incident("inc1")
    assert (got.state, got.acked_at, got.acked_by) == ("acknowledged", 200.0, "alice")
    assert [e.kind for e in await store.timeline("inc1")] == ["opened", "acknowledged"]
    assert [t.id for t in await store.claim_timers("w1", 5000.0, 30.0, 10)] == ["t2"]
    assert await store.apply_incident("nope", 200.0, acknowledge) is None


async def test_timers_are_claimed_once_retaken_after_expiry_and_fired_with_their_changes(store):
    await store.apply_group("k1", "g", 100.0, opening(
        incident(group="g"), timers=[Timer("t1", "inc1", "escalate", 900.0, {"level": "L2"})]))
    assert await store.claim_timers("w1", 899.0, 30.0, 10) == []
    claimed = await store.claim_timers("w1", 900.0, 30.0, 10)
    assert [(t.id, t.payload) for t in claimed] == [("t1", {"level": "L2"})]
    assert await store.claim_timers("w2", 910.0, 30.0, 10) == []
    assert [t.id for t in await store.claim_timers("w2", 931.0, 30.0, 10)] == ["t1"]
    page = Changes(incident=None, outbox=[row("esc", kind="escalate", batch="t1")],
                   events=[Event("inc1", 932.0, "escalated", "escalation", {"level": "L2"})])
    assert not await store.finish_timer("t1", "w1", 932.0, "fired", page)   # claim lost
    assert await store.finish_timer("t1", "w2", 932.0, "fired", page)
    assert await store.claim_timers("w3", 5000.0, 30.0, 10) == []
    assert [r.kind for r in await store.outbox_for("inc1")] == ["escalate"]
    assert [e.kind for e in await store.timeline("inc1")] == ["opened", "escalated"]


async def test_a_holder_renews_only_its_own_claims_and_an_unfinished_one_is_taken_by_name(store):
    await store.apply_group("k1", "g", 100.0, opening(
        incident(group="g"), row("a"), row("b", channel="email"),
        timers=[Timer("t1", "inc1", "escalation", 100.0)]))
    claimed = await store.claim_outbox("w1", 100.0, 15.0, 10)
    assert [(r.id, r.taken_over_from) for r in claimed] == [("a", None), ("b", None)]
    assert await store.renew_outbox_claims("w1", ["a", "nope"], 130.0) == 1   # w1 lost b
    assert await store.renew_outbox_claims("w2", ["b"], 130.0) == 0           # not w2's
    assert await store.renew_outbox_claims("w1", [], 130.0) == 0
    taken = await store.claim_outbox("w2", 116.0, 15.0, 10)
    assert [(r.id, r.taken_over_from) for r in taken] == [("b", "w1")]       # a: until 130
    assert await store.renew_outbox_claims("w1", ["b"], 140.0) == 0
    # a recorded attempt clears the claim: the retry is a fresh claim, not a takeover
    assert await store.finish_outbox("b", "w2", 117.0, Finish(
        "pending", attempt("b", "retry", reason="server_error"), next_attempt_at=118.0))
    assert [(r.id, r.taken_over_from) for r in await store.claim_outbox(
        "w2", 129.0, 15.0, 10)] == [("b", None)]
    # timers alike
    assert [t.id for t in await store.claim_timers("w1", 100.0, 15.0, 10)] == ["t1"]
    assert await store.renew_timer_claims("w2", ["t1"], 150.0) == 0
    assert await store.renew_timer_claims("w1", ["t1"], 150.0) == 1
    assert await store.claim_timers("w2", 149.0, 15.0, 10) == []
    assert [t.id for t in await store.claim_timers("w2", 150.0, 15.0, 10)] == ["t1"]
    assert await store.renew_timer_claims("w1", ["t1"], 190.0) == 0


async def test_the_waiting_reads_say_since_when_the_oldest_due_row_and_timer_wait(store):
    assert await store.outbox_due_since(100.0) is None
    assert await store.timers_due_since(100.0, "escalation") is None
    await store.apply_group("k1", "g", 100.0, opening(
        incident(group="g"), call("ada", "ada"), row("later", channel="email", due=500.0),
        timers=[Timer("t1", "inc1", "escalation", 200.0), Timer("t2", "inc1", "x", 150.0)]))
    assert (await store.outbox_due_since(300.0), await store.outbox_due_since(99.0)) == (
        100.0, None)
    assert await store.timers_due_since(300.0, "escalation") == 200.0
    assert await store.timers_due_since(199.0, "escalation") is None
    await store.claim_outbox("w1", 300.0, 15.0, 10)                  # a row backing off
    await store.finish_outbox("ada", "w1", 301.0, Finish(            # waits since its first
        "pending", attempt("ada", "retry", at=301.0, reason="timeout"), next_attempt_at=400.0))
    assert await store.outbox_due_since(350.0) == 301.0
    await store.claim_outbox("w1", 400.0, 15.0, 10)
    assert await store.mark_awaiting("ada", "w1", 400.0, 460.0)      # ringing, still waiting
    assert await store.outbox_due_since(450.0) == 301.0
    await store.settle_page("page-ada", 480.0, lambda r: Finish("sent", attempt("ada")))
    assert await store.outbox_due_since(499.0) is None               # "later": not yet due
    assert await store.outbox_due_since(600.0) == 500.0
    await store.claim_timers("w1", 300.0, 15.0, 10)
    assert await store.finish_timer("t1", "w1", 300.0, "fired")
    assert await store.timers_due_since(300.0, "escalation") is None


async def test_old_delivery_keys_are_pruned_and_recent_ones_kept(store):
    await store.apply_group("old", "g", 100.0, opening(incident(group="g")))
    await store.apply_group("new", "g", 500.0, lambda s: Changes())
    assert await store.prune_deliveries(300.0) == 1
    assert await store.apply_group("new", "g", 600.0, lambda s: Changes()) is None
    assert await store.apply_group("old", "g", 600.0, lambda s: Changes()) is not None


def call(id, person, due=100.0, batch="b1"):
    """A phone row paging ``person``: its own lane and page reference."""
    return NewOutbox(id=id, incident_id="inc1", channel="phone", kind="trigger",
                     payload={"summary": "s", "priority": "P0"}, next_attempt_at=due,
                     batch=batch, page=f"page-{id}", lane=person)


async def test_each_person_has_a_row_and_a_lane_and_lanes_do_not_wait_for_each_other(store):
    await store.apply_group("k1", "g", 100.0, opening(
        incident(group="g"), call("ada", "ada"), call("bob", "bob")))
    await store.apply_group("k2", "g", 101.0, lambda s: Changes(
        outbox=[call("ada2", "ada", due=101.0, batch="b2")]))
    rows = {r.id: r for r in await store.outbox_for("inc1")}
    assert (rows["ada"].lane, rows["ada"].page, rows["bob"].lane) == ("ada", "page-ada", "bob")
    claimed = await store.claim_outbox("w1", 102.0, 30.0, 10)
    assert sorted(r.id for r in claimed) == ["ada", "bob"]      # ada2 waits behind ada
    assert await store.mark_awaiting("ada", "w1", 102.0, 400.0)
    assert await store.finish_outbox("ada", "w1", 103.0, Finish(
        "awaiting", attempt("ada", "dialed"), next_attempt_at=400.0, delivered_ref="CA1",
        counts_attempt=False))
    assert await store.claim_outbox("w1", 104.0, 30.0, 10) == []  # still ringing ada
    row_ = await store.page_row("page-ada")
    assert (row_.state, row_.attempts, row_.delivered_ref, row_.claimed_by) == (
        "awaiting", 1, "CA1", None)


async def test_an_awaiting_call_is_settled_by_its_page_or_claimed_after_its_deadline(store):
    await store.apply_group("k1", "g", 100.0, opening(incident(group="g"), call("ada", "ada")))
    await store.claim_outbox("w1", 100.0, 30.0, 10)
    assert await store.mark_awaiting("ada", "w1", 100.0, 400.0)
    assert not await store.mark_awaiting("ada", "w1", 100.0, 400.0)   # not pending any more
    await store.finish_outbox("ada", "w1", 101.0, Finish(
        "awaiting", attempt("ada", "dialed"), next_attempt_at=400.0, counts_attempt=False))
    assert await store.claim_unanswered("w1", 399.0, 30.0, 10) == []
    retry = Finish("pending", attempt("ada", "unanswered", at=150.0, reason="no-answer"),
                   next_attempt_at=270.0,
                   events=(Event("inc1", 150.0, "page_unanswered", "provider", {"n": 1}),))
    seen: list[str] = []

    def decide(row):
        seen.append(row.state)
        return retry if row.state == "awaiting" else None

    row_, finish = await store.settle_page("page-ada", 150.0, decide)
    assert (row_.id, finish) == ("ada", retry)
    assert await store.settle_page("page-ada", 151.0, decide) == (
        await store.page_row("page-ada"), None)                      # decide saw 'pending'
    assert await store.settle_page("no-such-page", 151.0, decide) == (None, None)
    after = await store.page_row("page-ada")
    assert (after.state, after.attempts, after.next_attempt_at, after.last_error) == (
        "pending", 1, 270.0, "no-answer: boom")
    assert seen == ["awaiting", "pending"]
    assert [a.outcome for a in await store.attempts_for("ada")] == ["dialed", "unanswered"]
    assert [e.kind for e in await store.timeline("inc1")] == ["opened", "page_unanswered"]
    # the retry: dialed again, and this time no outcome comes before the deadline
    await store.claim_outbox("w1", 270.0, 30.0, 10)
    assert await store.mark_awaiting("ada", "w1", 270.0, 570.0)
    await store.finish_outbox("ada", "w1", 271.0, Finish(
        "awaiting", attempt("ada", "dialed"), next_attempt_at=570.0, counts_attempt=False))
    assert [r.id for r in await store.claim_unanswered("w2", 570.0, 30.0, 10)] == ["ada"]
    assert await store.claim_unanswered("w3", 571.0, 30.0, 10) == []
    assert (await store.page_row("page-ada")).attempts == 2


async def test_a_provider_callback_id_acts_once_and_old_ids_are_pruned(store):
    assert await store.record_callback("telnyx", "ev-1", 100.0)
    assert not await store.record_callback("telnyx", "ev-1", 101.0)
    assert await store.record_callback("twilio", "ev-1", 101.0)      # another provider's id
    await store.prune_deliveries(200.0)
    assert await store.record_callback("telnyx", "ev-1", 300.0)


async def test_the_latest_heartbeat_is_kept_whichever_receiver_records_it_last(store):
    assert await store.last_heartbeat("CallwatchWatchdog") is None
    await store.record_heartbeat("CallwatchWatchdog", 200.5)
    await store.record_heartbeat("CallwatchWatchdog", 150.0)   # a slower receiver's, older
    await store.record_heartbeat("Other", 900.0)
    assert await store.last_heartbeat("CallwatchWatchdog") == 200.5
    await store.record_heartbeat("CallwatchWatchdog", 260.25)
    assert await store.last_heartbeat("CallwatchWatchdog") == 260.25


async def test_latest_incident_is_the_groups_last_opened(store):
    def new(inc: Incident):
        return lambda snapshot: Changes(incident=inc, new_incident=True)

    assert await store.latest_incident("g") is None
    await store.apply_group("k1", "g", 100.0, new(incident("inc1", group="g", at=100.0)))
    await store.apply_group("k2", "g", 200.0, new(incident("inc2", group="g", at=200.0)))
    await store.apply_group("k3", "h", 300.0, new(incident("inc3", group="h", at=300.0)))
    assert (await store.latest_incident("g")).id == "inc2"


def notice(id, contact="ada", start=1000.0):
    """A handoff notice's row: about no incident (incident_id "")."""
    return NewOutbox(id=id, incident_id="", channel="slack", kind="handoff",
                     payload={"summary": "You are on call", "text": "You are on call"},
                     next_attempt_at=1000.0, batch=f"handoff:primary:{start!r}:{contact}")


async def test_a_handoff_is_claimed_once_with_its_notice_row_whichever_receiver_comes_second(
        store, store_url):
    other = make_store(store_url)
    await other.open()
    try:
        results = await asyncio.gather(*(
            (store if i % 2 else other).claim_handoff("primary", 1000.0, "ada", 1000.5,
                                                      notice(f"n{i}"))
            for i in range(6)))
    finally:
        await other.close()
    assert sum(results) == 1
    [claimed] = await store.claim_outbox("w1", 1001.0, 30.0, 10)
    assert (claimed.incident_id, claimed.kind, claimed.lane, claimed.payload["text"]) == (
        "", "handoff", "", "You are on call")
    assert not await store.claim_handoff("primary", 1000.0, "ada", 1002.0, notice("again"))
    assert await store.claim_outbox("w2", 1003.0, 30.0, 10) == []     # no second row
    assert await store.pending_count() == 1                            # only the one claimed


async def test_another_shift_start_contact_or_schedule_is_another_handoff(store):
    assert await store.claim_handoff("primary", 1000.0, "ada", 1000.0, notice("n1"))
    assert await store.claim_handoff("primary", 2000.0, "ada", 2000.0, notice("n2", start=2000.0))
    assert await store.claim_handoff("primary", 1000.0, "bob", 1000.0, notice("n3", "bob"))
    assert await store.claim_handoff("nights", 1000.0, "ada", 1000.0, None)
    assert await store.pending_count() == 3


async def test_an_unreachable_handoff_is_claimed_without_a_row(store):
    assert await store.claim_handoff("primary", 1000.0, "pat", 1000.0, None)
    assert not await store.claim_handoff("primary", 1000.0, "pat", 1001.0, None)
    assert await store.pending_count() == 0


async def test_a_notice_about_no_incident_is_sent_and_keeps_no_timeline_event(store):
    assert await store.claim_handoff("primary", 1000.0, "ada", 1000.0, notice("n1"))
    assert [r.id for r in await store.claim_outbox("w1", 1001.0, 30.0, 10)] == ["n1"]
    sent = Event("", 1002.0, "notified", "dispatcher", {"channel": "slack"})
    assert await store.finish_outbox("n1", "w1", 1002.0, Finish(
        "sent", attempt("n1", at=1002.0), delivered_ref="ts-1", events=(sent,)))
    assert [(a.outcome, a.at) for a in await store.attempts_for("n1")] == [("sent", 1002.0)]
    assert await store.pending_count() == 0
    assert await store.first_ref("", "slack") is None      # no incident's thread to join
    assert await store.open_counts() == {}


async def test_old_handoff_claims_are_pruned_and_recent_ones_kept(store):
    assert await store.claim_handoff("primary", 100.0, "ada", 100.0, None)
    assert await store.claim_handoff("primary", 500.0, "bob", 500.0, None)
    assert await store.prune_handoffs(300.0) == 1
    assert not await store.claim_handoff("primary", 500.0, "bob", 600.0, None)
    assert await store.claim_handoff("primary", 100.0, "ada", 600.0, None)


# --- GET /incidents: pages, a cursor and filters ----------------------------------------------

async def _open_many(store, specs):
    """One incident per (id, opened_at, state, priority, provider, alertname)."""
    for n, (id_, at, state, priority, provider, alertname) in enumerate(specs):
        inc = Incident(id=id_, group_key=f"g{n}", priority=priority, state=state, summary="s",
                       provider=provider, opened_at=at, labels={"alertname": alertname},
                       updated_at=at)
        await store.apply_group(f"k{n}", f"g{n}", at, opening(inc))


async def _walk(store, **filters):
    """Every page of ``filters`` at two incidents a page: the ids in order, and the page count."""
    ids, before, pages = [], None, 0
    while True:
        page = await store.page_incidents(IncidentQuery(before=before, limit=2, **filters))
        ids += [i.id for i in page.incidents]
        pages += 1
        if page.next is None:
            return ids, pages
        assert page.next == Cursor(page.incidents[-1].opened_at, page.incidents[-1].id)
        before = page.next


LISTED = [("a", 100.0, "resolved", "P1", "twilio", "Drops"),
          ("b", 200.0, "triggered", "P0", "telnyx", "Drops"),
          ("c", 200.0, "acknowledged", "P1", "twilio", "Latency"),   # ties b: id decides
          ("d", 300.5, "resolved", "P1", None, "Drops"),
          ("e", 400.0, "triggered", "P1", "twilio", "Drops"),
          ("f", 200.0, "resolved", "P2", "twilio", "Drops")]


async def test_pages_walk_every_incident_once_newest_first_ties_by_id(store):
    await _open_many(store, LISTED)
    assert await _walk(store) == (["e", "d", "f", "c", "b", "a"], 3)
    one = await store.page_incidents(IncidentQuery(limit=6))
    assert [i.id for i in one.incidents] == ["e", "d", "f", "c", "b", "a"] and one.next is None
    assert [i.id for i in await store.list_incidents(limit=2)] == ["e", "d"]
    assert (await store.page_incidents(IncidentQuery())).next is None


async def test_a_page_starts_strictly_after_its_cursor_and_ignores_newer_incidents(store):
    await _open_many(store, LISTED)
    page = await store.page_incidents(IncidentQuery(before=Cursor(200.0, "f"), limit=10))
    assert [i.id for i in page.incidents] == ["c", "b", "a"]
    for before, until, expected in ((Cursor(400.0, "e"), 200.0, ["a"]),         # until tighter
                                    (Cursor(200.0, "c"), 300.5, ["b", "a"])):    # cursor tighter
        page = await store.page_incidents(IncidentQuery(before=before, until=until))
        assert [i.id for i in page.incidents] == expected
    # an incident opened while a client walks is newer than every cursor: not in its walk
    await store.apply_group("late", "late", 500.0, opening(incident(id="y", group="late",
                                                                    at=500.0)))
    page = await store.page_incidents(IncidentQuery(before=Cursor(200.0, "c"), limit=10))
    assert [i.id for i in page.incidents] == ["b", "a"]
    assert [i.id for i in (await store.page_incidents(IncidentQuery(limit=1))).incidents] == [
        "y"]


@pytest.mark.parametrize(("filters", "expected"), [
    ({"state": "resolved"}, ["d", "f", "a"]),
    ({"priority": "P1"}, ["e", "d", "c", "a"]),
    ({"provider": "twilio"}, ["e", "f", "c", "a"]),
    ({"alertname": "Drops"}, ["e", "d", "f", "b", "a"]),
    ({"alertname": "Nope"}, []),
    ({"since": 200.0}, ["e", "d", "f", "c", "b"]),
    ({"until": 300.5}, ["f", "c", "b", "a"]),
    ({"since": 200.0, "until": 300.5}, ["f", "c", "b"]),
    ({"state": "resolved", "priority": "P1", "provider": "twilio", "alertname": "Drops",
      "since": 100.0, "until": 101.0}, ["a"]),
    ({"priority": "P1", "alertname": "Drops"}, ["e", "d", "a"]),
])
async def test_filters_combine_and_page_like_the_whole_list(store, filters, expected):
    await _open_many(store, LISTED)
    assert (await _walk(store, **filters))[0] == expected


async def test_action_items_are_added_with_their_event_listed_and_closed_once(store):
    await store.apply_group("k1", "g1", 100.0, opening(incident()))
    first = ActionItem("a1", "inc1", "Alert on 503s", "eng_a", "2026-12-01", 101.0, "Ada")
    later = ActionItem("a2", "inc1", "Runbook", "team", "2026-11-01", 102.0, "Bo")
    orphan = replace(first, id="a3", incident_id="nope")
    assert await store.add_action_item(first, action_item_event(first, False, "Ada", 101.0))
    assert await store.add_action_item(later, action_item_event(later, False, "Bo", 102.0))
    assert not await store.add_action_item(orphan, action_item_event(orphan, False, "A", 103.0))
    assert [i.id for i in await store.action_items("inc1")] == ["a1", "a2"]
    assert [i.id for i in await store.open_action_items()] == ["a2", "a1"]  # earliest due first
    item, closed = await store.close_action_item("inc1", "a1", "Cy", 110.0)
    assert closed and (item.closed_at, item.closed_by) == (110.0, "Cy")
    assert await store.close_action_item("inc1", "a1", "Dee", 111.0) == (item, False)
    assert await store.close_action_item("other", "a2", "Dee", 111.0) == (None, False)
    assert [i.id for i in await store.open_action_items()] == ["a2"]
    kinds = [e.kind for e in await store.timeline("inc1")]
    assert kinds.count("action_item_added") == 2 and kinds.count("action_item_closed") == 1


async def test_the_review_reads_a_windows_events_by_kind_and_counts_its_outbox_rows(store):
    await store.apply_group("k1", "g1", 100.0, opening(incident(at=100.0), row("r1"),
                                                        row("r2", channel="email", batch="b2")))
    late = incident(id="inc2", group="g2", at=500.0)
    await store.apply_group("k2", "g2", 500.0, opening(late, row("r3", inc="inc2", batch="b3")))
    await store.apply_incident("inc1", 120.0, lambda snap: Changes(events=[
        Event("inc1", 120.0, "reopened", "alertmanager"),
        Event("inc1", 130.0, "sla_breached", "escalation", {"key": "sla"})]))
    found = await store.events_of_opened(0.0, 200.0, ("sla_breached", "reopened"))
    assert [(e.incident_id, e.kind, e.detail) for e in found] == [
        ("inc1", "reopened", {}), ("inc1", "sla_breached", {"key": "sla"})]
    assert await store.events_of_opened(200.0, 600.0, ("reopened",)) == []
    assert "r1" in [r.id for r in await store.claim_outbox("w1", 1000.0, 30, 10)]
    assert await store.finish_outbox("r1", "w1", 1000.0, Finish("failed", attempt("r1")))
    assert await store.outbox_counts(0.0, 200.0) == [("inc1", "email", "pending", 1),
                                                     ("inc1", "slack", "failed", 1)]
    assert await store.outbox_counts(200.0, 600.0) == [("inc2", "slack", "pending", 1)]

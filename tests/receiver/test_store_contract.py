"""The Store contract, run unchanged on SQLite and on a throwaway PostgreSQL cluster."""

from __future__ import annotations

import asyncio

import pytest

from receiver.domain.model import (
    Changes,
    Event,
    Finish,
    Incident,
    NewOutbox,
    Timer,
)
from receiver.store import make_store
from tests.receiver.store_records import attempt, incident, opening, row

pytestmark = pytest.mark.binaries


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

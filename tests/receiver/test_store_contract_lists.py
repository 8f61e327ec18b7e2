"""The Store contract, continued, run unchanged on SQLite and on PostgreSQL: handoff claims,
incident pages and filters, action items, and the monthly review's reads."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from receiver.domain.followup import action_item_event
from receiver.domain.incident_query import Cursor, IncidentQuery
from receiver.domain.model import (
    ActionItem,
    Changes,
    Event,
    Finish,
    Incident,
    NewOutbox,
)
from receiver.store import make_store
from tests.receiver.store_records import attempt, incident, opening, row

pytestmark = pytest.mark.binaries


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

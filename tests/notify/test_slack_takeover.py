"""A Slack page taken over from a receiver that died mid-send is looked up before it is posted:
found by its metadata, it is not posted twice. The real AsyncWebClient against the simulator;
the first notifier plays the dead receiver, a second one the receiver that takes over."""

from __future__ import annotations

import asyncio
import dataclasses
import time

from receiver.notify import slack as slack_module
from receiver.notify.slack import PAGE_EVENT, SlackNotifier, SlackSettings
from tests.notify.test_slack import note


def notifier_for(sim, channel: str = "#incidents") -> SlackNotifier:
    env = sim.env()
    return SlackNotifier(SlackSettings(env["SLACK_BOT_TOKEN"], channel,
                                       base_url=env["SLACK_BASE_URL"]))


def taken_over(kind: str = "trigger", ident: str | None = None, **fields):
    """A notification as the dispatcher hands over a taken-over row."""
    n = note(kind, **fields)
    return dataclasses.replace(n, id=ident or n.id, maybe_sent_since=time.time() - 5)


async def posted_by_the_dead_one(sim, *notes):
    dead = notifier_for(sim)
    refs = [(await dead.send(n)).ref for n in notes]
    await dead.close()
    return refs, sim.slack.messages[0]["channel"]


def history_reads(sim) -> int:
    return sum(r.path == "/api/conversations.history" for r in sim.requests("slack"))


async def test_every_message_names_its_outbox_row_in_its_metadata(sim):
    notifier = notifier_for(sim)
    await notifier.send(note("trigger"))
    await notifier.close()
    assert sim.slack.messages[0]["metadata"] == {"event_type": PAGE_EVENT,
                                                 "event_payload": {"page": "n-trigger"}}


async def test_a_taken_over_page_already_posted_is_found_and_not_posted_again(sim):
    [ts], channel = await posted_by_the_dead_one(sim, note("trigger"))
    survivor = notifier_for(sim, channel=channel)
    delivery = await survivor.send(taken_over())
    assert (delivery.ref, delivery.found, delivery.via) == (ts, True, "slack")
    assert len(sim.slack.messages) == 1
    # a taken-over row its first holder never posted is posted, once
    fresh = await survivor.send(taken_over(ident="never-posted"))
    await survivor.close()
    assert not fresh.found and len(sim.slack.messages) == 2
    assert sim.slack.messages[1]["metadata"]["event_payload"] == {"page": "never-posted"}


async def test_a_taken_over_reply_is_looked_up_in_its_thread(sim):
    [first, reply], channel = await _trigger_and_reply(sim)
    survivor = notifier_for(sim, channel=channel)
    delivery = await survivor.send(taken_over("resolve", thread_ref=first))
    await survivor.close()
    assert (delivery.ref, delivery.found) == (reply, True)
    assert len(sim.slack.messages) == 2
    assert any(r.path == "/api/conversations.replies" for r in sim.requests("slack"))


async def _trigger_and_reply(sim):
    dead = notifier_for(sim)
    first = (await dead.send(note("trigger"))).ref
    reply = (await dead.send(note("resolve", thread_ref=first))).ref
    await dead.close()
    return [first, reply], sim.slack.messages[0]["channel"]


async def test_one_history_read_serves_a_burst_of_takeovers(sim):
    dead_notes = [dataclasses.replace(note("trigger"), id=f"row-{i}") for i in range(6)]
    refs, channel = await posted_by_the_dead_one(sim, *dead_notes)
    survivor = notifier_for(sim, channel=channel)
    deliveries = await asyncio.gather(*(survivor.send(taken_over(ident=f"row-{i}"))
                                        for i in range(6)))
    await survivor.close()
    assert [d.ref for d in deliveries] == refs and all(d.found for d in deliveries)
    assert len(sim.slack.messages) == 6 and history_reads(sim) == 1


async def test_when_it_cannot_look_the_page_is_posted_a_duplicate_beats_a_lost_page(sim):
    [ts], channel = await posted_by_the_dead_one(sim, note("trigger"))
    survivor = notifier_for(sim, channel=channel)
    sim.slack.errors.append("missing_scope")          # no channels:history on the token
    delivery = await survivor.send(taken_over())
    assert not delivery.found and delivery.ref != ts
    await survivor.close()
    by_name = notifier_for(sim)                          # "#incidents", nothing posted yet:
    delivery = await by_name.send(taken_over())          # no channel id to read history by
    await by_name.close()
    assert not delivery.found and len(sim.slack.messages) == 3


async def test_a_look_up_slower_than_its_bound_gives_up_and_posts(sim, monkeypatch):
    _, channel = await posted_by_the_dead_one(sim, note("trigger"))
    monkeypatch.setattr(slack_module, "LOOKUP_SECONDS", 0.2)
    sim.faults.set_latency("slack", 0.5)               # a rate-limited read, say
    survivor = notifier_for(sim, channel=channel)
    delivery = await survivor.send(taken_over())
    await survivor.close()
    assert not delivery.found and len(sim.slack.messages) == 2

"""A status page incident is created once even when the answer to its create is lost.

Statuspage takes no idempotency key. These tests cut the create's answer off (a timeout, a
gateway 504 after Statuspage acted) against the simulator's stand-in and check that the retry
finds the incident instead of making customers read about the outage twice.
"""

from __future__ import annotations

import dataclasses
import time

import pytest

from receiver.domain.model import OutboxRow
from receiver.domain.outbox import maybe_sent_since
from receiver.notify.base import Notification, NotifyError
from receiver.notify.statuspage import LOOKBACK_MARGIN, StatuspageNotifier, StatuspageSettings
from tests.receiver.test_status_page import creates, declare, start, until

NOTE = Notification(id="row-1", incident_id="inc-1", channel="status_page", kind="trigger",
                    priority="P1", summary="Service alert: calls failing",
                    text="Outbound calls to the US fail.",
                    details={"status": "investigating", "impact": "major",
                             "components": "cmp-twilio"})


def notifier(sim, timeout: float = 10.0) -> StatuspageNotifier:
    env = sim.env()
    return StatuspageNotifier(StatuspageSettings(
        env["STATUSPAGE_API_KEY"], env["STATUSPAGE_PAGE_ID"],
        base_url=env["STATUSPAGE_API_URL"], timeout=timeout))


async def test_a_create_that_timed_out_after_statuspage_made_it_is_found_not_made_again():
    from simulator import Simulator

    async with Simulator(traffic=False) as sim:
        slow = notifier(sim, timeout=0.2)
        began = time.time()
        sim.faults.set_latency("statuspage", 0.6)     # the answer comes after we gave up
        try:
            with pytest.raises(NotifyError) as cut_off:
                await slow.send(NOTE)
            assert (cut_off.value.reason, cut_off.value.retryable) == ("timeout", True)
            await until(lambda: len(sim.state.statuspage_incidents) == 1)
            sim.faults.set_latency("statuspage", 0.0)
            delivery = await slow.send(dataclasses.replace(NOTE, maybe_sent_since=began))
        finally:
            await slow.close()
        (made,) = sim.state.statuspage_incidents
        assert (delivery.ref, delivery.found) == (made, True)
        assert len(creates(sim)) == 1
        assert [r.path.rsplit("/", 1)[-1] for r in sim.requests("statuspage")
                if r.method == "GET"] == ["unresolved"]


@pytest.mark.parametrize("other", [
    pytest.param({"name": "Service alert: calls failing", "body": "Another outage.",
                  "age": 0.0}, id="same name, another text"),
    pytest.param({"name": "Scheduled maintenance", "body": "Outbound calls to the US fail.",
                  "age": 0.0}, id="another name, same text"),
    pytest.param({"name": "Service alert: calls failing", "body": "Outbound calls to the US fail.",
                  "age": LOOKBACK_MARGIN + 600}, id="same words, created before the first try"),
])
async def test_an_unresolved_incident_that_is_not_this_create_is_left_alone(other):
    from simulator import Simulator

    async with Simulator(traffic=False) as sim:
        page = notifier(sim)
        sent_at = time.time()
        try:
            sim.state.clock = lambda: sent_at - other["age"]
            before = await page.send(dataclasses.replace(NOTE, summary=other["name"],
                                                         text=other["body"]))
            sim.state.clock = time.time
            delivery = await page.send(dataclasses.replace(NOTE, maybe_sent_since=sent_at))
        finally:
            await page.close()
        assert delivery.found is False and delivery.ref != before.ref
        assert len(sim.state.statuspage_incidents) == 2


async def test_when_the_page_cannot_be_read_the_create_waits_rather_than_risk_a_second():
    from simulator import Simulator

    async with Simulator(traffic=False) as sim:
        page = notifier(sim)
        sim.fail("statuspage", 503)
        try:
            with pytest.raises(NotifyError) as unread:
                await page.send(dataclasses.replace(NOTE, maybe_sent_since=time.time()))
        finally:
            await page.close()
        assert (unread.value.reason, unread.value.retryable) == ("server_error", True)
        assert "unresolved incidents" in unread.value.detail
        assert creates(sim) == [] and sim.state.statuspage_incidents == {}


async def test_a_504_after_statuspage_created_the_incident_leaves_one_incident_end_to_end(
        aiohttp_client, policy, receiver_env):
    from simulator import Simulator

    async with Simulator(traffic=False) as sim:
        sim.fail("statuspage", 504, after_serving=True)   # made, but its answer is lost
        client = await start(aiohttp_client, policy, sim, receiver_env, "auto")
        incident = await declare(client, "P1", "twilio")

        def delivered() -> bool:
            return any(e.method == "GET" for e in sim.requests("statuspage"))

        await until(delivered)
        assert (await client.post(f"/incidents/{incident}/resolve",
                                  json={"by": "Ada"})).status == 200
        (page,) = sim.state.statuspage_incidents.values()
        await until(lambda: page["status"] == "resolved")
        assert len(creates(sim)) == 1
        detail = await (await client.get(f"/incidents/{incident}")).json()
        first = next(n for n in detail["notifications"] if n["channel"] == "status_page")
        assert first["attempts"] == 2
        sent = [e["detail"] for e in detail["timeline"] if e["kind"] == "notified"
                and e["detail"]["channel"] == "status_page"]
        assert [(d["kind"], d["ref"], d.get("found", False)) for d in sent] == \
            [("trigger", page["id"], True), ("resolve", page["id"], False)]


def stored(**changes) -> OutboxRow:
    base = OutboxRow(id="r1", seq=1, incident_id="inc1", channel="status_page", kind="trigger",
                     payload={}, state="pending", attempts=0, next_attempt_at=500.0,
                     created_at=90.0, batch="b1")
    return dataclasses.replace(base, **changes)


@pytest.mark.parametrize("row, expected", [
    pytest.param(stored(), None, id="a first attempt was never sent before"),
    pytest.param(stored(taken_over_from="w1", attempts=1, first_attempt_at=100.0), 500.0,
                 id="a taken-over row may have been sent since it was claimed"),
    pytest.param(stored(attempts=1, first_attempt_at=100.0, last_error="timeout: slow"), 100.0,
                 id="a retry after a timeout may have been sent since the first attempt"),
    pytest.param(stored(attempts=2, first_attempt_at=100.0, last_error="server_error: 504"),
                 100.0, id="a retry after a 5xx may have been sent since the first attempt"),
    pytest.param(stored(attempts=1, first_attempt_at=100.0, last_error="rate_limited: 429"),
                 None, id="a retry after a rate limit was refused, so never sent"),
])
def test_maybe_sent_since(row, expected):
    assert maybe_sent_since(row) == expected

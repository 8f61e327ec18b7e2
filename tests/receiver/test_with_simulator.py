"""The deployment path: the receiver with the real notifiers (build_notifiers from the
simulator's environment, the real SDKs) paging the simulated PagerDuty, Slack and phone
providers, through a Slack outage."""

from __future__ import annotations

import asyncio
import copy
import json
import time
from pathlib import Path

from prometheus_client import CollectorRegistry

from callwatch.web import create_app
from receiver.app import setup_receiver
from tests.conftest import on_call
from tests.receiver.conftest import NO_HANDOFF_NOTICES, TOKEN, auth

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def resolved(body: dict) -> dict:
    body = copy.deepcopy(body)
    body["status"] = "resolved"
    for item in body["alerts"]:
        item["status"], item["endsAt"] = "resolved", "2026-11-27T04:00:00Z"
    return body


async def until(predicate, timeout=20.0):
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the simulator did not receive the expected pages in time")


async def test_a_p0_pages_through_an_outage_once_and_resolves_in_thread(aiohttp_client, policy,
                                                                       tmp_path):
    from simulator import Simulator

    async with Simulator(traffic=False) as sim:
        sim.fail("slack", 503, count=3)                   # a Slack outage
        env = {**sim.env(), "CALLWATCH_STORE_URL": f"sqlite://{tmp_path}/r.db",
               "CALLWATCH_RECEIVER_TOKEN": TOKEN, "CALLWATCH_OUTBOX_POLL_SECONDS": "0.05",
               "CALLWATCH_RETRY_BASE_SECONDS": "0.1", "CALLWATCH_RETRY_MAX_SECONDS": "0.5",
               **NO_HANDOFF_NOTICES}
        app = create_app(policy, CollectorRegistry())
        setup_receiver(app, env)                           # notifiers from the registry
        client = await aiohttp_client(app, headers=auth())
        firing = json.loads((FIXTURES / "alertmanager-firing.json").read_text())
        answer = await (await client.post("/alerts", data=json.dumps(firing),
                                          headers=auth())).json()
        assert answer["priority"] == "P0"
        await until(lambda: sim.pagerduty.opened == 1 and sim.slack.messages
                    and len(sim.state.placed_calls("telnyx")) == 2)
        await client.post("/alerts", data=json.dumps(resolved(firing)), headers=auth())
        await until(lambda: len(sim.slack.messages) == 2 and all(
            alert.status == "resolved" for alert in sim.pagerduty.alerts.values()))
        await asyncio.sleep(0.5)                            # room for any duplicate to show
        assert sim.pagerduty.opened == 1 and len(sim.pagerduty.alerts) == 1
        first, reply = sim.slack.messages
        assert reply.get("thread_ts") == first["ts"]
        # the incident is about Twilio, so the calls rang through Telnyx, once per person:
        # the on-call (the P0 route) and the VP Engineering (P0 escalates to L4 at once)
        called = sorted(c["request"]["to"] for c in sim.state.placed_calls("telnyx"))
        assert called == sorted([on_call(policy, time.time()).phone, "+15005550004"])
        assert sim.requests("twilio") == []
        detail = await (await client.get(f"/incidents/{answer['incident']}")).json()
        assert detail["state"] == "resolved"
        by_channel = {(n["channel"], n["kind"]): n for n in detail["notifications"]}
        assert by_channel[("slack", "trigger")]["attempts"] >= 2   # the outage was seen
        assert ("phone", "resolve") not in by_channel
        assert {n["state"] for n in detail["notifications"]} == {"sent"}

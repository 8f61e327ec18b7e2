"""Pages a person answers, on the deployment path: the receiver's real notifiers (the twilio,
telnyx and slack SDKs) page the simulated providers, which ring, post and text the person and
call back, signed, as the providers do. The simulator plays the person: answer and press a
key, or not answer; click a Slack button; text ACK back."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from callwatch.stack import free_port
from callwatch.web import create_app
from policy.model import Channel
from policy.scale import scale_policy
from receiver.app import setup_receiver
from receiver.domain.pages import incident_code
from tests.receiver.conftest import TOKEN, auth

FIXTURES = Path(__file__).resolve().parent / "fixtures"
ONCALL, TEAM_LEAD, VP = "+15005550001", "+15005550002", "+15005550004"


@pytest.fixture
async def sim():
    from simulator import Simulator

    async with Simulator(traffic=False) as running:
        yield running


@pytest.fixture
def receiver(aiohttp_server, aiohttp_client, policy, sim, tmp_path):
    """A receiver at a known port whose CALLWATCH_PUBLIC_URL is itself; the policy runs 60x."""

    async def start():
        port = free_port()
        env = {**sim.env(), "CALLWATCH_STORE_URL": f"sqlite://{tmp_path}/r.db",
               "CALLWATCH_RECEIVER_TOKEN": TOKEN, "CALLWATCH_OUTBOX_POLL_SECONDS": "0.05",
               "CALLWATCH_PUBLIC_URL": f"http://127.0.0.1:{port}"}
        app = create_app(scale_policy(policy, 60), CollectorRegistry())
        setup_receiver(app, env)
        return await aiohttp_client(await aiohttp_server(app, port=port))

    return start


def firing(provider: str) -> str:
    """A P0 (service down) about ``provider``: its calls ring through the other provider."""
    body = json.loads((FIXTURES / "alertmanager-firing.json").read_text())
    for alert in body["alerts"]:
        alert["labels"]["provider"] = provider
    body["commonLabels"]["provider"] = provider
    return json.dumps(body)


async def incident(client, provider: str) -> str:
    answer = await (await client.post("/alerts", data=firing(provider), headers=auth())).json()
    assert answer["priority"] == "P0"
    return answer["incident"]


async def until(client, incident_id, predicate, timeout=20.0) -> dict:
    for _ in range(int(timeout / 0.05)):
        body = await (await client.get(f"/incidents/{incident_id}")).json()
        if predicate(body):
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out; timeline: {[e['kind'] for e in body['timeline']]}")


def events(body: dict, kind: str) -> list[dict]:
    return [e for e in body["timeline"] if e["kind"] == kind]


async def test_the_on_call_presses_1_on_a_twilio_call_and_the_incident_is_acknowledged(
        receiver, sim):
    sim.phone_behaviour(ONCALL, "answer", "1")
    client = await receiver()
    incident_id = await incident(client, "telnyx")         # about Telnyx: calls via Twilio
    body = await until(client, incident_id, lambda b: b["state"] == "acknowledged")
    assert (body["acked_by"], events(body, "acknowledged")[0]["detail"]["via"]) == (
        "On-call Engineer", "phone")
    await sim.calls_settled()
    [call] = [c for c in sim.phone_calls("twilio") if c.to == ONCALL]
    gather = next(cb for cb in call.callbacks if cb.kind == "gather")
    assert gather.status == 200 and "Acknowledged. Thank you" in gather.body
    body = await until(client, incident_id, lambda b: any(
        e["detail"].get("contact") == "oncall" for e in events(b, "page_answered")))
    assert sim.phone_calls("telnyx") == []


async def test_the_on_call_presses_2_on_a_telnyx_call_and_the_team_lead_is_called_now(
        receiver, sim):
    sim.phone_behaviour(ONCALL, "answer", "2")
    client = await receiver()
    incident_id = await incident(client, "twilio")         # about Twilio: calls via Telnyx
    body = await until(client, incident_id, lambda b: events(b, "escalation_requested"))
    assert events(body, "escalation_requested")[0]["detail"] == {"level": "L2", "via": "phone"}
    await until(client, incident_id, lambda b: any(
        e["detail"].get("level") == "L2" for e in events(b, "escalated")))
    for _ in range(200):
        if any(c.to == TEAM_LEAD for c in sim.phone_calls("telnyx")):
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the team lead was not called")
    await sim.calls_settled()
    [call] = [c for c in sim.phone_calls("telnyx") if c.to == ONCALL]
    assert [c.action for c in call.commands][:2] == ["gather_using_speak", "speak"]
    assert "Press 1 to acknowledge" in call.spoken[0]
    assert "Escalating to L2, Team Lead, now." in call.spoken[-1]
    assert sim.phone_calls("twilio") == []


async def test_nobody_answering_rings_three_times_then_emails_the_person_called(receiver, sim):
    sim.phone_behaviour(ONCALL, "no-answer")
    sim.phone_behaviour(VP, "no-answer")
    client = await receiver()
    incident_id = await incident(client, "telnyx")
    body = await until(client, incident_id, lambda b: len(
        [n for n in b["notifications"] if n["channel"] == "email" and n["fallback_of"]]) == 2,
        timeout=30.0)
    # each person's next method is their own email: the VP's page goes to the VP, not to the
    # email channel's on-call list
    for _ in range(200):
        mailed = sorted(m.rcpt_tos for m in sim.messages())
        if len(mailed) == 2:
            break
        await asyncio.sleep(0.05)
    assert mailed == [("oncall@example.com",), ("vp-eng@example.com",)]
    phone = [n for n in body["notifications"] if n["channel"] == "phone"
             and n["kind"] == "trigger"]
    assert [(n["state"], n["attempts"]) for n in phone] == [("failed", 3)]
    unanswered = [e["detail"]["status"] for e in events(body, "page_unanswered")
                  if e["detail"]["contact"] == "oncall"]
    assert unanswered == ["no-answer"] * 3
    assert len([c for c in sim.phone_calls("twilio") if c.to == ONCALL]) == 3


async def test_a_click_on_the_slack_acknowledge_button_acts_and_the_message_shows_it(
        receiver, sim):
    client = await receiver()
    incident_id = await incident(client, "twilio")
    for _ in range(200):
        if sim.slack.messages:
            break
        await asyncio.sleep(0.05)
    first = sim.slack.messages[0]
    public = str(client.make_url("")).rstrip("/")
    status, _ = await sim.slack_click("callwatch_ack", url=f"{public}/slack/interactions",
                                      ts=first["ts"], user_id="U0ADA", user_name="ada")
    assert status == 200
    body = await until(client, incident_id, lambda b: b["state"] == "acknowledged")
    assert body["acked_by"] == "ada (Slack U0ADA)"
    # the thread hears of it, and the first message now shows who acted, with Resolve only
    for _ in range(200):
        edited = sim.slack.find(first["channel"], first["ts"])
        if "Acknowledged by ada" in json.dumps(edited.get("blocks")):
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the first Slack message was not edited")
    actions = [e["action_id"] for b in edited["blocks"] if b["type"] == "actions"
               for e in b["elements"]]
    assert actions == ["callwatch_resolve"]
    assert any(m.get("thread_ts") == first["ts"] for m in sim.slack.messages)


async def test_a_forged_slack_click_changes_nothing(receiver, sim):
    client = await receiver()
    incident_id = await incident(client, "twilio")
    for _ in range(200):
        if sim.slack.messages:
            break
        await asyncio.sleep(0.05)
    public = str(client.make_url("")).rstrip("/")
    status, _ = await sim.slack_click("callwatch_ack", url=f"{public}/slack/interactions",
                                      secret="not-the-signing-secret")
    assert status == 401
    assert (await (await client.get(f"/incidents/{incident_id}")).json())["state"] == "triggered"


async def test_the_on_call_texts_ack_back_and_the_incident_is_acknowledged(
        aiohttp_server, aiohttp_client, policy, sim, tmp_path):
    sms = Channel("sms", "sms", {"from_number": "+15005550099"})
    p0 = dataclasses.replace(policy.routing["P0"], channels=("slack", "sms"))
    texting = dataclasses.replace(policy, channels={**policy.channels, "sms": sms},
                                  routing={**policy.routing, "P0": p0})
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    app = create_app(scale_policy(texting, 60), CollectorRegistry())
    setup_receiver(app, {**sim.env(), "CALLWATCH_STORE_URL": f"sqlite://{tmp_path}/r.db",
                         "CALLWATCH_RECEIVER_TOKEN": TOKEN, "CALLWATCH_PUBLIC_URL": public,
                         "CALLWATCH_OUTBOX_POLL_SECONDS": "0.05"})
    client = await aiohttp_client(await aiohttp_server(app, port=port))
    incident_id = await incident(client, "twilio")          # texts go through Telnyx
    for _ in range(200):
        texts = [m for m in sim.sms_messages("telnyx") if m.to == ONCALL]
        if texts:
            break
        await asyncio.sleep(0.05)
    code = incident_code(incident_id)
    assert f"Reply ACK {code}" in texts[0].text
    status, body = await sim.sms_reply("telnyx", ONCALL, f"ACK {code}", url=f"{public}/sms/telnyx")
    assert status == 200, body
    detail = await until(client, incident_id, lambda b: b["state"] == "acknowledged")
    assert detail["acked_by"] == "On-call Engineer"
    answered = [m for m in sim.sms_messages("telnyx") if m.to == ONCALL]
    assert answered[-1].text == f"#{code} acknowledged. Thank you, On-call Engineer."


async def test_a_channel_fallback_call_through_telnyx_says_the_page_and_hangs_up(
        aiohttp_server, aiohttp_client, policy, sim, tmp_path):
    sim.phone_behaviour(ONCALL, "answer")
    sim.slack.errors.append("channel_not_found")            # Slack refuses: fall back at once
    p0 = dataclasses.replace(policy.routing["P0"], channels=("slack",), fallback=("phone",))
    port = free_port()
    app = create_app(scale_policy(dataclasses.replace(
        policy, routing={**policy.routing, "P0": p0}), 60), CollectorRegistry())
    setup_receiver(app, {**sim.env(), "CALLWATCH_STORE_URL": f"sqlite://{tmp_path}/r.db",
                         "CALLWATCH_RECEIVER_TOKEN": TOKEN,
                         "CALLWATCH_PUBLIC_URL": f"http://127.0.0.1:{port}",
                         "CALLWATCH_OUTBOX_POLL_SECONDS": "0.05"})
    client = await aiohttp_client(await aiohttp_server(app, port=port))
    incident_id = await incident(client, "twilio")           # calls go through Telnyx
    for _ in range(200):
        calls = [c for c in sim.phone_calls("telnyx") if c.to == ONCALL]
        if calls:
            break
        await asyncio.sleep(0.05)
    [call] = calls
    await call.settled()
    body = await (await client.get(f"/incidents/{incident_id}/communications")).json()
    [page] = [p for p in body["pages"] if p["channel"] == "phone" and p["kind"] == "trigger"
              and p["recipients"] == [ONCALL]]
    assert page["contact"] is None                            # the channel's list, one-way
    assert [c.action for c in call.commands] == ["speak", "hangup"]
    assert call.spoken == [page["text"]] and "TelephonyServiceDown" in page["text"]

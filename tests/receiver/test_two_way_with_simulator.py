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

from policy.model import Channel
from receiver.domain.pages import incident_code
from tests.receiver.conftest import auth, eventually

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TEAM_LEAD, VP = "+15005550002", "+15005550004"


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
        paging, sim, person):
    sim.phone_behaviour(person.phone, "answer", "1")
    client = await paging()
    incident_id = await incident(client, "telnyx")         # about Telnyx: calls via Twilio
    body = await until(client, incident_id, lambda b: b["state"] == "acknowledged")
    assert (body["acked_by"], events(body, "acknowledged")[0]["detail"]["via"]) == (
        person.name, "phone")
    await sim.calls_settled()
    [call] = [c for c in sim.phone_calls("twilio") if c.to == person.phone]
    gather = next(cb for cb in call.callbacks if cb.kind == "gather")
    assert gather.status == 200 and "Acknowledged. Thank you" in gather.body
    body = await until(client, incident_id, lambda b: any(
        e["detail"].get("contact") == person.key for e in events(b, "page_answered")))
    assert sim.phone_calls("telnyx") == []


async def test_the_on_call_presses_2_on_a_telnyx_call_and_the_team_lead_is_called_now(
        paging, sim, person):
    sim.phone_behaviour(person.phone, "answer", "2")
    client = await paging()
    incident_id = await incident(client, "twilio")         # about Twilio: calls via Telnyx
    body = await until(client, incident_id, lambda b: events(b, "escalation_requested"))
    assert events(body, "escalation_requested")[0]["detail"] == {"level": "L2", "via": "phone"}
    await until(client, incident_id, lambda b: any(
        e["detail"].get("level") == "L2" for e in events(b, "escalated")))
    await eventually(lambda: any(c.to == TEAM_LEAD for c in sim.phone_calls("telnyx")))
    await sim.calls_settled()
    [call] = [c for c in sim.phone_calls("telnyx") if c.to == person.phone]
    assert [c.action for c in call.commands][:2] == ["gather_using_speak", "speak"]
    assert "Press 1 to acknowledge" in call.spoken[0]
    assert "Escalating to L2, Team Lead, now." in call.spoken[-1]
    assert sim.phone_calls("twilio") == []


async def test_nobody_answering_rings_three_times_then_emails_the_person_called(
        paging, sim, person):
    sim.phone_behaviour(person.phone, "no-answer")
    sim.phone_behaviour(VP, "no-answer")
    client = await paging()
    incident_id = await incident(client, "telnyx")
    body = await until(client, incident_id, lambda b: len(
        [n for n in b["notifications"] if n["channel"] == "email" and n["fallback_of"]]) == 2,
        timeout=30.0)
    # each person's next method is their own email: the VP's page goes to the VP, not to the
    # email channel's on-call list
    mailed = await eventually(lambda: len(sim.messages()) == 2 and sorted(
        m.rcpt_tos for m in sim.messages()))
    assert mailed == [(person.email,), ("vp-eng@example.com",)]
    phone = [n for n in body["notifications"] if n["channel"] == "phone"
             and n["kind"] == "trigger"]
    assert [(n["state"], n["attempts"]) for n in phone] == [("failed", 3)]
    unanswered = [e["detail"]["status"] for e in events(body, "page_unanswered")
                  if e["detail"]["contact"] == person.key]
    assert unanswered == ["no-answer"] * 3
    assert len([c for c in sim.phone_calls("twilio") if c.to == person.phone]) == 3


async def test_a_click_on_the_slack_acknowledge_button_acts_and_the_message_shows_it(
        paging, sim):
    client = await paging()
    incident_id = await incident(client, "twilio")
    first = (await eventually(lambda: sim.slack.messages[:1]))[0]
    public = str(client.make_url("")).rstrip("/")
    status, _ = await sim.slack_click("callwatch_ack", url=f"{public}/slack/interactions",
                                      ts=first["ts"], user_id="U0ADA", user_name="ada")
    assert status == 200
    body = await until(client, incident_id, lambda b: b["state"] == "acknowledged")
    assert body["acked_by"] == "ada (Slack U0ADA)"
    # the thread hears of it, and the first message now shows who acted, with Resolve only
    edited = await eventually(lambda: (lambda m: m if "Acknowledged by ada" in json.dumps(
        m.get("blocks")) else None)(sim.slack.find(first["channel"], first["ts"])))
    actions = [e["action_id"] for b in edited["blocks"] if b["type"] == "actions"
               for e in b["elements"]]
    assert actions == ["callwatch_resolve"]
    assert any(m.get("thread_ts") == first["ts"] for m in sim.slack.messages)


async def test_a_forged_slack_click_changes_nothing(paging, sim):
    client = await paging()
    incident_id = await incident(client, "twilio")
    await eventually(lambda: sim.slack.messages)
    public = str(client.make_url("")).rstrip("/")
    status, _ = await sim.slack_click("callwatch_ack", url=f"{public}/slack/interactions",
                                      secret="not-the-signing-secret")
    assert status == 401
    assert (await (await client.get(f"/incidents/{incident_id}")).json())["state"] == "triggered"


async def test_the_on_call_texts_ack_back_and_the_incident_is_acknowledged(
        paging, policy, sim, person):
    sms = Channel("sms", "sms", {"from_number": "+15005550099"})
    p0 = dataclasses.replace(policy.routing["P0"], channels=("slack", "sms"))
    client = await paging(dataclasses.replace(policy, channels={**policy.channels, "sms": sms},
                                              routing={**policy.routing, "P0": p0}))
    public = str(client.make_url("")).rstrip("/")
    incident_id = await incident(client, "twilio")          # texts go through Telnyx
    texts = await eventually(
        lambda: [m for m in sim.sms_messages("telnyx") if m.to == person.phone])
    code = incident_code(incident_id)
    assert f"Reply ACK {code}" in texts[0].text
    status, body = await sim.sms_reply("telnyx", person.phone, f"ACK {code}",
                                       url=f"{public}/sms/telnyx")
    assert status == 200, body
    detail = await until(client, incident_id, lambda b: b["state"] == "acknowledged")
    assert detail["acked_by"] == person.name
    answered = [m for m in sim.sms_messages("telnyx") if m.to == person.phone]
    assert answered[-1].text == f"#{code} acknowledged. Thank you, {person.name}."


async def test_a_channel_fallback_call_through_telnyx_says_the_page_and_hangs_up(
        paging, policy, sim, person):
    sim.phone_behaviour(person.phone, "answer")
    sim.slack.errors.append("channel_not_found")            # Slack refuses: fall back at once
    p0 = dataclasses.replace(policy.routing["P0"], channels=("slack",), fallback=("phone",))
    client = await paging(dataclasses.replace(policy, routing={**policy.routing, "P0": p0}))
    incident_id = await incident(client, "twilio")           # calls go through Telnyx
    [call] = await eventually(
        lambda: [c for c in sim.phone_calls("telnyx") if c.to == person.phone])
    await call.settled()
    body = await (await client.get(f"/incidents/{incident_id}/communications")).json()
    [page] = [p for p in body["pages"] if p["channel"] == "phone" and p["kind"] == "trigger"
              and p["recipients"] == [person.phone]]
    assert page["contact"] is None                            # the channel's list, one-way
    assert [c.action for c in call.commands] == ["speak", "hangup"]
    assert call.spoken == [page["text"]] and "TelephonyServiceDown" in page["text"]


@pytest.mark.parametrize(("about", "rings_through"), [("telnyx", "twilio"), ("twilio", "telnyx")])
async def test_voicemail_is_not_an_answer_when_machine_detection_is_on(paging, policy, sim, about,
                                                                       rings_through, person):
    sim.phone_behaviour(person.phone, "machine")
    phone = policy.channels["phone"]
    detecting = dataclasses.replace(phone, settings={**phone.settings, "machine_detection": True})
    client = await paging(dataclasses.replace(policy, channels={**policy.channels,
                                                                "phone": detecting}))
    incident_id = await incident(client, about)
    body = await until(client, incident_id, lambda b: any(
        e["detail"].get("contact") == person.key for e in events(b, "page_unanswered")))
    [first] = [e["detail"] for e in events(body, "page_unanswered")
               if e["detail"]["contact"] == person.key]
    assert (first["status"], first["via"]) == ("machine", rings_through)
    assert not any(e["detail"].get("contact") == person.key for e in events(body, "page_answered"))
    calls = [c for c in sim.phone_calls(rings_through) if c.to == person.phone]
    assert calls and all(c.machine_detection for c in calls)

"""What ``GET /incidents/{id}/communications`` shows is what was sent, byte for byte: the
receiver's real notifiers page the simulated Slack, phone provider and SMTP server, and each
far side's record is compared with the endpoint's ``pages``. A policy's template override
changes what is sent."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

from receiver.domain.pages import MENU, incident_code
from tests.receiver.conftest import auth, eventually

FIXTURES = Path(__file__).resolve().parent / "fixtures"


async def open_incident(client, priority_alert: str, provider: str) -> str:
    body = json.loads((FIXTURES / "alertmanager-firing.json").read_text())
    for alert in body["alerts"]:
        alert["labels"].update(alertname=priority_alert, provider=provider)
    body["commonLabels"].update(alertname=priority_alert, provider=provider)
    body["groupKey"] = f"{{}}:{{alertname=\"{priority_alert}\"}}"
    answer = await (await client.post("/alerts", data=json.dumps(body), headers=auth())).json()
    return answer["incident"]


def wire(part: str | None) -> str | None:
    """A mail part as the sender wrote it: SMTP carries lines ended by CRLF."""
    return part.replace("\r\n", "\n") if part is not None else None


async def pages(client, incident_id: str) -> dict[tuple[str, str, str | None], dict]:
    body = await (await client.get(f"/incidents/{incident_id}/communications")).json()
    return {(p["channel"], p["kind"], p["contact"]): p for p in body["pages"]}


async def test_slack_and_the_phone_got_exactly_the_words_the_endpoint_shows(paging, sim, person):
    client = await paging()
    incident_id = await open_incident(client, "TelephonyServiceDown", "twilio")   # P0
    posted = copy.deepcopy(await eventually(lambda: sim.slack.messages[:1]))  # before its edit
    [call] = await eventually(
        lambda: [c for c in sim.phone_calls("telnyx") if c.to == person.phone])
    await call.settled()
    await client.post(f"/incidents/{incident_id}/ack", json={"by": "Ada"}, headers=auth())
    reply = await eventually(lambda: sim.slack.messages[1:2])
    shown = await pages(client, incident_id)

    trigger = shown[("slack", "trigger", None)]
    assert (posted[0]["text"], posted[0]["blocks"]) == (trigger["text"], trigger["blocks"])
    assert any(b["type"] == "actions" for b in trigger["blocks"])    # clicks are verified
    ack = shown[("slack", "acknowledge", None)]
    assert (reply[0]["text"], reply[0]["blocks"]) == (ack["text"], ack["blocks"])
    edited = await eventually(lambda: (lambda m: m if m.get("text") == ack["edit_text"] else None)(
        sim.slack.find(posted[0]["channel"], posted[0]["ts"])))
    assert edited["blocks"] == ack["edit_blocks"]
    spoken = shown[("phone", "trigger", person.key)]["text"]
    assert call.spoken[0] == f"{spoken} {MENU}"


async def test_an_email_page_is_the_rendered_text_and_html_byte_for_byte(paging, sim):
    client = await paging()
    incident_id = await open_incident(client, "TelephonyCallDropRateHigh", "telnyx")
    [mail] = await eventually(lambda: [m for m in sim.messages()
                                       if "oncall@example.com" in m.rcpt_tos][:1])
    page = (await pages(client, incident_id))[("email", "trigger", None)]
    assert (wire(mail.text), wire(mail.html)) == (page["text"], page["html"])
    assert page["text"].startswith("[P2] ") and page["html"].startswith("<h3>[P2] ")


async def test_an_overridden_template_changes_what_is_sent(paging, sim, policy, tmp_path):
    text = tmp_path / "page_text.txt.j2"
    text.write_text("WAKE UP {{ incident.priority }} {{ incident.code }}: "
                    "{{ incident.summary }}\n", encoding="utf-8")
    blocks = tmp_path / "slack_blocks.json.j2"
    blocks.write_text('{"text": {{ ("ours: " ~ incident.summary) | tojson }}, "blocks": '
                      '[{"type": "section", "text": {"type": "mrkdwn", '
                      '"text": {{ page.text | tojson }}}}]}', encoding="utf-8")
    client = await paging(dataclasses.replace(
        policy, templates={"page_text": str(text), "slack_blocks": str(blocks)}))
    incident_id = await open_incident(client, "TelephonyCallDropRateHigh", "telnyx")
    [mail] = await eventually(lambda: [m for m in sim.messages()
                                       if "oncall@example.com" in m.rcpt_tos][:1])
    posted = await eventually(lambda: sim.slack.messages[:1])
    page = (await pages(client, incident_id))[("email", "trigger", None)]
    assert wire(mail.text) == page["text"] == (
        f"WAKE UP P2 {incident_code(incident_id)}: TelephonyServiceDown on twilio\n")
    assert posted[0]["text"] == "ours: TelephonyServiceDown on twilio"
    assert posted[0]["blocks"][0]["text"]["text"] == page["text"]

"""The words of every page, rendered from the templates (receiver/domain/render.py): what each
channel type says, the Slack blocks and buttons, and overrides, broken or not."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import pytest

from policy import load_policy
from policy.model import Channel
from receiver.domain import messages, render
from receiver.domain.communications import Communications, slack_mention
from receiver.domain.pages import incident_code

DEFAULT = load_policy("deploy/policy.yaml")
POLICY = dataclasses.replace(DEFAULT, channels={
    **DEFAULT.channels, "sms": Channel("sms", "sms", {"from_number": "+15005550099"})})
NOW = 1_800_000_000.0  # 2027-01-15 09:00 in Berlin: Chloe (eng_c) is on call for primary
ALERT = {"labels": {"alertname": "TelephonyCallDropRateHigh", "severity": "critical"},
         "annotations": {"description": "6.2% of answered calls dropped on twilio",
                         "value": "6.2%", "runbook_url": "https://runbooks.example/drop"}}


def facts(kind: str = "trigger", channel: str = "email", **extra) -> dict:
    payload = messages.compose(incident_id="01J0ABCDEF", kind=kind, channel=channel,
                               priority="P1", summary="Call drop rate critical on twilio",
                               provider="twilio", alert=ALERT, policy=POLICY, now=NOW,
                               public_url="https://callwatch.example", **extra)
    return payload


def words(kind: str = "trigger", channel: str = "email", comms: Communications | None = None,
          interactive: bool = False, **extra) -> render.Rendered:
    return render.render_page(comms or Communications(), facts(kind, channel, **extra), POLICY,
                              channel, kind, interactive=interactive)


def buttons(blocks) -> list[tuple[str, str]]:
    return [(e["action_id"], e["value"]) for b in blocks if b["type"] == "actions"
            for e in b["elements"]]


def test_a_page_text_names_priority_provider_value_note_counts_links_and_incident():
    text = words("update", note="priority raised from P2 to P1",
                 counts={"firing": 2, "resolved": 1}).text
    assert text.splitlines() == [
        "[P1] Updated: Call drop rate critical on twilio", "Priority: P1 (High)",
        "Provider: twilio", "Value: 6.2%", "priority raised from P2 to P1",
        "Alerts: 2 firing, 1 resolved", "Runbook: https://runbooks.example/drop",
        "Dashboard: " + POLICY.links.dashboard_url,
        "Incident: https://callwatch.example/incidents/01J0ABCDEF", "Incident: 01J0ABCDEF"]


def test_the_email_html_escapes_what_it_inserts():
    html = render.render_page(Communications(), {**facts(), "summary": "<script>x</script>"},
                              POLICY, "email", "trigger").html
    assert "<script>" not in html and "&lt;script&gt;x&lt;/script&gt;" in html
    assert '<a href="https://runbooks.example/drop">Runbook</a>' in html


def test_a_slack_page_carries_the_three_buttons_only_when_clicks_can_be_verified():
    assert buttons(words("trigger", "slack", interactive=True).blocks) == [
        ("callwatch_ack", "01J0ABCDEF"), ("callwatch_escalate", "01J0ABCDEF"),
        ("callwatch_resolve", "01J0ABCDEF")]
    assert buttons(words("trigger", "slack").blocks) == []
    assert buttons(words("resolve", "slack", interactive=True).blocks) == []


def test_a_slack_page_shows_the_fields_links_and_mentions():
    page = words("trigger", "slack")
    fields = " ".join(f["text"] for f in page.blocks[1]["fields"])
    for expected in ("twilio", "6.2%", "TelephonyCallDropRateHigh", "01J0ABCDEF"):
        assert expected in fields
    assert page.text == ":red_circle: P1 Call drop rate critical on twilio"
    assert "<https://runbooks.example/drop|Runbook>" in json.dumps(page.blocks)


def test_an_acknowledge_edits_the_first_message_to_show_who_acted_with_only_resolve_left():
    page = words("acknowledge", "slack", interactive=True, note="Acknowledged by ada")
    assert page.edit_text == "P1 Acknowledged: Call drop rate critical on twilio"
    assert "Acknowledged by ada" in json.dumps(page.edit_blocks)
    assert buttons(page.edit_blocks) == [("callwatch_resolve", "01J0ABCDEF")]
    resolved = words("resolve", "slack", interactive=True, note="Resolved by ada")
    assert resolved.edit_blocks and buttons(resolved.edit_blocks) == []
    assert words("acknowledge", "slack").edit_blocks == ()


def test_a_long_summary_is_cut_to_the_slack_header_limit_of_150_characters():
    payload = {**facts(channel="slack"), "summary": "x" * 400}
    page = render.render_page(Communications(), payload, POLICY, "slack", "trigger")
    assert len(page.blocks[0]["text"]["text"]) == 150


@pytest.mark.parametrize(("recipient", "expected"), [
    ("U024BE7LH", "<@U024BE7LH>"), ("W0ENTERPRISE", "<@W0ENTERPRISE>"),
    ("S0614TZR7", "<!subteam^S0614TZR7>"), ("@team-lead", "@team-lead"),
    ("<b>", "&lt;b&gt;"),
])
def test_a_user_or_group_id_becomes_a_mention_that_notifies(recipient, expected):
    assert slack_mention(recipient) == expected


def test_a_text_page_names_the_incident_code_and_how_to_answer():
    code = incident_code("01J0ABCDEF")
    assert words("trigger", "sms").text == (
        f"P1 #{code} Call drop rate critical on twilio. Reply ACK {code} / RES {code}")
    assert words("acknowledge", "sms").text == (
        f"P1 #{code} Acknowledged: Call drop rate critical on twilio.")


def test_a_phone_page_says_priority_summary_provider_code_and_response_time():
    script = words("trigger", "phone").text
    assert script.startswith("This is callwatch with a high priority page, priority 1. "
                             "Call drop rate critical on twilio.")
    code = incident_code("01J0ABCDEF")
    assert f"Incident {' '.join(code)}." in script
    assert "Please acknowledge within 30m." in script and "\n" not in script


def test_a_payload_carrying_its_own_text_is_sent_as_it_is():
    draft = {**facts(), "text": "Dear Twilio Support,", "html": None}
    assert render.render_page(Communications(), draft, POLICY, "email", "escalate") == (
        render.Rendered("Dear Twilio Support,", None))


def test_the_digest_lists_every_row_it_carries():
    rows = [facts("trigger", "digest"), {**facts("resolve", "digest"), "summary": "Other"}]
    payload = render.digest_payload("digest", rows, ("ops@example.com",), 1_800_000_000)
    digest = render.render_digest(Communications(), payload)
    assert "- [P1] Call drop rate critical on twilio (incident 01J0ABCDEF, trigger)" in digest.text
    assert "[P1] Other (incident 01J0ABCDEF, resolve)" in digest.html
    assert payload["day"] == "2027-01-15" and payload["recipients"] == ["ops@example.com"]


@pytest.mark.parametrize(("template", "channel", "source", "expected"), [
    ("page_text", "email", "{{ incident.code }} {{ incident.summary }}", "text"),
    ("page_html", "email", "<b>{{ incident.summary }}</b>", "html"),
    ("voice_script", "phone", "Wake up: {{ incident.summary }}", "text"),
    ("sms", "sms", "ACK {{ incident.code }}", "text"),
    ("slack_blocks", "slack", '{"text": {{ incident.summary | tojson }}, "blocks": []}', "text"),
])
def test_an_overridden_template_changes_what_the_channel_says(tmp_path: Path, template, channel,
                                                               source, expected):
    mine = tmp_path / f"{template}.j2"
    mine.write_text(source, encoding="utf-8")
    page = words("trigger", channel, Communications({template: str(mine)}))
    assert getattr(page, expected) != getattr(words("trigger", channel), expected)
    assert ("Call drop rate critical on twilio" in getattr(page, expected)
            or incident_code("01J0ABCDEF") in getattr(page, expected))


@pytest.mark.parametrize(("template", "channel", "source"), [
    ("sms", "sms", "{{ no_such_thing.at_all }}"),
    ("slack_blocks", "slack", "this is not JSON"),
    ("slack_blocks", "slack", '{"text": 1}'),
])
def test_an_override_that_fails_to_render_gives_way_to_the_built_in_template(
        tmp_path: Path, caplog, template, channel, source):
    mine = tmp_path / f"{template}.j2"
    mine.write_text(source, encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="callwatch.receiver.render"):
        page = words("trigger", channel, Communications({template: str(mine)}))
    assert page == words("trigger", channel)
    assert [r.template for r in caplog.records] == [template]

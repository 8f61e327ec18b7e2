"""A drill's pages and figures: every channel's words start "DRILL: " (one place,
receiver/domain/render.py ``drilled``), and a drill is never an MTTA/MTTR observation, an SLA
figure or a trend (receiver/services/metrics.py, receiver/domain/trends.py)."""

from __future__ import annotations

import dataclasses

import pytest
from prometheus_client import CollectorRegistry

from receiver.domain import render, trends
from receiver.domain.communications import Communications
from receiver.domain.model import Changes, Incident
from receiver.notify.common import tagged
from receiver.notify.email import build_email
from receiver.notify.pagerduty import trigger_event
from receiver.services.metrics import ReceiverMetrics
from receiver.services.notifications import to_notification
from tests.receiver.test_page_words import NOW, POLICY, facts, words


@pytest.mark.parametrize("channel", ["email", "pagerduty", "slack", "phone", "sms"])
@pytest.mark.parametrize("kind", ["trigger", "escalate", "acknowledge", "resolve"])
def test_every_page_of_a_drill_starts_with_drill(channel: str, kind: str) -> None:
    plain = words(kind, channel, interactive=True)
    drill = words(kind, channel, interactive=True, drill=True)
    assert not plain.text.startswith("DRILL") and drill.text == "DRILL: " + plain.text
    if plain.html is not None:
        assert drill.html.startswith("<p><strong>DRILL: </strong></p>")
    for blocks in (drill.blocks, drill.edit_blocks):
        if blocks:
            assert blocks[0]["type"] == "header"
            assert blocks[0]["text"]["text"].startswith("DRILL: ")
    if plain.edit_text is not None:
        assert drill.edit_text == "DRILL: " + plain.edit_text


def test_the_summary_a_subject_quotes_is_marked_and_a_real_page_is_not() -> None:
    payload = facts(drill=True)
    assert payload["drill"] is True and "drill" not in facts()
    sent = to_notification("r1", payload, "email", "trigger",
                           render.render_page(Communications(), payload, POLICY, "email",
                                              "trigger"))
    assert sent.summary == "DRILL: Call drop rate critical on twilio"
    # the notifiers' priority tag goes after the mark: DRILL stays the first word
    subject = build_email(sent, "callwatch@example.com", ("a@example.com",))["Subject"]
    assert subject == "DRILL: [P1] Call drop rate critical on twilio"
    assert trigger_event(sent, "k", "callwatch")["summary"].startswith("DRILL: [P1] ")
    assert tagged("P1", facts()["summary"]) == "[P1] Call drop rate critical on twilio"


def _incident(ident: str, drill: bool, **times: float) -> Incident:
    labels = {"alertname": "TelephonyProviderHealthLow", **({"drill": "true"} if drill else {})}
    return Incident(id=ident, group_key=ident, priority="P1", state="resolved", summary="s",
                    provider="twilio", opened_at=NOW - 600, labels=labels, **times)


def test_a_drill_is_no_response_time_and_no_trend() -> None:
    metrics = ReceiverMetrics(CollectorRegistry())
    real = _incident("real", False, acked_at=NOW - 540, resolved_at=NOW - 300)
    drill = _incident("drill", True, acked_at=NOW - 590, resolved_at=NOW - 580)
    for incident in (drill, real):
        metrics.record_response_times(Changes(acknowledged_incident=incident,
                                              resolved_incident=incident))
    assert metrics.ack_seconds.labels("P1")._sum.get() == 60.0     # the real one alone
    assert metrics.resolve_seconds.labels("P1")._sum.get() == 300.0
    figures = trends.trends([real, drill], NOW, 1, ("P1",))
    assert figures["series"][0]["priorities"]["P1"] == {
        "opened": 1, "acknowledged": 1, "mtta_seconds": 60.0, "resolved": 1,
        "mttr_seconds": 300.0}
    assert figures["alertnames"] == [{"alertname": "TelephonyProviderHealthLow", "incidents": 1}]
    assert dataclasses.replace(drill, labels={}).drill is False

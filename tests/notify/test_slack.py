"""Slack with the real AsyncWebClient over HTTP: a Block Kit message, then a thread reply."""

from __future__ import annotations

import pytest

from receiver.notify.base import Notification, NotifyError
from receiver.notify.slack import SlackNotifier, build_message
from tests.notify.standins import StandIn, slack_app

TOKEN = "xoxb-test-token-1234"


def note(kind: str, thread_ref: str | None = None, summary: str = "Call drop rate critical") -> Notification:
    return Notification(
        id=f"n-{kind}", incident_id="inc-7", channel="slack", kind=kind, priority="P1",
        summary=summary, text="6.2% of answered calls dropped on twilio", provider="twilio",
        thread_ref=thread_ref, links={"runbook": "https://runbooks.example/drop",
                                      "dashboard": "https://grafana.example/d/1"},
        details={"alertname": "TelephonyCallDropRateHigh", "value": "6.2%"})


async def test_a_trigger_posts_a_message_and_a_resolve_replies_in_its_thread(serve):
    stand = StandIn()
    url = await serve(slack_app(stand))
    notifier = SlackNotifier(TOKEN, "#incidents", base_url=f"{url}/api/")
    first = await notifier.send(note("trigger"))
    reply = await notifier.send(note("resolve", thread_ref=first.ref))
    await notifier.close()
    assert first.ref and reply.ref and first.ref != reply.ref
    posted, replied = (r.body for r in stand.requests)
    assert "thread_ts" not in posted
    assert replied["thread_ts"] == first.ref
    assert posted["channel"] == "#incidents" and posted["text"]
    header = posted["blocks"][0]
    assert header["type"] == "header" and "P1" in header["text"]["text"]
    fields = " ".join(f["text"] for f in posted["blocks"][1]["fields"])
    for expected in ("twilio", "6.2%", "TelephonyCallDropRateHigh", "inc-7"):
        assert expected in fields
    assert "https://runbooks.example/drop" in str(posted["blocks"])
    assert "Resolved" in replied["text"]
    assert stand.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"


def test_a_long_summary_is_cut_to_the_header_limit_of_150_characters():
    _, blocks = build_message(note("trigger", summary="x" * 400))
    assert len(blocks[0]["text"]["text"]) == 150


async def test_a_429_is_retried_by_the_rate_limit_handler_and_then_succeeds(serve):
    stand = StandIn(failures=[(429, {"ok": False, "error": "ratelimited"})])
    url = await serve(slack_app(stand))
    notifier = SlackNotifier(TOKEN, "#incidents", base_url=f"{url}/api/")
    delivery = await notifier.send(note("trigger"))
    assert delivery.ref and len(stand.requests) == 2


@pytest.mark.parametrize(("error", "reason", "retryable"), [
    ("channel_not_found", "config", False),
    ("invalid_auth", "auth", False),
    ("msg_too_long", "rejected", False),
])
async def test_a_slack_error_code_is_classified(serve, error, reason, retryable):
    stand = StandIn(failures=[(200, {"ok": False, "error": error})])
    url = await serve(slack_app(stand))
    with pytest.raises(NotifyError) as caught:
        await SlackNotifier(TOKEN, "#x", base_url=f"{url}/api/").send(note("trigger"))
    assert (caught.value.reason, caught.value.retryable) == (reason, retryable)

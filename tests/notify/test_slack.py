"""Slack with the real AsyncWebClient against the simulator: a Block Kit message, a thread reply."""

from __future__ import annotations

import pytest

from receiver.notify.base import Notification, NotifyError
from receiver.notify.slack import SlackNotifier, SlackSettings, build_message


def note(kind: str, thread_ref: str | None = None,
         summary: str = "Call drop rate critical") -> Notification:
    return Notification(
        id=f"n-{kind}", incident_id="inc-7", channel="slack", kind=kind, priority="P1",
        summary=summary, text="6.2% of answered calls dropped on twilio", provider="twilio",
        thread_ref=thread_ref, links={"runbook": "https://runbooks.example/drop",
                                      "dashboard": "https://grafana.example/d/1"},
        details={"alertname": "TelephonyCallDropRateHigh", "value": "6.2%"})


def notifier_for(sim, **overrides) -> SlackNotifier:
    env = sim.env()
    return SlackNotifier(SlackSettings(env["SLACK_BOT_TOKEN"], "#incidents",
                                       base_url=env["SLACK_BASE_URL"], **overrides))


async def test_a_trigger_posts_a_message_and_a_resolve_replies_in_its_thread(sim):
    notifier = notifier_for(sim)
    first = await notifier.send(note("trigger"))
    reply = await notifier.send(note("resolve", thread_ref=first.ref))
    await notifier.close()
    posted, replied = sim.slack.messages
    assert posted["ts"] == first.ref and replied["ts"] == reply.ref
    assert posted["thread_ts"] is None and replied["thread_ts"] == first.ref
    channel = posted["channel"]
    assert [m["ts"] for m in sim.slack.thread(channel, first.ref)] == [reply.ref]
    header = posted["blocks"][0]
    assert header["type"] == "header" and "P1" in header["text"]["text"]
    fields = " ".join(f["text"] for f in posted["blocks"][1]["fields"])
    for expected in ("twilio", "6.2%", "TelephonyCallDropRateHigh", "inc-7"):
        assert expected in fields
    assert "https://runbooks.example/drop" in str(posted["blocks"])
    assert posted["text"] and "Resolved" in replied["text"]


def test_a_long_summary_is_cut_to_the_header_limit_of_150_characters():
    _, blocks = build_message(note("trigger", summary="x" * 400))
    assert len(blocks[0]["text"]["text"]) == 150


async def test_a_429_is_retried_by_the_rate_limit_handler_and_then_succeeds(sim):
    sim.fail("slack", 429, count=1)
    delivery = await notifier_for(sim).send(note("trigger"))
    assert delivery.ref == sim.slack.messages[0]["ts"]
    assert len(sim.requests("slack")) == 2


@pytest.mark.parametrize(("error", "reason", "retryable"), [
    ("channel_not_found", "config", False),
    ("invalid_auth", "auth", False),
    ("msg_too_long", "rejected", False),
])
async def test_a_slack_error_code_is_classified(sim, error, reason, retryable):
    sim.slack.errors.append(error)
    with pytest.raises(NotifyError) as caught:
        await notifier_for(sim).send(note("trigger"))
    assert (caught.value.reason, caught.value.retryable) == (reason, retryable)


async def test_the_notifier_outage_scenario_is_a_retryable_server_error(sim):
    sim.set_scenario("notifier-outage")
    with pytest.raises(NotifyError) as caught:
        await notifier_for(sim).send(note("trigger"))
    assert (caught.value.reason, caught.value.retryable) == ("server_error", True)


async def test_a_certificate_the_client_does_not_trust_is_a_config_error(certs):
    from aiohttp import web

    from tests.notify.standins import server_context

    runner = web.AppRunner(web.Application())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_context(*certs))
    await site.start()
    port = runner.addresses[0][1]
    try:
        with pytest.raises(NotifyError) as caught:
            await SlackNotifier(SlackSettings("xoxb-x-1234", "#x",
                                              base_url=f"https://127.0.0.1:{port}/api/",
                                              connection_retries=0)).send(note("trigger"))
    finally:
        await runner.cleanup()
    # The default trust store does not hold the throwaway certificate: never retried.
    assert (caught.value.reason, caught.value.retryable) == ("config", False)

"""Slack with the real AsyncWebClient against the simulator: a Block Kit message, a thread reply."""

from __future__ import annotations

import pytest

from policy import load_policy
from receiver.domain import messages, render
from receiver.domain.communications import Communications
from receiver.notify.base import Notification, NotifyError
from receiver.notify.slack import SlackNotifier, SlackSettings
from receiver.services.notifications import to_notification

POLICY = load_policy("deploy/policy.yaml")


def note(kind: str, thread_ref: str | None = None, interactive: bool = False,
         **extra) -> Notification:
    """A page as the dispatcher hands it over: facts composed, words rendered."""
    alert = {"labels": {"alertname": "TelephonyCallDropRateHigh"},
             "annotations": {"value": "6.2%", "runbook_url": "https://runbooks.example/drop",
                             "dashboard_url": "https://grafana.example/d/1"}}
    payload = messages.compose(incident_id="inc-7", kind=kind, channel="slack", priority="P1",
                               summary="Call drop rate critical", provider="twilio",
                               alert=alert, policy=POLICY, now=1_800_000_000.0, **extra)
    words = render.render_page(Communications(), payload, POLICY, "slack", kind,
                               interactive=interactive)
    return to_notification(f"n-{kind}", payload, "slack", kind, words, thread_ref)


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

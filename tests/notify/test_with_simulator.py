"""Every policy channel built by build_notifiers from the simulator's environment, one page each.

This is the deployment path: the default policy, the environment variables the simulator exports
(the same names production uses), the real SDKs, and what each far side recorded.
"""

from __future__ import annotations

import dataclasses

from receiver.notify.base import Notification
from receiver.notify.registry import build_notifiers


def page(channel: str, kind: str = "trigger", **extra) -> Notification:
    values = {"id": f"{channel}-{kind}", "incident_id": "inc-100", "channel": channel,
              "kind": kind, "priority": "P0",
              "summary": "Total outage: no calls complete on twilio",
              "text": "0% of calls completed in 5 minutes",
              "html": "<p>0% of calls completed</p>", "provider": "twilio",
              "dedup_key": "callwatch-inc-100",
              "links": {"runbook": "https://runbooks.example/outage"},
              "details": {"alertname": "TelephonyServiceDown", "value": "0%"}}
    values.update(extra)
    return Notification(**values)


async def test_each_channel_of_the_default_policy_pages_through_the_simulator(sim, policy):
    notifiers = build_notifiers(policy, sim.env())
    try:
        pd = await notifiers["pagerduty"].send(page("pagerduty"))
        slack = await notifiers["slack"].send(page("slack"))
        reply = await notifiers["slack"].send(page("slack", "resolve", thread_ref=slack.ref))
        phone = await notifiers["phone"].send(page("phone", recipients=("+15005550001",)))
        mail = await notifiers["email"].send(page("email"))
        digest = await notifiers["digest"].send(page("digest", "digest", priority="P3",
                                                     summary="2 P3 notifications"))
    finally:
        for notifier in notifiers.values():
            await notifier.close()
    assert sim.pagerduty.alerts[pd.ref].status == "triggered"
    assert [m["ts"] for m in sim.slack.messages] == [slack.ref, reply.ref]
    assert sim.slack.messages[1]["thread_ts"] == slack.ref
    # The incident is about Twilio, so the page rang through Telnyx.
    assert phone.via == "telnyx" and sim.state.placed_calls("telnyx")[0]["id"] == phone.ref
    assert sim.requests("twilio") == []
    first, second = sim.messages()
    assert first.rcpt_tos == ("oncall@example.com",) and first.text and first.html
    assert "0% of calls completed" in first.text and "Total outage" in first.subject
    assert second.subject.startswith("[callwatch digest]")
    assert mail.ref != digest.ref


async def test_email_with_login_and_starttls_reaches_the_simulator_sink(policy):
    from simulator import Simulator

    async with Simulator(traffic=False, smtp_username="callwatch",
                         smtp_password="s3cret-smtp-pw") as sim:
        channels = dict(policy.channels)
        email = channels["email"]
        channels["email"] = dataclasses.replace(email,
                                                settings={**email.settings, "starttls": True})
        env = {**sim.env(), "SMTP_CA_FILE": sim.pagerduty_ca_file}  # one throwaway cert for both
        notifiers = build_notifiers(dataclasses.replace(policy, channels=channels), env)
        try:
            delivery = await notifiers["email"].send(page("email"))
        finally:
            for notifier in notifiers.values():
                await notifier.close()
        (mail,) = sim.messages()
    assert mail.rcpt_tos == ("oncall@example.com",) and delivery.ref in mail.raw

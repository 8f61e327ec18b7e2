"""build_notifiers: one notifier per policy channel; missing secrets become config failures."""

from __future__ import annotations

import dataclasses

import pytest

from callwatch.logs import scrub
from policy.model import Channel
from receiver.notify.base import Notification, NotifyError
from receiver.notify.common import UnconfiguredNotifier
from receiver.notify.digest import DigestNotifier
from receiver.notify.email import EmailNotifier
from receiver.notify.pagerduty import PagerDutyNotifier
from receiver.notify.phone import PhoneNotifier
from receiver.notify.registry import build_notifiers
from receiver.notify.slack import SlackNotifier

FULL_ENV = {
    "PAGERDUTY_ROUTING_KEY": "pd-routing-key-registry-1",
    "SLACK_BOT_TOKEN": "xoxb-registry-token-1",
    "TWILIO_ACCOUNT_SID": "AC" + "2" * 32, "TWILIO_AUTH_TOKEN": "twilio-registry-token",
    "TELNYX_API_KEY": "KEY-telnyx-registry", "TELNYX_CONNECTION_ID": "conn-1",
    "SMTP_PASSWORD": "smtp-registry-password",
}


def note(channel: str) -> Notification:
    return Notification(id="n", incident_id="i", channel=channel, kind="trigger", priority="P1",
                        summary="s", text="t", recipients=("+15005550001",))


def with_channel(policy, name: str, type_: str, **settings):
    channels = dict(policy.channels)
    channels[name] = Channel(name, type_, settings)
    return dataclasses.replace(policy, channels=channels)


async def close_all(notifiers) -> None:
    for notifier in notifiers.values():
        await notifier.close()


async def test_every_policy_channel_gets_the_notifier_of_its_type(policy):
    notifiers = build_notifiers(policy, FULL_ENV)
    kinds = {name: type(n) for name, n in notifiers.items()}
    await close_all(notifiers)
    assert kinds == {"pagerduty": PagerDutyNotifier, "slack": SlackNotifier, "phone": PhoneNotifier,
                     "email": EmailNotifier, "digest": DigestNotifier}
    assert scrub("token xoxb-registry-token-1") == "token [redacted]"
    assert scrub("pd-routing-key-registry-1 twilio-registry-token") == "[redacted] [redacted]"


@pytest.mark.parametrize(("channel", "variable"), [
    ("pagerduty", "PAGERDUTY_ROUTING_KEY"),
    ("slack", "SLACK_BOT_TOKEN"),
    ("phone", "TWILIO_ACCOUNT_SID"),
])
async def test_a_channel_without_its_secret_fails_every_send_with_a_config_error_naming_it(
        policy, channel, variable):
    notifiers = build_notifiers(policy, {})
    assert isinstance(notifiers[channel], UnconfiguredNotifier)
    with pytest.raises(NotifyError) as caught:
        await notifiers[channel].send(note(channel))
    assert (caught.value.reason, caught.value.retryable) == ("config", False)
    assert variable in caught.value.detail
    await close_all(notifiers)


async def test_a_secret_is_read_from_the_file_named_by_name_file(policy, tmp_path):
    token_file = tmp_path / "slack-token"
    token_file.write_text("xoxb-from-file-token\n")
    notifiers = build_notifiers(policy, {"SLACK_BOT_TOKEN_FILE": str(token_file)})
    assert isinstance(notifiers["slack"], SlackNotifier)
    assert scrub("xoxb-from-file-token") == "[redacted]"
    await close_all(notifiers)


async def test_a_channel_secret_env_setting_replaces_the_default_variable(policy):
    custom = with_channel(policy, "pagerduty", "pagerduty", routing_key_env="PD_TEAM_KEY")
    notifiers = build_notifiers(custom, {"PAGERDUTY_ROUTING_KEY": "ignored-key-000"})
    assert isinstance(notifiers["pagerduty"], UnconfiguredNotifier)
    assert "PD_TEAM_KEY" in notifiers["pagerduty"].problem
    notifiers = build_notifiers(custom, {"PD_TEAM_KEY": "team-key-0001"})
    assert isinstance(notifiers["pagerduty"], PagerDutyNotifier)
    await close_all(notifiers)


async def test_an_unreadable_secret_file_names_the_file_and_not_a_value(policy, tmp_path):
    custom = with_channel(policy, "slack", "slack", channel="#x", token_file=str(tmp_path / "nope"))
    notifiers = build_notifiers(custom, FULL_ENV)
    assert isinstance(notifiers["slack"], UnconfiguredNotifier)
    assert str(tmp_path / "nope") in notifiers["slack"].problem
    await close_all(notifiers)


async def test_a_phone_channel_with_only_telnyx_configured_still_pages(policy):
    env = {k: v for k, v in FULL_ENV.items() if not k.startswith("TWILIO")}
    notifiers = build_notifiers(policy, env)
    phone = notifiers["phone"]
    assert isinstance(phone, PhoneNotifier)
    assert phone.providers == ("telnyx",)
    await close_all(notifiers)


async def test_a_plain_http_pagerduty_base_url_is_a_config_error(policy):
    notifiers = build_notifiers(policy, {**FULL_ENV, "PAGERDUTY_BASE_URL": "http://127.0.0.1:9"})
    assert isinstance(notifiers["pagerduty"], UnconfiguredNotifier)
    assert "https" in notifiers["pagerduty"].problem
    await close_all(notifiers)


async def test_an_email_channel_with_a_username_needs_its_password(policy):
    custom = with_channel(policy, "email", "email", smtp_host="localhost", smtp_port=25,
                          from_address="a@example.com", to=("b@example.com",), username="bot",
                          password_env="SMTP_PASSWORD")
    notifiers = build_notifiers(custom, {})
    assert isinstance(notifiers["email"], UnconfiguredNotifier)
    assert isinstance(notifiers["digest"], UnconfiguredNotifier)  # it sends through email's SMTP
    assert "SMTP_PASSWORD" in notifiers["email"].problem
    await close_all(notifiers)

"""Build one notifier per policy channel from its settings and the environment.

This is the one place a channel's untyped policy settings and the notifier variables are read:
each notifier gets a typed settings dataclass (``PagerDutySettings``, ``SlackSettings``,
``TwilioSettings`` / ``TelnyxSettings`` for the phone's dialers, ``SmtpSettings``,
``DigestSettings``).

``build_notifiers(policy, environ)`` never fails because of one channel: a channel whose secret or
setting is missing gets an ``UnconfiguredNotifier`` whose every send fails with
``NotifyError("config", …, retryable=False)`` naming the missing variable (never a value), so the
dispatcher records it and falls back. Secrets are registered with the log scrubber as they are read.

Environment read (secrets also as ``NAME_FILE``): PAGERDUTY_ROUTING_KEY, PAGERDUTY_BASE_URL,
PAGERDUTY_CA_FILE; SLACK_BOT_TOKEN, SLACK_BASE_URL; TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN,
TWILIO_BASE_URL; TELNYX_API_KEY, TELNYX_CONNECTION_ID, TELNYX_BASE_URL; SMTP_PASSWORD,
SMTP_CA_FILE, and SMTP_HOST / SMTP_PORT / SMTP_USERNAME overriding the email channel's
settings; STATUSPAGE_API_URL (default https://api.statuspage.io/v1) and the status page's
API key (``status_page.api_key_env`` / ``api_key_file``, default STATUSPAGE_API_KEY);
CALLWATCH_PUBLIC_URL and SLACK_SIGNING_SECRET say whether phone pages and Slack
messages can be answered. A channel's ``*_env`` / ``*_file`` settings replace the default
secret name.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from policy.model import Channel, Policy, StatusPage
from policy.spec_status_page import CHANNEL as STATUS_PAGE_CHANNEL
from receiver.notify.base import Notifier
from receiver.notify.common import MissingSecret, UnconfiguredNotifier, channel_secret
from receiver.notify.digest import DigestNotifier, DigestSettings
from receiver.notify.email import EmailNotifier, SmtpSettings
from receiver.notify.pagerduty import PagerDutyNotifier, PagerDutySettings
from receiver.notify.phone import (
    Dialer,
    PhoneNotifier,
    PhoneSettings,
    TelnyxDialer,
    TwilioDialer,
)
from receiver.notify.providers import TelnyxSettings, TwilioSettings
from receiver.notify.slack import SlackNotifier, SlackSettings
from receiver.notify.sms import SmsNotifier, SmsSettings, TelnyxTexter, Texter, TwilioTexter
from receiver.notify.statuspage import DEFAULT_BASE_URL as STATUSPAGE_URL
from receiver.notify.statuspage import StatuspageNotifier, StatuspageSettings

log = logging.getLogger(__name__)

TELNYX_DEFAULT_BASE_URL = "https://api.telnyx.com/v2"


def build_notifiers(policy: Policy, environ: Mapping[str, str]) -> dict[str, Notifier]:
    """``{channel name: Notifier}`` for every channel of ``policy``, and for the status page
    (channel ``status_page``) when the policy has one."""
    notifiers: dict[str, Notifier] = {}
    if policy.status_page is not None:
        notifiers[STATUS_PAGE_CHANNEL] = build_status_page(policy.status_page, environ)
    for name, channel in policy.channels.items():
        builder = _BUILDERS.get(channel.type)
        try:
            if builder is None:
                raise ValueError(f"unknown channel type {channel.type!r}")
            notifiers[name] = builder(channel, policy, environ)
        except (MissingSecret, ValueError) as exc:
            log.warning("notification channel not configured", extra={
                "channel": name, "channel_type": channel.type, "problem": str(exc)})
            notifiers[name] = UnconfiguredNotifier(channel.type, str(exc))
    return notifiers


def build_status_page(spec: StatusPage, environ: Mapping[str, str]) -> Notifier:
    """The status page's notifier; an UnconfiguredNotifier when its API key is missing."""
    settings = {"api_key_env": spec.api_key_env, "api_key_file": spec.api_key_file}
    try:
        key = channel_secret(settings, environ, "api_key", "STATUSPAGE_API_KEY")
    except MissingSecret as exc:
        log.warning("status page not configured", extra={"problem": str(exc)})
        return UnconfiguredNotifier("statuspage", str(exc))
    return StatuspageNotifier(StatuspageSettings(
        key, spec.page_id, base_url=environ.get("STATUSPAGE_API_URL") or STATUSPAGE_URL))


def build_pagerduty(channel: Channel, policy: Policy, environ: Mapping[str, str]) -> Notifier:
    key = channel_secret(channel.settings, environ, "routing_key", "PAGERDUTY_ROUTING_KEY")
    return PagerDutyNotifier(PagerDutySettings(
        key, base_url=environ.get("PAGERDUTY_BASE_URL") or None,
        ca_file=environ.get("PAGERDUTY_CA_FILE") or None))


def build_slack(channel: Channel, policy: Policy, environ: Mapping[str, str]) -> Notifier:
    token = channel_secret(channel.settings, environ, "token", "SLACK_BOT_TOKEN")
    base_url = environ.get("SLACK_BASE_URL") or None
    if base_url and not base_url.endswith("/"):
        base_url += "/"
    # buttons only where the receiver can verify the clicks
    interactive = any(environ.get(name) for name in ("SLACK_SIGNING_SECRET",
                                                     "SLACK_SIGNING_SECRET_FILE"))
    return SlackNotifier(SlackSettings(token, str(channel.settings["channel"]), base_url=base_url,
                                       interactive=interactive))


def build_phone(channel: Channel, policy: Policy, environ: Mapping[str, str]) -> Notifier:
    dialers = _providers(channel, environ, _DIALERS)
    settings = PhoneSettings(str(channel.settings["from_number"]),
                             public_url=environ.get("CALLWATCH_PUBLIC_URL", ""),
                             machine_detection=bool(channel.settings.get("machine_detection")))
    return PhoneNotifier(settings, dialers)


def build_sms(channel: Channel, policy: Policy, environ: Mapping[str, str]) -> Notifier:
    texters = _providers(channel, environ, _TEXTERS)
    return SmsNotifier(SmsSettings(str(channel.settings["from_number"])), texters)


def _providers(channel: Channel, environ: Mapping[str, str],
               builders: Mapping[str, Callable[[Mapping[str, str]], Any]]) -> list[Any]:
    """The channel's providers (``providers``, default twilio then telnyx) that are configured;
    MissingSecret when none is, ValueError for an unknown one."""
    names = tuple(channel.settings.get("providers") or ("twilio", "telnyx"))
    found: list[Any] = []
    missing: list[str] = []
    for name in names:
        if name not in builders:
            raise ValueError(f"unknown {channel.type} provider {name!r} (known: twilio, telnyx)")
        try:
            found.append(builders[name](environ))
        except MissingSecret as exc:
            missing.append(str(exc))
    if not found:
        raise MissingSecret(f"no {channel.type} provider configured: " + "; ".join(missing))
    for problem in missing:
        log.warning(f"{channel.type} provider not configured",
                    extra={"channel": channel.name, "problem": problem})
    return found


def _twilio_settings(environ: Mapping[str, str]) -> TwilioSettings:
    sid = environ.get("TWILIO_ACCOUNT_SID")
    if not sid:
        raise MissingSecret("twilio: TWILIO_ACCOUNT_SID not set")
    token = channel_secret({}, environ, "auth_token", "TWILIO_AUTH_TOKEN")
    return TwilioSettings(sid, token, base_url=environ.get("TWILIO_BASE_URL") or None)


def _telnyx_settings(environ: Mapping[str, str], connection: str = "") -> TelnyxSettings:
    key = channel_secret({}, environ, "api_key", "TELNYX_API_KEY")
    return TelnyxSettings(key, connection,
                          base_url=environ.get("TELNYX_BASE_URL") or TELNYX_DEFAULT_BASE_URL)


def _telnyx_dialer(environ: Mapping[str, str]) -> Dialer:
    connection = environ.get("TELNYX_CONNECTION_ID")
    if not connection:
        raise MissingSecret("telnyx: TELNYX_CONNECTION_ID not set")
    return TelnyxDialer(_telnyx_settings(environ, connection))


def smtp_settings(channel: Channel, environ: Mapping[str, str]) -> SmtpSettings:
    """An email channel's SMTP settings; the password only when a username is set.

    SMTP_HOST, SMTP_PORT and SMTP_USERNAME, when set, override the channel's smtp_host,
    smtp_port and username (the simulator and containers point mail elsewhere this way).
    """
    settings = channel.settings
    username = environ.get("SMTP_USERNAME") or str(settings.get("username") or "")
    password = ""
    if username:
        password = channel_secret(settings, environ, "password", "SMTP_PASSWORD")
    try:
        port = int(environ.get("SMTP_PORT") or settings["smtp_port"])
    except ValueError:
        raise ValueError("SMTP_PORT must be a TCP port number") from None
    return SmtpSettings(
        host=environ.get("SMTP_HOST") or str(settings["smtp_host"]), port=port,
        from_address=str(settings["from_address"]), to=tuple(settings["to"]),
        starttls=bool(settings.get("starttls", False)), username=username, password=password,
        ca_file=environ.get("SMTP_CA_FILE") or None)


def build_email(channel: Channel, policy: Policy, environ: Mapping[str, str]) -> Notifier:
    return EmailNotifier(smtp_settings(channel, environ))


def build_digest(channel: Channel, policy: Policy, environ: Mapping[str, str]) -> Notifier:
    """The digest sends through the SMTP settings of the policy's first ``email`` channel."""
    email = next((c for c in policy.channels.values() if c.type == "email"), None)
    if email is None:
        raise ValueError("the digest channel needs an email channel's SMTP settings")
    settings = channel.settings
    return DigestNotifier(DigestSettings(smtp_settings(email, environ), tuple(settings["to"]),
                                         str(settings["send_at"]), str(settings["timezone"])))


_BUILDERS: dict[str, Callable[[Channel, Policy, Mapping[str, str]], Notifier]] = {
    "pagerduty": build_pagerduty, "slack": build_slack, "phone": build_phone,
    "email": build_email, "digest": build_digest, "sms": build_sms,
}
_DIALERS: dict[str, Callable[[Mapping[str, str]], Dialer]] = {
    "twilio": lambda environ: TwilioDialer(_twilio_settings(environ)), "telnyx": _telnyx_dialer}
_TEXTERS: dict[str, Callable[[Mapping[str, str]], Texter]] = {
    "twilio": lambda environ: TwilioTexter(_twilio_settings(environ)),
    "telnyx": lambda environ: TelnyxTexter(_telnyx_settings(environ))}

"""One harness per notifier for the shared contract tests (tests/notify/test_contract.py).

A harness starts its far side (a wire-protocol stand-in on loopback), knows the secrets it gives
the notifier, and builds a notifier whose far side behaves as a ``Spec`` says: ``("ok",)``,
``("http", status)`` (the simulator answers every request with that status in the provider's
own error format, enough times to exhaust SDK retries), ``("slack_error", code)`` (ok:false),
``("refused",)`` (nothing listening), ``("blackhole",)`` (accepts, never answers),
``("smtp", reply)`` (RCPT answered with ``reply``), ``("wrong_password",)``, ``("no_starttls",)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from receiver.notify.base import Notification
from receiver.notify.digest import DigestNotifier, DigestSettings
from receiver.notify.email import EmailNotifier, SmtpSettings
from receiver.notify.pagerduty import PagerDutyNotifier, PagerDutySettings
from receiver.notify.phone import (
    PhoneNotifier,
    PhoneSettings,
    TelnyxDialer,
    TwilioDialer,
)
from receiver.notify.providers import TelnyxSettings, TwilioSettings
from receiver.notify.slack import SlackNotifier, SlackSettings
from receiver.notify.statuspage import StatuspageNotifier, StatuspageSettings
from tests.notify.standins import SmtpSink

TIMEOUT = 1.5   # far side that never answers: how long each notifier waits (not less: a loaded
#               CI machine can take longer than 0.3 s to answer an ordinary request)


@dataclass
class Env:
    """What the harnesses get from the test: fixtures and the two dead endpoints."""

    sim: Any
    certs: tuple[str, str]
    smtp_server: Any
    refused_port: int
    blackhole_port: int


def notification(channel: str, **extra) -> Notification:
    values = {"id": "n-1", "incident_id": "inc-1", "channel": channel, "kind": "trigger",
              "priority": "P0", "summary": "Call drop rate critical on telnyx",
              "text": "6.2% of calls dropped", "html": "<p>6.2% of calls dropped</p>",
              "provider": "telnyx", "recipients": ("+15005550001",),
              "dedup_key": "callwatch-inc-1",
              "links": {"runbook": "https://runbooks.example/drop"},
              "details": {"alertname": "TelephonyCallDropRateHigh", "value": "6.2%"}}
    values.update(extra)
    return Notification(**values)


class HttpHarness:
    """The HTTP notifiers, against the simulator (or a refused / black-hole endpoint)."""

    name = service = ""
    tls = False

    def __init__(self, env: Env) -> None:
        self.env = env
        self.vars = env.sim.env()

    @property
    def secrets(self) -> tuple[str, ...]:
        raise NotImplementedError

    async def start(self) -> None:
        return None  # the simulator is already running

    def base_for(self, spec: tuple, url: str) -> str:
        scheme = "https" if self.tls else "http"
        if spec[0] == "refused":
            return f"{scheme}://127.0.0.1:{self.env.refused_port}"
        if spec[0] == "blackhole":
            return f"{scheme}://127.0.0.1:{self.env.blackhole_port}"
        if spec[0] == "http":
            self.env.sim.fail(self.service, spec[1], count=12)
        if spec[0] == "slack_error":
            self.env.sim.slack.errors.append(spec[1])
        return url.rstrip("/")

    def note(self) -> Notification:
        return notification(self.name)


class PagerDutyHarness(HttpHarness):
    name = service = "pagerduty"
    tls = True

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.vars["PAGERDUTY_ROUTING_KEY"],)

    def build(self, spec: tuple) -> PagerDutyNotifier:
        return PagerDutyNotifier(PagerDutySettings(
            self.secrets[0], base_url=self.base_for(spec, self.vars["PAGERDUTY_BASE_URL"]),
            ca_file=self.vars["PAGERDUTY_CA_FILE"], timeout=TIMEOUT, sleep_timer=0.01))


class SlackHarness(HttpHarness):
    name = service = "slack"

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.vars["SLACK_BOT_TOKEN"],)

    def build(self, spec: tuple) -> SlackNotifier:
        base = self.base_for(spec, self.vars["SLACK_BASE_URL"].removesuffix("/api/"))
        return SlackNotifier(SlackSettings(self.secrets[0], "#incidents", base_url=f"{base}/api/",
                                           timeout=TIMEOUT, rate_limit_retries=0,
                                           connection_retries=0))


class TwilioHarness(HttpHarness):
    name, service = "phone via twilio", "twilio"

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.vars["TWILIO_AUTH_TOKEN"],)

    def build(self, spec: tuple) -> PhoneNotifier:
        dialer = TwilioDialer(TwilioSettings(
            self.vars["TWILIO_ACCOUNT_SID"], self.secrets[0],
            base_url=self.base_for(spec, self.vars["TWILIO_BASE_URL"]), timeout=TIMEOUT))
        return PhoneNotifier(PhoneSettings("+15005550006"), [dialer])


class TelnyxHarness(HttpHarness):
    name, service = "phone via telnyx", "telnyx"

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.vars["TELNYX_API_KEY"],)

    def build(self, spec: tuple) -> PhoneNotifier:
        base = self.base_for(spec, self.vars["TELNYX_BASE_URL"].removesuffix("/v2"))
        dialer = TelnyxDialer(TelnyxSettings(self.secrets[0], self.vars["TELNYX_CONNECTION_ID"],
                                             base_url=f"{base}/v2", timeout=TIMEOUT,
                                             max_retries=0))
        return PhoneNotifier(PhoneSettings("+15005550006"), [dialer])


class StatuspageHarness(HttpHarness):
    name = service = "statuspage"

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.vars["STATUSPAGE_API_KEY"],)

    def build(self, spec: tuple) -> StatuspageNotifier:
        base = self.base_for(spec, self.vars["STATUSPAGE_API_URL"].removesuffix("/statuspage/v1"))
        return StatuspageNotifier(StatuspageSettings(
            self.secrets[0], self.vars["STATUSPAGE_PAGE_ID"], base_url=f"{base}/statuspage/v1",
            timeout=TIMEOUT))

    def note(self) -> Notification:
        return notification(self.name, details={"status": "investigating", "impact": "major",
                                                "components": "cmp-telnyx"})


class EmailHarness:
    """A real aiosmtpd server with STARTTLS and a login; ``digest`` sends through the same code."""

    name = "email"
    secrets = ("smtp-contract-password", "smtp-wrong-password-99")
    digest = False

    def __init__(self, env: Env) -> None:
        self.env = env
        self.sink = SmtpSink()
        self.port = 0

    async def start(self) -> None:
        self.port = self.env.smtp_server(self.sink, starttls=True,
                                         auth=("callwatch", self.secrets[0]))

    def build(self, spec: tuple):
        port, password, starttls = self.port, self.secrets[0], True
        if spec[0] == "refused":
            port = self.env.refused_port
        elif spec[0] == "blackhole":
            port = self.env.blackhole_port
        elif spec[0] == "smtp":
            self.sink.rcpt_reply = spec[1]
        elif spec[0] == "wrong_password":
            password = self.secrets[1]
        elif spec[0] == "no_starttls":
            port = self.env.smtp_server(SmtpSink())
        smtp = SmtpSettings("127.0.0.1", port, "callwatch@example.com", ("oncall@example.com",),
                            starttls=starttls, username="callwatch", password=password,
                            timeout=TIMEOUT * 3, ca_file=self.env.certs[0])
        if self.digest:
            return DigestNotifier(DigestSettings(smtp, ("team@example.com",), "09:00", "UTC"))
        return EmailNotifier(smtp)

    def note(self) -> Notification:
        if self.digest:
            return notification("digest", kind="digest", priority="P3", recipients=())
        return notification("email", recipients=())


class DigestHarness(EmailHarness):
    name, digest = "digest", True


HARNESSES = {h.name: h for h in (PagerDutyHarness, SlackHarness, TwilioHarness, TelnyxHarness,
                                 StatuspageHarness, EmailHarness, DigestHarness)}

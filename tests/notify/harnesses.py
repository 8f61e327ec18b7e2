"""One harness per notifier for the shared contract tests (tests/notify/test_contract.py).

A harness starts its far side (a wire-protocol stand-in on loopback), knows the secrets it gives
the notifier, and builds a notifier whose far side behaves as a ``Spec`` says: ``("ok",)``,
``("http", status, body)`` (every request answered so, enough times to exhaust SDK retries),
``("refused",)`` (nothing listening), ``("blackhole",)`` (accepts, never answers),
``("smtp", reply)`` (RCPT answered with ``reply``), ``("wrong_password",)``, ``("no_starttls",)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from receiver.notify.base import Notification
from receiver.notify.digest import DigestNotifier
from receiver.notify.email import EmailNotifier, SmtpSettings
from receiver.notify.pagerduty import PagerDutyNotifier
from receiver.notify.phone import PhoneNotifier, TelnyxDialer, TwilioDialer
from receiver.notify.slack import SlackNotifier
from tests.notify.standins import (
    SmtpSink, StandIn, pagerduty_app, slack_app, telnyx_app, twilio_app,
)

TIMEOUT = 0.3   # far side that never answers: how long each notifier waits


@dataclass
class Env:
    """What the harnesses get from the test: fixtures and the two dead endpoints."""

    serve: Any
    tls: Any
    certs: tuple[str, str]
    smtp_server: Any
    refused_port: int
    blackhole_port: int


def notification(channel: str, **extra) -> Notification:
    values = dict(id="n-1", incident_id="inc-1", channel=channel, kind="trigger", priority="P0",
                  summary="Call drop rate critical on telnyx", text="6.2% of calls dropped",
                  html="<p>6.2% of calls dropped</p>", provider="telnyx",
                  recipients=("+15005550001",), dedup_key="callwatch-inc-1",
                  links={"runbook": "https://runbooks.example/drop"},
                  details={"alertname": "TelephonyCallDropRateHigh", "value": "6.2%"})
    values.update(extra)
    return Notification(**values)


class HttpHarness:
    """Shared by the HTTP notifiers: one StandIn, three endpoints (stand-in, refused, blackhole)."""

    name = ""
    secrets: tuple[str, ...] = ()
    tls = False

    def __init__(self, env: Env) -> None:
        self.env = env
        self.stand = StandIn()
        self.url = ""

    def app(self):
        raise NotImplementedError

    async def start(self) -> None:
        self.url = await self.env.serve(self.app(), self.env.tls if self.tls else None)

    def base_for(self, spec: tuple) -> str:
        scheme = "https" if self.tls else "http"
        if spec[0] == "refused":
            return f"{scheme}://127.0.0.1:{self.env.refused_port}"
        if spec[0] == "blackhole":
            return f"{scheme}://127.0.0.1:{self.env.blackhole_port}"
        if spec[0] == "http":
            self.stand.failures.extend([(spec[1], spec[2])] * 12)
        return self.url

    def note(self) -> Notification:
        return notification(self.name)


class PagerDutyHarness(HttpHarness):
    name, secrets, tls = "pagerduty", ("pd-contract-routing-key-77",), True

    def app(self):
        return pagerduty_app(self.stand)

    def build(self, spec: tuple) -> PagerDutyNotifier:
        return PagerDutyNotifier(self.secrets[0], base_url=self.base_for(spec),
                                 ca_file=self.env.certs[0], timeout=TIMEOUT, sleep_timer=0.01)


class SlackHarness(HttpHarness):
    name, secrets = "slack", ("xoxb-test-token-1234",)

    def app(self):
        return slack_app(self.stand)

    def build(self, spec: tuple) -> SlackNotifier:
        return SlackNotifier(self.secrets[0], "#incidents", base_url=f"{self.base_for(spec)}/api/",
                             timeout=TIMEOUT, rate_limit_retries=0, connection_retries=0)


class TwilioHarness(HttpHarness):
    name, secrets = "phone via twilio", ("twilio-contract-auth-token",)

    def app(self):
        return twilio_app(self.stand)

    def build(self, spec: tuple) -> PhoneNotifier:
        dialer = TwilioDialer("AC" + "3" * 32, self.secrets[0], base_url=self.base_for(spec),
                              timeout=TIMEOUT)
        return PhoneNotifier("+15005550006", [dialer])


class TelnyxHarness(HttpHarness):
    name, secrets = "phone via telnyx", ("KEY-telnyx-contract-secret",)

    def app(self):
        return telnyx_app(self.stand)

    def build(self, spec: tuple) -> PhoneNotifier:
        dialer = TelnyxDialer(self.secrets[0], "conn-1", base_url=f"{self.base_for(spec)}/v2",
                              timeout=TIMEOUT, max_retries=0)
        return PhoneNotifier("+15005550006", [dialer])


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
        self.port = self.env.smtp_server(self.sink, starttls=True, auth=("callwatch", self.secrets[0]))

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
            return DigestNotifier(smtp, ("team@example.com",), "09:00", "UTC")
        return EmailNotifier(smtp)

    def note(self) -> Notification:
        if self.digest:
            return notification("digest", kind="digest", priority="P3", recipients=())
        return notification("email", recipients=())


class DigestHarness(EmailHarness):
    name, digest = "digest", True


HARNESSES = {h.name: h for h in (PagerDutyHarness, SlackHarness, TwilioHarness, TelnyxHarness,
                                 EmailHarness, DigestHarness)}

"""Email through smtplib to a real aiosmtpd server: text + HTML, STARTTLS, auth, SMTP codes."""

from __future__ import annotations

import email
import email.policy
from dataclasses import replace

import pytest

from receiver.notify.base import Notification, NotifyError
from receiver.notify.email import EmailNotifier, SmtpSettings
from tests.notify.conftest import free_port
from tests.notify.standins import SmtpSink

PASSWORD = "smtp-pass-w0rd-secret"


def note(kind: str = "trigger", thread_ref: str | None = None) -> Notification:
    return Notification(
        id="n-1", incident_id="inc-3", channel="email", kind=kind, priority="P2",
        summary="Webhook failure rate high on telnyx", text="12% of webhooks failed",
        html="<p>12% of <b>webhooks</b> failed</p>", provider="telnyx", thread_ref=thread_ref,
        links={"runbook": "https://runbooks.example/webhooks"})


def settings(port: int, **overrides) -> SmtpSettings:
    values = {"host": "127.0.0.1", "port": port, "from_address": "callwatch@example.com",
              "to": ("oncall@example.com",), "timeout": 5.0}
    values.update(overrides)
    return SmtpSettings(**values)


def parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


async def test_an_email_arrives_over_starttls_with_login_and_has_text_and_html_parts(
        smtp_server, certs):
    sink = SmtpSink()
    port = smtp_server(sink, starttls=True, auth=("callwatch", PASSWORD))
    notifier = EmailNotifier(settings(port, starttls=True, username="callwatch",
                                      password=PASSWORD, ca_file=certs[0]))
    delivery = await notifier.send(note())
    (mail_from, rcpt, raw) = sink.messages[0]
    message = parse(raw)
    assert mail_from == "callwatch@example.com" and rcpt == ["oncall@example.com"]
    assert message["Message-ID"] == delivery.ref
    assert message["Subject"] == "[P2] Webhook failure rate high on telnyx"
    assert message.get_body(("plain",)).get_content() == "12% of webhooks failed\r\n"
    assert message.get_body(("html",)).get_content() == "<p>12% of <b>webhooks</b> failed</p>\r\n"


async def test_a_notification_without_html_is_a_text_only_email(smtp_server):
    sink = SmtpSink()
    await EmailNotifier(settings(smtp_server(sink))).send(replace(note(), html=None))
    message = parse(sink.messages[0][2])
    assert message.get_body(("html",)) is None and not message.is_multipart()


async def test_the_date_header_comes_from_the_injected_clock(smtp_server):
    sink = SmtpSink()
    await EmailNotifier(settings(smtp_server(sink)), clock=lambda: 1_700_000_000.0).send(note())
    assert parse(sink.messages[0][2])["Date"] == "Tue, 14 Nov 2023 22:13:20 -0000"


async def test_a_follow_up_email_threads_under_the_first_message(smtp_server):
    sink = SmtpSink()
    notifier = EmailNotifier(settings(smtp_server(sink)))
    first = await notifier.send(note())
    await notifier.send(note("resolve", thread_ref=first.ref))
    assert parse(sink.messages[1][2])["In-Reply-To"] == first.ref


async def test_a_server_that_does_not_offer_starttls_gets_no_message_and_no_login(smtp_server):
    sink = SmtpSink()
    notifier = EmailNotifier(settings(smtp_server(sink), starttls=True, username="callwatch",
                                      password=PASSWORD))
    with pytest.raises(NotifyError) as caught:
        await notifier.send(note())
    assert (caught.value.reason, caught.value.retryable) == ("config", False)
    assert "STARTTLS" in caught.value.detail and sink.messages == []


async def test_a_wrong_password_is_an_auth_error_that_is_not_retried(smtp_server, certs):
    port = smtp_server(SmtpSink(), starttls=True, auth=("callwatch", "the-right-one"))
    notifier = EmailNotifier(settings(port, starttls=True, username="callwatch",
                                      password=PASSWORD, ca_file=certs[0]))
    with pytest.raises(NotifyError) as caught:
        await notifier.send(note())
    assert (caught.value.reason, caught.value.retryable) == ("auth", False)
    assert PASSWORD not in str(caught.value)


@pytest.mark.parametrize(("reply", "reason", "retryable"), [
    ("451 4.3.0 try again later", "server_error", True),
    ("550 5.1.1 no such mailbox", "rejected", False),
])
async def test_an_smtp_reply_code_decides_whether_to_retry(smtp_server, reply, reason, retryable):
    notifier = EmailNotifier(settings(smtp_server(SmtpSink(rcpt_reply=reply))))
    with pytest.raises(NotifyError) as caught:
        await notifier.send(note())
    assert (caught.value.reason, caught.value.retryable) == (reason, retryable)


async def test_nobody_listening_is_a_retryable_connection_error():
    with pytest.raises(NotifyError) as caught:
        await EmailNotifier(settings(free_port())).send(note())
    assert (caught.value.reason, caught.value.retryable) == ("connection", True)

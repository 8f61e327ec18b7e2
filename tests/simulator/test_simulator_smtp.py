"""The SMTP sink, driven by the standard library's smtplib."""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage

import pytest

from simulator.smtp import SmtpSink
from simulator.tls import make_certificate


def _message() -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"] = "callwatch@example.com", "oncall@example.com"
    message["Subject"] = "[P1] Twilio drop rate 6.2%"
    message.set_content("Drop rate 6.2% of answered calls")
    message.add_alternative("<p>Drop rate <b>6.2%</b></p>", subtype="html")
    return message


def _send(port: int, message: EmailMessage, login: tuple[str, str] | None = None,
          starttls_cafile: str | None = None) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
        if starttls_cafile:
            import ssl
            client.starttls(context=ssl.create_default_context(cafile=starttls_cafile))
        if login:
            client.login(*login)
        client.send_message(message)


@pytest.fixture
async def sink(recorder, faults):
    sink = SmtpSink(recorder, faults)
    await sink.start()
    yield sink
    await sink.stop()


async def test_a_message_is_recorded_with_its_text_and_html_parts(sink, recorder):
    await asyncio.to_thread(_send, sink.port, _message())
    [mail] = sink.messages
    assert mail.rcpt_tos == ("oncall@example.com",) and mail.subject.startswith("[P1]")
    assert "6.2%" in mail.text and "<b>6.2%</b>" in mail.html
    assert recorder.requests("smtp")[0].headers["Subject"] == "[P1] Twilio drop rate 6.2%"


async def test_an_injected_rejection_is_an_smtp_error_then_clears(sink, faults):
    faults.fail("smtp", 554, count=1)
    with pytest.raises(smtplib.SMTPDataError) as caught:
        await asyncio.to_thread(_send, sink.port, _message())
    assert caught.value.smtp_code == 554 and sink.messages == []
    await asyncio.to_thread(_send, sink.port, _message())
    assert len(sink.messages) == 1


async def test_auth_is_required_when_configured_and_starttls_is_offered(tmp_path, recorder, faults):
    cert = make_certificate(tmp_path)
    sink = SmtpSink(recorder, faults, username="callwatch", password="s3cret", certificate=cert)
    await sink.start()
    try:
        with pytest.raises(smtplib.SMTPSenderRefused):
            await asyncio.to_thread(_send, sink.port, _message())
        with pytest.raises(smtplib.SMTPAuthenticationError):
            await asyncio.to_thread(_send, sink.port, _message(), ("callwatch", "wrong"))
        await asyncio.to_thread(_send, sink.port, _message(), ("callwatch", "s3cret"),
                                cert.cert_file)
        assert len(sink.messages) == 1
    finally:
        await sink.stop()

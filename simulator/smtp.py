"""An SMTP sink: a real ``aiosmtpd`` server on 127.0.0.1 recording parsed messages.

``SmtpSink.start()`` listens on an ephemeral port in the running event loop. Each accepted
message becomes a :class:`Mail` (envelope sender and recipients, From, To, Subject, the text
and HTML parts) in ``sink.messages`` and a recorded request of service ``smtp``. Rejection on
demand goes through fault injection: ``faults.fail("smtp", 554, 1)`` makes the next DATA answer
``554``. With ``username``/``password`` set, AUTH (PLAIN/LOGIN) is required; with a
certificate, STARTTLS is offered.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
from dataclasses import dataclass

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from simulator.core import Faults, Recorder
from simulator.tls import Certificate


@dataclass(frozen=True)
class Mail:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    from_: str
    to: str
    subject: str
    text: str | None
    html: str | None
    raw: str


def parse_mail(mail_from: str, rcpt_tos: list[str], content: bytes) -> Mail:
    """The parts of a message a test checks."""
    message = email.message_from_bytes(content, policy=email.policy.default)
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    return Mail(mail_from, tuple(rcpt_tos), str(message.get("From", "")),
                str(message.get("To", "")), str(message.get("Subject", "")),
                text.get_content() if text is not None else None,
                html.get_content() if html is not None else None,
                content.decode("utf-8", "replace"))


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server, session, envelope) -> str:
        status = self.sink.faults.take("smtp")
        if status is not None:
            return f"{status} 5.7.1 rejected by the simulator"
        mail = parse_mail(envelope.mail_from, list(envelope.rcpt_tos), envelope.content)
        self.sink.messages.append(mail)
        self.sink.recorder.add("smtp", "DATA", "/", {"mail_from": mail.mail_from,
                                                   "rcpt_tos": ",".join(mail.rcpt_tos)},
                               {"Subject": mail.subject, "From": mail.from_, "To": mail.to},
                               mail.raw, "message/rfc822")
        return "250 Message accepted for delivery"


class SmtpSink:
    """The sink; ``port`` is set once :meth:`start` returns."""

    def __init__(self, recorder: Recorder, faults: Faults, username: str | None = None,
                 password: str | None = None, certificate: Certificate | None = None) -> None:
        self.recorder, self.faults = recorder, faults
        self.username, self.password = username, password
        self.certificate = certificate
        self.messages: list[Mail] = []
        self.port = 0
        self._server: asyncio.AbstractServer | None = None

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login.decode() == self.username
              and auth_data.password.decode() == self.password)
        return AuthResult(success=ok, handled=False)

    def _protocol(self) -> SMTP:
        auth = self.username is not None
        return SMTP(_Handler(self), hostname="smtp.simulator.test", loop=asyncio.get_running_loop(),
                    authenticator=self._authenticate if auth else None, auth_required=auth,
                    auth_require_tls=False,
                    tls_context=self.certificate.server_context() if self.certificate else None)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._protocol, host, port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

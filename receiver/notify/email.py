"""Email over SMTP with the standard library's smtplib, run in a worker thread.

Why smtplib and not aiosmtplib: one message per send, a short session, no new dependency, and the
notifier's own worker threads keep the event loop free just as well (and a hung SMTP server
cannot starve the loop's shared default executor). Each message is plain text with an HTML
alternative; ``Delivery.ref`` is its Message-ID, and a later message about the same incident
(``thread_ref`` = the first Message-ID) carries In-Reply-To/References so mail clients thread it.
With ``starttls`` on, a server that does not offer STARTTLS is refused (never a plaintext login).
"""

from __future__ import annotations

import asyncio
import smtplib
import socket
import ssl
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from receiver.notify.base import Delivery, Notification, NotifyError
from receiver.notify.common import tagged, truncate


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send. ``password`` is the resolved secret (never logged)."""

    host: str
    port: int
    from_address: str
    to: tuple[str, ...]
    starttls: bool = False
    username: str = ""
    password: str = field(default="", repr=False)
    timeout: float = 15.0
    ca_file: str | None = None       # extra CA to trust for STARTTLS (tests, private relays)


class EmailNotifier:
    """Sends each notification as one email to ``Notification.recipients`` or else ``smtp.to``."""

    channel_type = "email"

    def __init__(self, smtp: SmtpSettings, *, subject_prefix: str = "",
                 clock: Callable[[], float] = time.time, workers: int = 2) -> None:
        self.smtp = smtp
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="smtp")
        self._subject_prefix = subject_prefix
        self._clock = clock  # the Date header
        self._tls = ssl.create_default_context(cafile=smtp.ca_file)

    async def send(self, notification: Notification) -> Delivery:
        recipients = tuple(notification.recipients) or self.smtp.to
        if not recipients:
            raise NotifyError("config", "email has no recipients", retryable=False)
        message = build_email(notification, self.smtp.from_address, recipients,
                              self._subject_prefix, self._clock())
        await asyncio.get_running_loop().run_in_executor(
            self._pool, self._deliver, message, recipients)
        return Delivery(ref=message["Message-ID"], via="smtp")

    def _deliver(self, message: EmailMessage, recipients: tuple[str, ...]) -> None:
        """One SMTP session (worker thread); every failure becomes a classified NotifyError."""
        try:
            with smtplib.SMTP(self.smtp.host, self.smtp.port, timeout=self.smtp.timeout) as smtp:
                smtp.ehlo()
                if self.smtp.starttls:
                    smtp.starttls(context=self._tls)
                    smtp.ehlo()
                if self.smtp.username:
                    smtp.login(self.smtp.username, self.smtp.password)
                smtp.send_message(message, to_addrs=list(recipients))
        except Exception as exc:  # noqa: BLE001 - classified, never re-raised raw (may hold secrets)
            raise classify_smtp(exc) from None

    async def close(self) -> None:
        # One connection per send, each bounded by the SMTP timeout: nothing to wait for.
        self._pool.shutdown(wait=False)


def build_email(n: Notification, sender: str, recipients: tuple[str, ...],
                subject_prefix: str = "", now: float | None = None) -> EmailMessage:
    """The message: headers, the rendered text body, and its HTML alternative when the
    notification has one (a vendor draft is text only)."""
    message = EmailMessage()
    subject = subject_prefix + tagged(n.priority, n.summary)
    message["Subject"] = truncate(" ".join(subject.split()), 200)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(now, localtime=False)
    domain = sender.rpartition("@")[2] or "callwatch.local"
    message["Message-ID"] = make_msgid("callwatch", domain=domain)
    message["X-Callwatch-Incident"] = n.incident_id
    if n.thread_ref and n.kind != "trigger":
        message["In-Reply-To"] = n.thread_ref
        message["References"] = n.thread_ref
    message.set_content(n.text or n.summary)
    if n.html:
        message.add_alternative(n.html, subtype="html")
    return message


def classify_smtp(exc: Exception) -> NotifyError:
    """SMTP failure → NotifyError: 4xx retry, 5xx rejected, auth/TLS-config no retry, network
    retry."""
    if isinstance(exc, NotifyError):
        return exc
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return NotifyError("auth", f"SMTP server refused the login ({exc.smtp_code})",
                           retryable=False)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return NotifyError("config", "SMTP server does not offer a required extension "
                           "(STARTTLS or AUTH)", retryable=False)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return _code_error(min(codes) if codes else 550, "refused every recipient")
    if isinstance(exc, smtplib.SMTPResponseException):
        return _code_error(exc.smtp_code, "answered")
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        if isinstance(exc.__context__, TimeoutError):  # smtplib wraps a read timeout this way
            return NotifyError("timeout", "SMTP server timed out", retryable=True)
        return NotifyError("connection", "SMTP server closed the connection", retryable=True)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return NotifyError("config", "SMTP server certificate not trusted", retryable=False)
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return NotifyError("timeout", "SMTP server timed out", retryable=True)
    if isinstance(exc, OSError):
        return NotifyError("connection", f"cannot reach the SMTP server ({type(exc).__name__})",
                           retryable=True)
    return NotifyError("rejected", f"SMTP failure ({type(exc).__name__})", retryable=False)


def _code_error(code: int, what: str) -> NotifyError:
    if 400 <= code < 500:
        return NotifyError("server_error", f"SMTP server {what} {code} (temporary)",
                           retryable=True)
    if code == 530:
        return NotifyError("auth", "SMTP server requires authentication (530)", retryable=False)
    return NotifyError("rejected", f"SMTP server {what} {code}", retryable=False)

"""Local SMTP pieces the simulator's sink does not offer, for the email tests.

A real aiosmtpd handler that can answer RCPT with any reply (4xx/5xx), an authenticator, and a
throwaway certificate for STARTTLS; servers without STARTTLS are plain aiosmtpd. The HTTP
providers (PagerDuty, Slack, Twilio, Telnyx) are exercised against ``simulator/`` instead.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from pathlib import Path


def self_signed(directory: Path) -> tuple[str, str]:
    """A throwaway certificate for 127.0.0.1/localhost: (cert_file, key_file)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_file), str(key_file)


def server_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert_file, key_file)
    return ctx


class SmtpSink:
    """An aiosmtpd handler recording each message; ``rcpt_reply`` (e.g. "451 …") refuses RCPT."""

    def __init__(self, rcpt_reply: str | None = None) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.rcpt_reply = rcpt_reply

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


def password_checker(username: str, password: str):
    """An aiosmtpd authenticator accepting exactly ``username``/``password``."""
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def check(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == username
              and auth_data.password.decode() == password)
        return AuthResult(success=ok, handled=False)

    return check

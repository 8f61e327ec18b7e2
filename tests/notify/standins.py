"""Small local stand-ins speaking the real wire protocols, until the simulator's are merged.

Each records what it received (``requests``: method, path, headers, parsed body) and answers
from ``failures`` (a queue of ``(status, json_body)``) before answering normally. Loopback only.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl

from aiohttp import web


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict
    body: object


@dataclass
class StandIn:
    """Shared recording and failure injection; ``app`` is the aiohttp app to serve."""

    requests: list[Recorded] = field(default_factory=list)
    failures: list[tuple[int, object]] = field(default_factory=list)
    counter: int = 0

    async def record(self, request: web.Request) -> object:
        raw = await request.read()
        if request.content_type == "application/x-www-form-urlencoded":
            body: object = dict(parse_qsl(raw.decode()))
        else:
            body = json.loads(raw) if raw else None
        self.requests.append(Recorded(request.method, request.path, dict(request.headers), body))
        return body

    def next_failure(self) -> web.Response | None:
        if not self.failures:
            return None
        status, payload = self.failures.pop(0)
        if isinstance(payload, str):
            return web.Response(status=status, text=payload, content_type="text/html")
        return web.json_response(payload, status=status, headers={"Retry-After": "0"})

    def next_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter:032d}"


def pagerduty_app(stand: StandIn) -> web.Application:
    """PagerDuty Events API v2: ``POST /v2/enqueue`` → 202 with the dedup_key."""

    async def enqueue(request: web.Request) -> web.Response:
        body = await stand.record(request)
        failure = stand.next_failure()
        if failure is not None:
            return failure
        key = body.get("dedup_key") or stand.next_id("pd")
        return web.json_response(
            {"status": "success", "message": "Event processed", "dedup_key": key}, status=202)

    app = web.Application()
    app.router.add_post("/v2/enqueue", enqueue)
    return app


def slack_app(stand: StandIn) -> web.Application:
    """Slack Web API: ``/api/chat.postMessage`` and ``/api/chat.update``."""

    async def post_message(request: web.Request) -> web.Response:
        body = await stand.record(request)
        failure = stand.next_failure()
        if failure is not None:
            return failure
        if request.headers.get("Authorization") != "Bearer xoxb-test-token-1234":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        ts = f"1700000000.{stand.next_id('')[-6:]}"
        return web.json_response({"ok": True, "channel": "C123", "ts": ts,
                                  "message": {"text": body.get("text"), "ts": ts}})

    app = web.Application()
    app.router.add_post("/api/chat.postMessage", post_message)
    app.router.add_post("/api/chat.update", post_message)
    return app


def twilio_app(stand: StandIn) -> web.Application:
    """Twilio: ``POST /2010-04-01/Accounts/{sid}/Calls.json`` (form) → 201 call resource."""

    async def create_call(request: web.Request) -> web.Response:
        body = await stand.record(request)
        failure = stand.next_failure()
        if failure is not None:
            return failure
        sid = stand.next_id("CA")
        return web.json_response({"sid": sid, "account_sid": request.match_info["sid"],
                                  "to": body.get("To"), "from": body.get("From"),
                                  "status": "queued", "direction": "outbound-api"}, status=201)

    app = web.Application()
    app.router.add_post("/2010-04-01/Accounts/{sid}/Calls.json", create_call)
    return app


def telnyx_app(stand: StandIn) -> web.Application:
    """Telnyx Call Control: ``POST /v2/calls`` (dial) → 200 with the call control id."""

    async def dial(request: web.Request) -> web.Response:
        body = await stand.record(request)
        failure = stand.next_failure()
        if failure is not None:
            return failure
        cid = "v3:" + stand.next_id("")
        return web.json_response({"data": {
            "call_control_id": cid, "call_leg_id": cid[3:], "call_session_id": cid[3:],
            "is_alive": False, "record_type": "call", "client_state": body.get("client_state")}})

    app = web.Application()
    app.router.add_post("/v2/calls", dial)
    return app


def self_signed(directory: Path) -> tuple[str, str]:
    """A throwaway certificate for 127.0.0.1/localhost: (cert_file, key_file)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.timezone.utc)
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

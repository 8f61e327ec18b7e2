"""The customer's app: its provider webhook endpoints and its API, the targets of synthetic probes.

- ``POST /app/webhooks/twilio`` — verifies ``X-Twilio-Signature`` against the URL it was called
  at (the request URL, as a real app behind no proxy would), 403 JSON when forged or missing.
- ``POST /app/webhooks/telnyx`` — verifies the Ed25519 signature over ``timestamp|body``
  (300 s tolerance) with the account's public key, 403 JSON otherwise.
- ``GET /app/api/health`` and ``GET /app/api/calls`` — the app's own API.

Failure ratio and latency come from fault injection on service ``app`` (the scenario's
``app_failure_ratio``/``app_latency``): a failing request answers 500 before any of this runs.
Counts of verified and refused deliveries are kept in ``AppStats``.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from twilio.request_validator import RequestValidator

from simulator.state import SimState

TOLERANCE = 300


@dataclass
class AppStats:
    accepted: dict[str, int] = field(default_factory=lambda: {"twilio": 0, "telnyx": 0})
    refused: dict[str, int] = field(default_factory=lambda: {"twilio": 0, "telnyx": 0})

    def clear(self) -> None:
        for counts in (self.accepted, self.refused):
            for key in counts:
                counts[key] = 0


def _refuse(stats: AppStats, provider: str, detail: str) -> web.Response:
    stats.refused[provider] += 1
    return web.json_response({"error": "invalid_signature", "detail": detail}, status=403)


def verify_telnyx(public_key_b64: str, body: bytes, signature_b64: str, timestamp: str,
                  now: float) -> str | None:
    """None when the Telnyx signature is good; otherwise what is wrong."""
    try:
        ts = int(timestamp)
    except ValueError:
        return "telnyx-timestamp is missing or not a number"
    if abs(now - ts) > TOLERANCE:
        return "telnyx-timestamp is outside the 300 s tolerance"
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64))
        key.verify(base64.b64decode(signature_b64), f"{timestamp}|".encode() + body)
    except (InvalidSignature, binascii.Error, ValueError):
        return "telnyx-signature-ed25519 does not match the body"
    return None


def add_routes(app: web.Application, state: SimState, telnyx_public_key: str,
               stats: AppStats) -> None:
    """Mount the app's webhook endpoints and API."""
    validator = RequestValidator(state.twilio_auth_token)

    async def twilio_hook(request: web.Request) -> web.Response:
        form = await request.post()
        params = {k: str(v) for k, v in form.items()}
        signature = request.headers.get("X-Twilio-Signature", "")
        if not signature or not validator.validate(str(request.url), params, signature):
            return _refuse(stats, "twilio", "X-Twilio-Signature is missing or does not match")
        stats.accepted["twilio"] += 1
        return web.Response(text="<Response/>", content_type="text/xml")

    async def telnyx_hook(request: web.Request) -> web.Response:
        body = await request.read()
        problem = verify_telnyx(telnyx_public_key, body,
                                request.headers.get("telnyx-signature-ed25519", ""),
                                request.headers.get("telnyx-timestamp", ""), state.clock())
        if problem:
            return _refuse(stats, "telnyx", problem)
        stats.accepted["telnyx"] += 1
        return web.json_response({"received": True})

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def calls(request: web.Request) -> web.Response:
        active = {p: len(state.active_calls(p)) for p in ("twilio", "telnyx")}
        return web.json_response({"active_calls": active})

    app.router.add_post("/app/webhooks/twilio", twilio_hook)
    app.router.add_post("/app/webhooks/telnyx", telnyx_hook)
    app.router.add_get("/app/api/health", health)
    app.router.add_get("/app/api/calls", calls)

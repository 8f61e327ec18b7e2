"""What every provider callback shares: its signature checked before anything is read, its
event id remembered so a replay acts once, and a clear 503 while its key is not configured.

Twilio signs the public URL it called (``CALLWATCH_PUBLIC_URL`` + path + query) and the form
(``X-Twilio-Signature``, ``TWILIO_AUTH_TOKEN``); Telnyx signs ``timestamp|body`` with Ed25519
(``TELNYX_PUBLIC_KEY``, 300 s). Forged, missing or stale: 403. Replayed: 409.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl

import orjson
from aiohttp import web
from multidict import MultiDict

from callwatch.signatures import SignatureError
from callwatch.web import MAX_BODY, ApiError, read_body
from receiver.http.common import RECEIVER, store_errors
from receiver.services.state import ReceiverState


async def twilio_form(request: web.Request) -> tuple[ReceiverState, Mapping[str, str]]:
    """The receiver's state and the verified form of a Twilio callback."""
    state = request.app[RECEIVER]
    verifier = state.voice.twilio if state.voice else None
    if verifier is None:
        raise not_configured("twilio", "set TWILIO_AUTH_TOKEN")
    body = await read_body(request, request.app[MAX_BODY])
    try:
        form = MultiDict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        verifier.verify(public_url(state, str(request.rel_url)), form, request.headers)
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "malformed_payload", "body is not a form") from None
    except SignatureError as exc:
        raise refused(state, "twilio", 403, "invalid_signature", str(exc)) from None
    return state, form


async def telnyx_event(request: web.Request) -> tuple[ReceiverState, Mapping]:
    """The receiver's state and the verified ``data`` of a Telnyx event, acted on once."""
    state = request.app[RECEIVER]
    verifier = state.voice.telnyx if state.voice else None
    if verifier is None:
        raise not_configured("telnyx", "set TELNYX_PUBLIC_KEY")
    body = await read_body(request, request.app[MAX_BODY])
    try:
        verifier.verify(body, request.headers)
    except SignatureError as exc:
        raise refused(state, "telnyx", 403, "invalid_signature", str(exc)) from None
    data = _event_data(body)
    await once(state, "telnyx", str(data["id"]))
    return state, data


def _event_data(body: bytes) -> Mapping:
    try:
        document = orjson.loads(body)
    except ValueError:
        raise ApiError(400, "malformed_payload", "body is not JSON") from None
    data = document.get("data") if isinstance(document, dict) else None
    if not isinstance(data, dict):
        raise ApiError(400, "malformed_payload", "data: required object missing", field="data")
    for key in ("id", "event_type"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise ApiError(400, "malformed_payload", f"data.{key}: required string missing",
                           field=f"data.{key}")
    return data


async def once(state: ReceiverState, provider: str, event_id: str) -> None:
    """409 for a callback already acted on (a replay)."""
    with store_errors():
        fresh = await state.opened_store().record_callback(provider, event_id, state.clock())
    if not fresh:
        raise ApiError(409, "replayed", f"{provider} callback {event_id[:80]!r} was already "
                                        "acted on")


def refused(state: ReceiverState, source: str, status: int, code: str,
            detail: str) -> ApiError:
    """The error for a callback whose signature does not hold, counted by source
    (``callwatch_callback_signature_failures_total``): a burst means a rotated secret or an
    attack."""
    state.metrics.signature_failures.labels(source).inc()
    return ApiError(status, code, detail)


def public_url(state: ReceiverState, path: str) -> str:
    return state.config.public_url.rstrip("/") + path


def not_configured(provider: str, hint: str) -> ApiError:
    return ApiError(503, "not_configured", f"{provider} callbacks are not configured "
                                           f"({hint}); unsigned callbacks are never accepted")

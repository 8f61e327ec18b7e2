"""What every receiver endpoint shares: the app key of its state, authentication, JSON bodies
and fields, and store failures as 503s.

Credentials are checked exactly as Alertmanager's ``http_config`` sends them (a bearer token or
basic auth), compared in constant time.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from aiohttp import web

from callwatch.web import MAX_BODY, ApiError, read_body
from receiver.config import Credentials
from receiver.services.state import ReceiverState, StoreNotOpen
from receiver.store.base import StoreError

RECEIVER = web.AppKey("receiver", ReceiverState)


def authorized(header: str | None, credentials: Credentials) -> bool:
    """Whether the ``Authorization`` header carries the configured token or user/password."""
    if credentials.disabled:
        return True
    if not header:
        return False
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and credentials.token:
        return _same(value, credentials.token)
    if scheme.lower() == "basic" and credentials.username and credentials.password:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, sep, password = decoded.partition(":")
        # evaluate both comparisons so the time does not tell which one failed
        ok_user = _same(user, credentials.username)
        ok_password = _same(password, credentials.password)
        return bool(sep) and ok_user and ok_password
    return False


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


@contextlib.contextmanager
def store_errors(detail: str = "the incident store is unavailable",
                 on_failure: Callable[[StoreError], None] | None = None) -> Iterator[None]:
    """StoreError inside the block -> 503 JSON: ``unavailable`` while the store is not open,
    else ``store_unavailable`` with ``detail`` (after ``on_failure(error)``, e.g. a metric)."""
    try:
        yield
    except StoreNotOpen as exc:
        raise ApiError(503, "unavailable", str(exc)) from None
    except StoreError as exc:
        if on_failure is not None:
            on_failure(exc)
        raise ApiError(503, "store_unavailable", detail) from None


def invalid(field: str, problem: str) -> ApiError:
    """A 400 naming the offending input field: ``{"error": "invalid_request", "detail",
    "field"}``."""
    return ApiError(400, "invalid_request", f"{field}: {problem}", field=field)


def unauthorized(credentials: Credentials) -> ApiError:
    """The 401 every endpoint answers to missing or wrong credentials."""
    detail = ("missing or invalid credentials" if credentials.configured else
              "receiver authentication is not configured: set CALLWATCH_RECEIVER_TOKEN "
              "or CALLWATCH_RECEIVER_USERNAME/PASSWORD")
    return ApiError(401, "unauthorized", detail)


def require_auth(request: web.Request) -> ReceiverState:
    """The receiver's state when the request carries its credentials; 401 otherwise."""
    state = request.app[RECEIVER]
    if not authorized(request.headers.get("Authorization"), state.config.credentials):
        raise unauthorized(state.config.credentials)
    return state


async def json_object(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object; 413 over the app's body limit, 400 otherwise."""
    body = await read_body(request, request.app[MAX_BODY])
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "invalid_json", "body is not valid JSON") from None
    if not isinstance(data, dict):
        raise invalid("$", "expected a JSON object")
    return data


def text_field(data: Mapping[str, Any], field: str, limit: int, *, required: bool = True
               ) -> str | None:
    value = data.get(field)
    if value is None and not required:
        return None
    if value is None:
        raise invalid(field, "required field missing")
    if not isinstance(value, str) or not value.strip():
        raise invalid(field, "must be a non-empty string")
    if len(value) > limit:
        raise invalid(field, f"must be at most {limit} characters")
    return value.strip()

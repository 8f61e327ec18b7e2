"""What every receiver endpoint shares: the app key of its state, JSON bodies and fields, and
store failures as 503s.

Credentials are not checked here: the web shell's one access check (``callwatch.access``)
has let a request in before any handler runs.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from aiohttp import web

from callwatch.web import MAX_BODY, ApiError, read_body
from receiver.services.state import ReceiverState, StoreNotOpen
from receiver.store.base import StoreError

RECEIVER = web.AppKey("receiver", ReceiverState)


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

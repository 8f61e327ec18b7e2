"""The one error shape every endpoint answers with, and the exception that carries it."""

from __future__ import annotations

import json
from collections.abc import Mapping

from aiohttp import web


def error_body(code: str, detail: str, field: str | None = None) -> dict[str, str]:
    """The one error shape: ``{"error": code, "detail": detail}``, plus ``field`` (the JSON path
    of the offending input) when one field is to blame."""
    body = {"error": code, "detail": detail}
    if field is not None:
        body["field"] = field
    return body


def json_error(status: int, code: str, detail: str, field: str | None = None) -> web.Response:
    """A response carrying ``error_body``."""
    return web.json_response(error_body(code, detail, field), status=status)


class ApiError(web.HTTPException):
    """Raise from a handler to answer ``status`` with ``error_body(code, detail, field)``."""

    def __init__(self, status: int, code: str, detail: str, *, field: str | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        self.status_code = status
        super().__init__(headers=headers, text=json.dumps(error_body(code, detail, field)),
                         content_type="application/json")

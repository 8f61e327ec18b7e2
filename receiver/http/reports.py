"""``GET /reports/trends?weeks=12``: MTTA and MTTR per priority per week, and incidents per
alert name, as JSON (``receiver.domain.trends`` has the rules and the shape; the console's
trends page draws the same figures).

``weeks`` is a whole number from 1 to 104 (12 when left out). Any other parameter, or a bad
value, is 400 ``invalid_request`` naming it; 503 when the store is down.
"""

from __future__ import annotations

from aiohttp import web

from receiver.domain.trends import DEFAULT_WEEKS, MAX_WEEKS
from receiver.http.common import RECEIVER, invalid, store_errors
from receiver.services.reports import response_trends


def weeks_param(query) -> int:
    """``?weeks=`` read strictly (module docstring); ApiError 400 otherwise."""
    for name in query:
        if name != "weeks":
            raise invalid(name, "unknown parameter; known: weeks")
    values = query.getall("weeks", [])
    if len(values) > 1:
        raise invalid("weeks", "given more than once")
    text = values[0] if values else ""
    if not text:
        return DEFAULT_WEEKS
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_WEEKS:
        raise invalid("weeks", f"must be a whole number from 1 to {MAX_WEEKS}")
    return int(text)


async def trends(request: web.Request) -> web.Response:
    weeks = weeks_param(request.query)
    with store_errors():
        body = await response_trends(request.app[RECEIVER], weeks)
    return web.json_response(body)

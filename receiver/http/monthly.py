"""``GET /reports/monthly?month=2026-11[&format=json|md|html]``: the monthly review
(``receiver.domain.monthly`` has the rules and the JSON shape; ``monthly_render`` the Markdown
and HTML, charts included).

``month`` (``YYYY-MM``) is required; ``format`` is ``json`` when left out. Any other
parameter, or a bad value, is 400 ``invalid_request`` naming it; 503 when the store is down.
"""

from __future__ import annotations

from aiohttp import web

from receiver.domain import monthly, monthly_render
from receiver.http.common import RECEIVER, invalid, store_errors
from receiver.services.monthly import monthly_review

FORMATS = ("json", "md", "html")


def _one(query, name: str) -> str:
    values = query.getall(name, [])
    if len(values) > 1:
        raise invalid(name, "given more than once")
    return values[0] if values else ""


def review_params(query) -> tuple[monthly.Month, str]:
    """(month, format) read strictly (module docstring); ApiError 400 otherwise."""
    for name in query:
        if name not in ("month", "format"):
            raise invalid(name, "unknown parameter; known: month, format")
    month = monthly.parse_month(_one(query, "month"))
    if month is None:
        raise invalid("month", f"required, a month YYYY-MM from {monthly.FIRST_YEAR} to "
                               f"{monthly.LAST_YEAR}")
    kind = _one(query, "format") or "json"
    if kind not in FORMATS:
        raise invalid("format", f"must be one of {', '.join(FORMATS)}")
    return month, kind


async def review(request: web.Request) -> web.Response:
    month, kind = review_params(request.query)
    with store_errors():
        body = await monthly_review(request.app[RECEIVER], month)
    if kind == "md":
        return web.Response(text=monthly_render.markdown(body), content_type="text/markdown",
                            charset="utf-8")
    if kind == "html":
        return web.Response(text=monthly_render.html(body), content_type="text/html",
                            charset="utf-8")
    return web.json_response(body)

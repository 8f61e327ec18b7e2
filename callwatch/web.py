"""The web shell both components mount on: typed app keys, JSON errors, /metrics, health, and
the API's contract (``/openapi.json``, ``callwatch.openapi``).

``create_app`` builds the shell; ``exporter.app.setup_exporter`` and
``receiver.app.setup_receiver`` add their routes, resources (``cleanup_ctx``) and readiness
checks to it. ``callwatch run`` mounts both on one app, ``exporter``/``receiver`` one each.

Who may call which route is decided once, for every component, by the shell's
``callwatch.access.check_access`` middleware and its table of exempt routes: everything else
needs the API's credentials. Errors leave in one JSON shape (``callwatch.errors``).

``/metrics`` is prometheus_client's own aiohttp handler over the app's registry: OpenMetrics
when the scraper's ``Accept`` asks for it, the Prometheus text format otherwise, gzip when
``Accept-Encoding`` allows it, ``?name[]=`` to pick metrics; no ``_created`` series.
"""

from __future__ import annotations

import logging
import platform
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import hdrs, web
from prometheus_client import CollectorRegistry, Gauge, disable_created_metrics
from prometheus_client.aiohttp import make_aiohttp_handler
from prometheus_client.exposition import choose_encoder

from callwatch import openapi, version
from callwatch.access import REFUSALS, check_access
from callwatch.errors import ApiError, json_error
from policy import Policy

log = logging.getLogger("callwatch.web")


@dataclass(frozen=True)
class Check:
    """The answer of one readiness check."""

    name: str
    ok: bool
    detail: str = ""


ReadinessCheck = Callable[[], Awaitable[Check]]

POLICY = web.AppKey("policy", Policy)
REGISTRY = web.AppKey("registry", CollectorRegistry)
READINESS = web.AppKey("readiness", list)
MAX_BODY = web.AppKey("max_body", int)
DEFAULT_MAX_BODY = 1024 * 1024
BUILD_INFO = "callwatch_build_info"


def too_large(limit: int) -> ApiError:
    return ApiError(413, "payload_too_large",
                    f"request body larger than the limit of {limit} bytes")


async def read_body(request: web.Request, limit: int) -> bytes:
    """The whole body, at most ``limit`` bytes: 413 beyond it, whether the size was declared
    (Content-Length) or only found while reading (chunked)."""
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit)
    if request.content.at_eof():  # a middleware read it already: read() returns that copy
        body = await request.read()
        if len(body) > limit:
            raise too_large(limit)
        return body
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


_STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                 405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
                 415: "unsupported_media_type", 422: "unprocessable", 429: "too_many_requests",
                 503: "unavailable"}


@web.middleware
async def json_errors(request: web.Request, handler):
    """Every error leaves as a JSON body; an unexpected exception is logged, never shown."""
    try:
        return await handler(request)
    except ApiError:
        raise
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        if exc.status == 413:
            raise too_large(request.app[MAX_BODY]) from None
        return json_error(exc.status, _STATUS_CODES.get(exc.status, "error"), exc.reason)
    except Exception:  # the last line of defence: no traceback leaves the process
        log.exception("unhandled error", extra={"path": request.path})
        return json_error(500, "internal", "internal error; see the server log")


def create_app(policy: Policy, registry: CollectorRegistry | None = None,
               max_body: int = DEFAULT_MAX_BODY) -> web.Application:
    """The shell: /metrics, /healthz, /readyz, JSON errors and the access check, for one
    policy and registry (its credentials come from the components: ``configure_access``).

    Registers ``callwatch_build_info`` on the registry, and turns prometheus_client's
    ``_created`` series off for the process: ``*_created`` doubles every counter, histogram
    and summary series and no rule or dashboard of callwatch reads one.
    """
    disable_created_metrics()
    app = web.Application(middlewares=[json_errors, check_access],
                          client_max_size=max_body)
    app[MAX_BODY] = max_body
    app[POLICY] = policy
    app[REGISTRY] = registry if registry is not None else CollectorRegistry()
    app[READINESS] = []
    app[REFUSALS] = []
    _build_info(app[REGISTRY])
    app.router.add_get("/metrics", _metrics_handler(app[REGISTRY]))
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    openapi.add_route(app)
    return app


def _build_info(registry: CollectorRegistry) -> None:
    Gauge(BUILD_INFO, "Always 1; its labels name the callwatch version and the Python version "
          "this process runs.", ("version", "python_version"),
          registry=registry).labels(version(), platform.python_version()).set(1)


def _metrics_handler(
        registry: CollectorRegistry) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """prometheus_client's handler, after a check of the ``Accept`` header it chooses the
    format by: a version that is not a dotted number would make it fail (a 500), so it is a
    400 here."""
    serve = make_aiohttp_handler(registry)

    async def metrics(request: web.Request) -> web.StreamResponse:
        accept = ",".join(request.headers.getall(hdrs.ACCEPT, []))
        try:
            choose_encoder(accept)
        except (TypeError, ValueError):  # parse_version("x") compared with (1, 0, 0)
            raise ApiError(400, "bad_request", "Accept: a metrics format version must be a "
                           f"dotted number such as 1.0.0, got {accept[:200]!r}") from None
        return await serve(request)

    return metrics


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _readyz(request: web.Request) -> web.Response:
    checks = [await check() for check in request.app[READINESS]]
    ready = all(check.ok for check in checks)
    body = {"status": "ready" if ready else "not_ready",
            "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in checks}}
    return web.json_response(body, status=200 if ready else 503)

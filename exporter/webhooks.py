"""``POST /telephony/webhooks/twilio`` and ``POST /telephony/webhooks/telnyx``.

Order of checks (each answer a JSON ``{"error", "detail"}``):

1. no verification secret configured for the provider → 503 ``not_configured`` (an unsigned
   webhook is never accepted);
2. body over ``body_limit`` bytes → 413;
3. missing, forged or stale signature → 403 and ``telephony_webhook_signature_failures_total``;
4. signed but malformed payload → 400 (and a ``failure`` delivery: the provider did call us);
5. a verified request carrying ``X-Callwatch-Probe`` (our synthetic probes) → 200
   ``{"status": "probe"}`` without touching call metrics (the probe counts itself, source=probe);
6. otherwise 200 ``{"status": "accepted"}`` (or ``"duplicate"``/``"ignored"``) and a ``success``
   delivery in ``telephony_webhook_deliveries_total{source="provider"}``.

The Twilio signature covers the URL Twilio called: ``public_url`` (``CALLWATCH_PUBLIC_URL``) +
the request's path and query; without ``public_url`` the URL as this server saw it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import parse_qsl

from aiohttp import web
from multidict import MultiDict

from callwatch.signatures import (
    TWILIO_SIGNATURE_HEADER,
    SignatureError,
    TelnyxVerifier,
    TwilioVerifier,
)
from callwatch.web import ApiError, read_body
from exporter.calls import CallTracker
from exporter.metrics import ExporterMetrics
from exporter.parse import PayloadError, telnyx_event, twilio_event

log = logging.getLogger("callwatch.exporter.webhooks")
TWILIO_PATH = "/telephony/webhooks/twilio"
TELNYX_PATH = "/telephony/webhooks/telnyx"
DEFAULT_BODY_LIMIT = 64 * 1024
PROBE_HEADER = "X-Callwatch-Probe"


@dataclass
class WebhookIngest:
    """The two webhook endpoints over one :class:`CallTracker`."""

    tracker: CallTracker
    metrics: ExporterMetrics
    twilio: TwilioVerifier | None
    telnyx: TelnyxVerifier | None
    public_url: str | None = None
    body_limit: int = DEFAULT_BODY_LIMIT
    telnyx_problem: str | None = None   # why Telnyx verification is off (bad key), if it is

    def __post_init__(self) -> None:
        # resolved once: prometheus_client's labels() costs more than the increment
        self._accepted = {p: self.metrics.webhook_deliveries.labels(p, "provider", "success")
                          for p in ("twilio", "telnyx")}

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post(TWILIO_PATH, self.handle_twilio)
        app.router.add_post(TELNYX_PATH, self.handle_telnyx)

    def twilio_url(self, request: web.Request) -> str:
        """The URL Twilio signed: the public base URL + this request's path and query."""
        if self.public_url:
            return self.public_url.rstrip("/") + str(request.rel_url)
        return str(request.url)

    async def handle_twilio(self, request: web.Request) -> web.Response:
        if self.twilio is None or not self.twilio.configured:
            raise _not_configured("twilio", "set TWILIO_AUTH_TOKEN or TWILIO_WEBHOOK_SHARED_KEY")
        body = await read_body(request, self.body_limit)
        if not request.headers.get(TWILIO_SIGNATURE_HEADER):
            self._reject("twilio", f"missing {TWILIO_SIGNATURE_HEADER} header")
        form = _form(request, body)
        try:
            self.twilio.verify(self.twilio_url(request), form, request.headers)
        except SignatureError as exc:
            self._reject("twilio", str(exc))
        return self._ingest("twilio", request, lambda: twilio_event(form))

    async def handle_telnyx(self, request: web.Request) -> web.Response:
        if self.telnyx is None:
            raise _not_configured("telnyx", self.telnyx_problem or "set TELNYX_PUBLIC_KEY")
        body = await read_body(request, self.body_limit)
        try:
            self.telnyx.verify(body, request.headers)
        except SignatureError as exc:
            self._reject("telnyx", str(exc))
        return self._ingest("telnyx", request, lambda: telnyx_event(body))

    def _ingest(self, provider: str, request: web.Request, parse) -> web.Response:
        probe = PROBE_HEADER in request.headers
        try:
            event = parse()
        except PayloadError as exc:
            if probe:
                raise ApiError(400, "malformed_payload", str(exc)) from None
            self.metrics.webhook_deliveries.labels(provider, "provider", "failure").inc()
            raise ApiError(400, "malformed_payload", str(exc)) from None
        if probe:
            return web.json_response({"status": "probe"})
        self._accepted[provider].inc()
        if event is None:
            return web.json_response({"status": "ignored"})
        return web.json_response({"status": self.tracker.ingest(event)})

    def _reject(self, provider: str, detail: str) -> None:
        self.metrics.signature_failures.labels(provider).inc()
        raise ApiError(403, "invalid_signature", detail)


def _form(request: web.Request, body: bytes) -> MultiDict:
    """The form fields of a Twilio callback; 400 for another content type or bad encoding."""
    if request.content_type != "application/x-www-form-urlencoded":
        raise ApiError(400, "malformed_payload",
                       f"expected application/x-www-form-urlencoded, got {request.content_type}")
    try:
        text = body.decode("utf-8")
        return MultiDict(parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text)))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, "malformed_payload", f"body is not a valid form: {exc}") from None


def _not_configured(provider: str, hint: str) -> ApiError:
    return ApiError(503, "not_configured",
                    f"{provider} webhook verification is not configured ({hint}); "
                    "unsigned webhooks are never accepted")

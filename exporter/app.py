"""``setup_exporter(app, environ)``: mount the exporter on the web shell (callwatch/web.py).

Reads the API's credentials onto the app (``callwatch.access.configure_access``: the ops
endpoints need the receiver token, the signed webhooks their signatures). Adds the webhook
endpoints, the ops endpoints, the pollers (Twilio, Telnyx, Statuspage) and the
synthetic probes as background tasks in ``cleanup_ctx``, readiness checks, and every metric on
``app[REGISTRY]``. The environment is read here, never at import time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

from aiohttp import web

from callwatch.access import configure_access
from callwatch.signatures import TelnyxVerifier, TwilioVerifier, load_telnyx_public_key
from callwatch.web import POLICY, READINESS, REGISTRY, Check
from exporter.background import setup_background
from exporter.calls import CallTracker
from exporter.config import ExporterConfig, load_config
from exporter.keys import CONFIG, INGEST, METRICS, TRACKER
from exporter.metrics import ExporterMetrics, create_metrics
from exporter.ops import add_ops_routes
from exporter.webhooks import WebhookIngest

log = logging.getLogger("callwatch.exporter")


def setup_exporter(app: web.Application, environ: Mapping[str, str],
                   clock: Callable[[], float] = time.time) -> None:
    """Wire the exporter onto ``app`` (a ``callwatch.web.create_app`` shell)."""
    settings = app[POLICY].exporter
    configure_access(app, environ)
    config = load_config(environ)
    metrics = create_metrics(app[REGISTRY])
    tracker = CallTracker(metrics, dedup_capacity=settings.dedup_capacity,
                          window=settings.health_window_seconds, clock=clock)
    app[CONFIG], app[METRICS], app[TRACKER] = config, metrics, tracker
    ingest = _webhook_ingest(config, tracker, metrics, settings.webhook_body_limit, clock)
    app[INGEST] = ingest
    ingest.add_routes(app)
    add_ops_routes(app)
    setup_background(app, config, clock, environ)  # pollers, probes: tasks in cleanup_ctx
    app[READINESS].append(_webhook_check(ingest))


def _webhook_ingest(config: ExporterConfig, tracker: CallTracker, metrics: ExporterMetrics,
                    body_limit: int, clock: Callable[[], float]) -> WebhookIngest:
    twilio = TwilioVerifier(config.twilio_auth_token, config.twilio_shared_key,
                            config.twilio_shared_key_id) if config.twilio_webhooks else None
    telnyx, problem = None, None
    if config.telnyx_public_key:
        try:
            telnyx = TelnyxVerifier(load_telnyx_public_key(config.telnyx_public_key), clock)
        except ValueError as exc:
            problem = str(exc)
            log.error("telnyx webhook verification off", extra={"problem": problem})
    return WebhookIngest(tracker, metrics, twilio, telnyx, config.public_url, body_limit, problem)


def _webhook_check(ingest: WebhookIngest):
    async def check() -> Check:
        if ingest.telnyx_problem:
            return Check("exporter_webhooks", False, ingest.telnyx_problem)
        on = [name for name, v in (("twilio", ingest.twilio), ("telnyx", ingest.telnyx)) if v]
        detail = (f"verifying {', '.join(on)} webhooks" if on
                  else "no webhook secrets configured; webhooks answer 503")
        return Check("exporter_webhooks", True, detail)
    return check



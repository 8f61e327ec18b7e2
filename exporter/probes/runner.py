"""Running probe rounds and recording them; the background loop in ``cleanup_ctx``.

Metrics per round: ``telephony_probe_success{target}`` (1/0), ``telephony_probe_duration_seconds
{target}``, for https targets ``telephony_probe_ssl_earliest_cert_expiry_seconds{target}`` (see
``exporter.probes.tls``), and for webhook probes ``telephony_webhook_deliveries_total{provider,
source="probe",outcome}``. Targets come from the policy (``exporter.probe_targets``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable

import aiohttp
from aiohttp import web
from prometheus_client import Gauge

from callwatch.signatures import load_telnyx_private_key
from callwatch.web import POLICY
from exporter.config import ExporterConfig
from exporter.keys import METRICS
from exporter.metrics import ExporterMetrics
from exporter.probes import ProbeContext, ProbeResult, probe_for
from exporter.probes.tls import probe_session
from policy.spec_exporter import ProbeTarget

log = logging.getLogger("callwatch.exporter.probes")


class ProbeRunner:
    def __init__(self, targets: Iterable[ProbeTarget], metrics: ExporterMetrics | None) -> None:
        self.targets = tuple(targets)
        self.metrics = metrics
        self.last: dict[str, ProbeResult] = {}
        self._lock = asyncio.Lock()
        if metrics is not None:
            for target in self.targets:
                metrics.init_probe(target.name)

    async def run_round(self, ctx: ProbeContext) -> list[ProbeResult]:
        """Probe every target concurrently, once; one round at a time."""
        async with self._lock:
            results = await asyncio.gather(*(probe_for(t.kind)(ctx, t) for t in self.targets))
        for target, result in zip(self.targets, results, strict=True):
            self._record(target, result)
        return list(results)

    def _record(self, target: ProbeTarget, result: ProbeResult) -> None:
        self.last[target.name] = result
        if self.metrics is None:
            return
        self.metrics.probe_success.labels(target.name).set(1 if result.success else 0)
        self.metrics.probe_duration.labels(target.name).set(result.duration)
        _record_certificate(self.metrics.probe_cert_expiry, target.name, result.cert_expiry)
        if target.provider and target.kind.endswith("_webhook"):
            outcome = "success" if result.success else "failure"
            self.metrics.webhook_deliveries.labels(target.provider, "probe", outcome).inc()
        if not result.success:
            log.warning("probe failed", extra={"target": target.name, "status": result.status,
                                               "problem": result.detail})


def _record_certificate(gauge: Gauge, name: str, expiry: float | None) -> None:
    """Set the target's expiry; without a certificate this round (plain http, or no TLS
    handshake) the series goes away, as in blackbox_exporter, rather than reading 0: "expired
    in 1970" would page as an expiring certificate."""
    if expiry is not None:
        gauge.labels(name).set(expiry)
    else:
        gauge.remove(name)   # a no-op when there is no such series


def probe_context(config: ExporterConfig, session: aiohttp.ClientSession, timeout: float,
                  clock: Callable[[], float]) -> ProbeContext:
    """The signing material and session probes use; a bad private key is logged, not fatal."""
    key = None
    if config.probe_telnyx_private_key:
        try:
            key = load_telnyx_private_key(config.probe_telnyx_private_key)
        except ValueError as exc:
            log.error("telnyx probe key unusable", extra={"problem": str(exc)})
    return ProbeContext(session, timeout, clock, time.monotonic, config.twilio_auth_token, key)


PROBE_RUNNER = web.AppKey("exporter_probe_runner", ProbeRunner)


def setup_probes(app: web.Application, config: ExporterConfig, clock: Callable[[], float]) -> None:
    settings = app[POLICY].exporter
    runner = ProbeRunner(settings.probe_targets, app[METRICS])
    app[PROBE_RUNNER] = runner
    if not runner.targets:
        return

    async def context(app: web.Application):
        session = probe_session()
        ctx = probe_context(config, session, settings.probe_timeout_seconds, clock)

        async def loop() -> None:
            while True:
                await runner.run_round(ctx)
                await asyncio.sleep(settings.probe_interval_seconds)

        task = asyncio.create_task(loop(), name="probes")
        yield
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await session.close()

    app.cleanup_ctx.append(context)

"""The egress control probe: can callwatch itself reach the outside at all?

When every provider looks down at once, either they are, or callwatch's own DNS, network or
egress broke. This probe tells the two apart with checks that do not depend on either
provider's API being healthy, run every ``exporter.probe_interval`` on every replica (it is
about this process, so leadership does not matter), each bounded by ``exporter.probe_timeout``:

- ``dns:<host>``: the host of every provider API and status page the pollers call resolves to at
  least one address. The hosts come from the same settings the pollers use (``TWILIO_BASE_URL``,
  ``TELNYX_BASE_URL``, ``STATUSPAGE_*_URL``), so the simulator's host stands in for them in
  tests; a provider whose pollers are off is not resolved (its API is not called).
- ``exporter.control_targets``: each URL answers a GET with a status below 400 (a redirect is
  not followed: reaching the server is what counts; a proxy's 403 or 502 is a failure).

Metrics: ``callwatch_egress_probe_success{target}`` (1/0) and
``callwatch_egress_probe_duration_seconds{target}``; ``target`` is ``dns:<host>`` or the URL as
configured. A failed check is a metric value and one log line when it starts failing, never an
error. Resolution runs in the loop's ``getaddrinfo`` (a worker thread): the event loop never
blocks on it, though a thread whose resolver hangs past the timeout finishes in its own time.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web

from callwatch.web import POLICY
from exporter.config import ExporterConfig
from exporter.keys import METRICS
from exporter.metrics import ExporterMetrics
from exporter.probes import ProbeContext, ProbeResult
from exporter.probes.send import exchange
from exporter.probes.tls import probe_session
from policy.spec_exporter import ProbeTarget

log = logging.getLogger("callwatch.exporter.egress")

# The hosts the pollers call without a base-URL override: the Twilio SDK's Calls (api),
# Insights and Monitor domains, and Telnyx's API (tests/exporter/test_exporter_egress.py checks
# these against the SDKs).
TWILIO_API_HOSTS = ("api.twilio.com", "insights.twilio.com", "monitor.twilio.com")
TELNYX_API_HOST = "api.telnyx.com"


@dataclass(frozen=True)
class EgressTarget:
    """One control check: resolve ``host`` (kind ``dns``) or GET ``url`` (kind ``url``)."""

    label: str
    kind: str
    address: str      # the host to resolve, or the URL to fetch


def poller_hosts(config: ExporterConfig) -> tuple[str, ...]:
    """The hosts the pollers call with ``config``, each once, in a stable order."""
    hosts: list[str] = []
    if config.twilio_polling:
        hosts += ([_host(config.twilio_base_url)] if config.twilio_base_url
                  else list(TWILIO_API_HOSTS))
    if config.telnyx_polling:
        hosts.append(_host(config.telnyx_base_url) if config.telnyx_base_url
                     else TELNYX_API_HOST)
    hosts += [_host(url) for url in (config.statuspage_urls or {}).values()]
    return tuple(dict.fromkeys(host for host in hosts if host))


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def egress_targets(config: ExporterConfig,
                   control_urls: tuple[str, ...]) -> tuple[EgressTarget, ...]:
    """The DNS checks of :func:`poller_hosts`, then the policy's control URLs."""
    return (tuple(EgressTarget(f"dns:{host}", "dns", host) for host in poller_hosts(config))
            + tuple(EgressTarget(url, "url", url) for url in control_urls))


async def resolve(ctx: ProbeContext, target: EgressTarget) -> ProbeResult:
    """Success when ``target.address`` resolves to at least one address within the timeout."""
    started, addresses, detail = ctx.monotonic(), 0, ""
    try:
        async with asyncio.timeout(ctx.timeout):
            infos = await asyncio.get_running_loop().getaddrinfo(
                target.address, None, type=socket.SOCK_STREAM)
        addresses = len({info[4][0] for info in infos})
        detail = f"{addresses} address(es)" if addresses else "no address"
    except TimeoutError:
        detail = f"no answer within {ctx.timeout:g}s"
    except OSError as exc:   # socket.gaierror: the resolver's own words
        detail = f"{type(exc).__name__}: {exc.strerror or exc}"[:160]
    return ProbeResult(target.label, "dns", addresses > 0, ctx.monotonic() - started, None,
                       detail)


async def fetch(ctx: ProbeContext, target: EgressTarget) -> ProbeResult:
    """Success when ``target.address`` answers a GET below 400 within the timeout."""
    probe = ProbeTarget(target.label, "url", target.address, None)
    return await exchange(ctx, probe, "GET", ok=lambda status: status < 400)


class EgressRunner:
    """Runs the control checks and keeps their metrics; one round at a time."""

    def __init__(self, targets: tuple[EgressTarget, ...],
                 metrics: ExporterMetrics | None) -> None:
        self.targets = targets
        self.metrics = metrics
        self.last: dict[str, ProbeResult] = {}
        self._lock = asyncio.Lock()
        if metrics is not None:
            for target in targets:
                metrics.init_egress(target.label)

    async def run_round(self, ctx: ProbeContext) -> list[ProbeResult]:
        """Every check concurrently, once; the results in the order of ``targets``."""
        async with self._lock:
            results = await asyncio.gather(*(
                (resolve if t.kind == "dns" else fetch)(ctx, t) for t in self.targets))
        for result in results:
            self._record(result)
        return list(results)

    def _record(self, result: ProbeResult) -> None:
        before = self.last.get(result.target)
        self.last[result.target] = result
        if self.metrics is not None:
            self.metrics.egress_success.labels(result.target).set(1 if result.success else 0)
            self.metrics.egress_duration.labels(result.target).set(result.duration)
        # once per change, not once per round: an outage of hours is not thousands of lines
        if not result.success and (before is None or before.success):
            log.warning("egress control probe failing",
                        extra={"target": result.target, "problem": result.detail})
        elif result.success and before is not None and not before.success:
            log.info("egress control probe succeeding again", extra={"target": result.target})


EGRESS_RUNNER = web.AppKey("exporter_egress_runner", EgressRunner)


def setup_egress(app: web.Application, config: ExporterConfig,
                 clock: Callable[[], float]) -> None:
    """Run the control checks every ``exporter.probe_interval`` from ``cleanup_ctx``."""
    settings = app[POLICY].exporter
    runner = EgressRunner(egress_targets(config, settings.control_targets), app[METRICS])
    app[EGRESS_RUNNER] = runner
    if not runner.targets:
        return

    async def context(app: web.Application):
        session = probe_session()
        ctx = ProbeContext(session, settings.probe_timeout_seconds, clock, time.monotonic)

        async def loop() -> None:
            while True:
                await runner.run_round(ctx)
                await asyncio.sleep(settings.probe_interval_seconds)

        task = asyncio.create_task(loop(), name="egress-probes")
        yield
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await session.close()

    app.cleanup_ctx.append(context)

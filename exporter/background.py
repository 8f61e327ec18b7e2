"""Background work in ``cleanup_ctx``: the pollers (and their HTTP clients), the probes and
the egress control probe (``exporter.probes.egress``).

One source of truth per provider for ended calls (so nothing is counted twice):
``ExporterConfig.webhooks_count_calls`` (see exporter/config.py) picks the verified webhooks or
the polled APIs; the pollers count ended calls only in the second case. The tracker's
(call id, state) dedup is a second guard against overlap.
Pollers for a provider run only with its credentials (``TWILIO_ACCOUNT_SID`` +
``TWILIO_AUTH_TOKEN``; ``TELNYX_API_KEY``); without them ``/readyz`` says so (ok, with detail).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping

import aiohttp
from aiohttp import web
from prometheus_client import Gauge

from callwatch.web import POLICY, READINESS, REGISTRY, Check
from exporter.collectors.base import ApiCaller
from exporter.config import ExporterConfig
from exporter.keys import METRICS, STATES, TRACKER
from exporter.leader import LeaderElection, LeaderSettings, load_leader_settings
from exporter.poller import Poller
from exporter.probes.egress import setup_egress
from exporter.probes.runner import setup_probes

log = logging.getLogger("callwatch.exporter")
POLLER = web.AppKey("exporter_poller", Poller)


def setup_background(app: web.Application, config: ExporterConfig,
                     clock: Callable[[], float], environ: Mapping[str, str] | None = None) -> None:
    states = app[STATES]
    states["twilio"].polling = config.twilio_polling
    states["twilio"].polling_detail = ("polling the Twilio API" if config.twilio_polling else
                                       "pollers off: TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN not set")
    states["telnyx"].polling = config.telnyx_polling
    states["telnyx"].polling_detail = ("polling the Telnyx API" if config.telnyx_polling else
                                       "pollers off: TELNYX_API_KEY not set")
    if config.telnyx_polling and not config.telnyx_connection_id:
        states["telnyx"].polling_detail += (" (active calls not polled: "
                                            "TELNYX_CONNECTION_ID not set)")
    app[POLLER] = Poller(app[METRICS], states, clock)
    try:
        leader = load_leader_settings(environ or {})
    except ValueError as exc:
        raise SystemExit(f"callwatch exporter: {exc}") from None
    app.cleanup_ctx.append(_pollers(config, clock, leader))
    app[READINESS].append(_pollers_check(app, config))
    setup_probes(app, config, clock)
    setup_egress(app, config, clock)   # callwatch's own egress, on every replica


def _follow_leader(app: web.Application, poller: Poller,
                   leader: LeaderSettings | None) -> LeaderElection | None:
    """Replicas (``CALLWATCH_LEADER_STORE_URL``): API and status-page polling on the leader
    only; ``callwatch_exporter_polling_leader`` is 1 on it. None: poll here, as always."""
    if leader is None:
        return None
    gauge = Gauge("callwatch_exporter_polling_leader", "1 on the exporter replica that polls "
                  "the provider APIs and status pages (leader election), else 0",
                  registry=app[REGISTRY])
    gauge.set(0)
    states = app[STATES]

    def changed(leading: bool) -> None:
        gauge.set(1 if leading else 0)
        for state in states.values():
            role = "leader" if leading else "standby: another replica polls"
            state.polling_detail = f"{state.polling_detail.split(' [')[0]} [{role}]"

    election = LeaderElection(leader, changed)
    changed(False)
    poller.follow(lambda: election.leading, leader.check_seconds)
    return election


def _pollers(config: ExporterConfig, clock: Callable[[], float], leader: LeaderSettings | None):
    async def context(app: web.Application):
        poller: Poller = app[POLLER]
        poller.add(SweepSource(app[TRACKER]), api=False, leader_only=False)  # local state
        closers = _add_sources(app, poller, config, clock)
        session = aiohttp.ClientSession() if config.statuspage_urls else None
        if session is not None:
            _add_statuspage(app, poller, config, session)
        election = _follow_leader(app, poller, leader)
        electing = (asyncio.create_task(election.run(), name="poll-leader-election")
                    if election is not None else None)
        poller.start()
        yield
        await poller.stop()
        if election is not None and electing is not None:
            await election.stop()  # closing its session releases the lock for another replica
            await asyncio.wait({electing}, timeout=5)
        for close in closers:
            await close()
        if session is not None:
            await session.close()
    return context


class SweepSource:
    """Forgets live calls whose end never arrived (``CallTracker.max_call_age``), every minute."""

    name, provider, interval = "tracker.sweep", "none", 60.0

    def __init__(self, tracker) -> None:
        self.tracker = tracker

    async def poll(self) -> None:
        stale = self.tracker.sweep()
        if stale:
            log.warning("forgot live calls whose end never arrived", extra={"calls": stale})


def _add_sources(app: web.Application, poller: Poller, config: ExporterConfig,
                 clock: Callable[[], float]) -> list:
    settings = app[POLICY].exporter
    metrics, tracker, intervals = app[METRICS], app[TRACKER], settings.poll_intervals
    closers = []
    if config.twilio_polling:
        from exporter.collectors import twilio as tw
        client = tw.make_client(config.twilio_account_sid, config.twilio_auth_token,
                                config.twilio_base_url)
        api = ApiCaller(metrics, "twilio", settings.api_timeout_seconds, tw.classify_error)
        for operation in ("calls", "insights_summaries", "monitor_alerts"):
            metrics.init_operation("twilio", operation)
        pending = (None if config.webhooks_count_calls("twilio")
                   else tw.PendingCompleted(tracker, clock))
        poller.add(tw.TwilioCalls(client, api, tracker, intervals["calls"], pending, clock))
        poller.add(tw.TwilioInsights(client, api, tracker, intervals["insights"], pending))
        poller.add(tw.TwilioAlerts(client, api, intervals["alerts"], clock))
        closers.append(client.http_client.close)
    if config.telnyx_polling:
        from exporter.collectors import telnyx as tx
        client = tx.make_client(config.telnyx_api_key, config.telnyx_base_url,
                                settings.api_timeout_seconds)
        api = ApiCaller(metrics, "telnyx", settings.api_timeout_seconds, tx.classify_error)
        for operation in ("active_calls", "detail_records", "webhook_deliveries"):
            metrics.init_operation("telnyx", operation)
        count = not config.webhooks_count_calls("telnyx")
        poller.add(tx.TelnyxCalls(client, api, tracker, intervals["calls"],
                                  config.telnyx_connection_id, count, clock))
        poller.add(tx.TelnyxDeliveries(client, api, intervals["deliveries"], count, clock))
        closers.append(client.close)
    return closers


def _add_statuspage(app: web.Application, poller: Poller, config: ExporterConfig,
                    session: aiohttp.ClientSession) -> None:
    from exporter.collectors.statuspage import StatuspageSource
    settings = app[POLICY].exporter
    for provider, url in (config.statuspage_urls or {}).items():
        poller.add(StatuspageSource(provider, url, session, app[METRICS], app[STATES][provider],
                                    settings.poll_intervals["statuspage"],
                                    settings.api_timeout_seconds), api=False)


def _pollers_check(app: web.Application, config: ExporterConfig):
    async def check() -> Check:
        parts = [app[STATES][p].polling_detail for p in ("twilio", "telnyx")]
        return Check("exporter_pollers", True, "; ".join(parts))
    return check

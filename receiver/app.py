"""``setup_receiver(app, environ, notifiers=None)``: mount the receiver on the web shell.

Adds ``POST /alerts``, ``GET /incidents``, ``GET /incidents/{id}``, the receiver metrics,
readiness checks (``store``, ``policy``) and one ``cleanup_ctx`` resource that opens the store
(applying migrations), builds the notifiers, and runs the outbox dispatcher until shutdown.
``notifiers`` (channel name -> Notifier) replaces the factory named by
``CALLWATCH_NOTIFIER_FACTORY`` (default ``receiver.notify.registry:build_notifiers``), which
is imported only when ``notifiers`` is None.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import time
from typing import Callable, Mapping

from aiohttp import web

from callwatch.secrets import SecretError
from callwatch.web import POLICY, READINESS, REGISTRY, Check
from receiver.config import load_config, load_credentials
from receiver.domain.communications import Communications, TemplateError
from receiver.http import pagerduty
from receiver.http.alerting import HEALTH_SOURCES, setup_alerting_api
from receiver.http.common import ACTIONS, RECEIVER, ActionsState
from receiver.http.routes import add_routes
from receiver.notify.base import Notifier
from receiver.services.dispatcher import Dispatcher, default_jitter
from receiver.services.escalation import EscalationWorker
from receiver.services.metrics import ReceiverMetrics
from receiver.services.pipeline_health import pipeline_health
from receiver.services.state import ReceiverState
from receiver.services.vendor import vendor_drafter
from receiver.store import describe_url, make_store

log = logging.getLogger("callwatch.receiver")
DEFAULT_PROMETHEUS_URL = "http://127.0.0.1:9090"
DEFAULT_ALERTMANAGER_URL = "http://127.0.0.1:9093"


def setup_receiver(app: web.Application, environ: Mapping[str, str],
                   notifiers: Mapping[str, Notifier] | None = None, *,
                   clock: Callable[[], float] = time.time,
                   jitter: Callable[[float], float] = default_jitter) -> None:
    """Mount the receiver (see the module docstring). Reads ``environ`` here, never at import."""
    try:
        config = load_config(environ)
        credentials = load_credentials(environ)
    except (ValueError, SecretError) as exc:  # a clear line, not a traceback; no secret in it
        raise SystemExit(f"callwatch receiver: {exc}") from None
    if not credentials.configured:
        log.warning("no receiver credentials configured: POST /alerts will answer 401")
    state = ReceiverState(config=config, credentials=credentials, policy=app[POLICY],
                          metrics=ReceiverMetrics(app[REGISTRY]), clock=clock)
    app[RECEIVER] = state
    try:
        comms = Communications(state.policy.templates)
        comms.check()
    except TemplateError as exc:  # a broken override stops start-up with one clear line
        raise SystemExit(f"callwatch receiver: {exc}") from None
    app[ACTIONS] = ActionsState(comms=comms, environ=dict(environ),
                                pagerduty_secrets=pagerduty.load_secrets(environ))
    add_routes(app)
    app.cleanup_ctx.append(app[ACTIONS].session_context)
    app[READINESS].append(lambda: _store_check(state))
    app[READINESS].append(lambda: _policy_check(app))
    setup_alerting_api(app, environ.get("CALLWATCH_PROMETHEUS_URL", DEFAULT_PROMETHEUS_URL),
                       environ.get("CALLWATCH_ALERTMANAGER_URL", DEFAULT_ALERTMANAGER_URL))
    app[HEALTH_SOURCES].append(lambda: pipeline_health(state))
    app.cleanup_ctx.append(
        lambda _app: _lifecycle(state, environ, notifiers, jitter, _app[ACTIONS]))


@contextlib.asynccontextmanager
async def _lifecycle(state: ReceiverState, environ: Mapping[str, str],
                     notifiers: Mapping[str, Notifier] | None, jitter, app_actions):
    store = make_store(state.config.store_url)
    await store.open()
    log.info("store open", extra={"store": describe_url(state.config.store_url)})
    state.store = store
    owned = notifiers is None
    if notifiers is None:
        notifiers = _build_notifiers(state.config.notifier_factory, state.policy, environ)
    dispatcher = Dispatcher(store, notifiers, state.policy, state.metrics,
                            worker=state.config.worker_id, settings=state.config.dispatch,
                            clock=state.clock, jitter=jitter)
    state.dispatcher = dispatcher
    state.on_commit.append(dispatcher.wake)
    task = asyncio.create_task(dispatcher.run(), name="callwatch-dispatcher")
    escalation = EscalationWorker(
        store, state.policy, state.metrics, worker=state.config.worker_id,
        public_url=state.config.public_url, clock=state.clock, on_commit=state.committed,
        poll_seconds=min(1.0, state.config.dispatch.poll_seconds),
        lease_seconds=state.config.timer_lease_seconds,
        vendor_rows=vendor_drafter(state.policy, environ, app_actions, state.config.public_url))
    state.on_commit.append(escalation.wake)
    escalation_task = asyncio.create_task(escalation.run(), name="callwatch-escalation")
    try:
        yield
    finally:
        dispatcher.stop()
        escalation.stop()
        done, _ = await asyncio.wait({task, escalation_task}, timeout=2.0)
        for pending in {task, escalation_task} - done:
            # a send still in flight: its claim expires and it is retried later
            pending.cancel()
            await asyncio.wait({pending}, timeout=2.0)
        if owned:
            for notifier in notifiers.values():
                with contextlib.suppress(Exception):
                    await notifier.close()
        state.store = None
        await store.close()


def _build_notifiers(factory: str, policy, environ) -> Mapping[str, Notifier]:
    """Notifiers from ``module:function(policy, environ)``; {} (pages wait) if not installed."""
    module_name, _, function = factory.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            log.error("notifier factory not installed; pages stay queued",
                      extra={"factory": factory})
            return {}
        raise
    return getattr(module, function or "build_notifiers")(policy, environ)


async def _store_check(state: ReceiverState) -> Check:
    if state.store is None:
        return Check("store", False, "not open")
    try:
        async with asyncio.timeout(2.0):
            await state.store.ping()
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return Check("store", False, str(exc)[:200] or type(exc).__name__)
    return Check("store", True, state.store.dialect)


async def _policy_check(app: web.Application) -> Check:
    policy = app[POLICY]
    return Check("policy", policy is not None and bool(policy.routing), policy.source
                 if policy is not None else "not loaded")

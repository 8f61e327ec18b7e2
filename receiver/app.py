"""``setup_receiver(app, environ, notifiers=None)``: the receiver's composition root.

It reads the configuration (``receiver.config``), builds the one ``ReceiverState`` the
handlers and workers share, mounts every route (``receiver.http.routes``), adds the readiness
checks (``store``, ``policy``, ``notifiers``) and one ``cleanup_ctx`` resource that, for the
app's lifetime, holds an HTTP client session, the open store (migrations applied), the
notifier set, the outbox dispatcher, the escalation worker, the dead man's switch
(``CALLWATCH_WATCHDOG``) and, when the policy has on-call schedules, the handoff worker
(``CALLWATCH_HANDOFF_NOTICES``; its schedule gap gauge runs either way).

``notifiers`` (channel name -> Notifier) replaces the factory named by
``CALLWATCH_NOTIFIER_FACTORY`` (default ``receiver.notify.registry:build_notifiers``), which
is imported only when ``notifiers`` is None.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping

import aiohttp
from aiohttp import web

from callwatch.access import configure_access
from callwatch.secrets import SecretError
from callwatch.web import POLICY, READINESS, REGISTRY, Check
from receiver.config import load_config
from receiver.domain.communications import Communications
from receiver.http.common import RECEIVER
from receiver.http.routes import add_routes
from receiver.notify.base import Notifier
from receiver.services.dispatcher import Dispatcher, default_jitter
from receiver.services.escalation import EscalationWorker
from receiver.services.handoff import HandoffWorker
from receiver.services.metrics import ReceiverMetrics
from receiver.services.notifiers import NotifierSet, load_notifier_set
from receiver.services.pipeline_health import store_health
from receiver.services.state import ReceiverState
from receiver.services.vendor import vendor_drafter
from receiver.services.voice import Voice
from receiver.services.watchdog import WatchdogWorker
from receiver.store import describe_url, make_store

log = logging.getLogger("callwatch.receiver")


def setup_receiver(app: web.Application, environ: Mapping[str, str],
                   notifiers: Mapping[str, Notifier] | None = None, *,
                   clock: Callable[[], float] = time.time,
                   jitter: Callable[[float], float] = default_jitter) -> None:
    """Mount the receiver (see the module docstring). Reads ``environ`` here, never at import."""
    try:
        config = load_config(environ)
        configure_access(app, environ)
        comms = Communications(app[POLICY].templates)
        comms.check()
    except (ValueError, SecretError) as exc:  # TemplateError too: one clear line, no secret
        raise SystemExit(f"callwatch receiver: {exc}") from None
    if not config.credentials.configured:
        log.warning("no API credentials configured: every route but /healthz, /readyz, "
                    "/metrics and the signed callbacks will answer 401")
    state = ReceiverState(config=config, policy=app[POLICY], comms=comms,
                          metrics=ReceiverMetrics(app[REGISTRY]), clock=clock)
    app[RECEIVER] = state
    add_routes(app)
    app[READINESS].extend([lambda: _store_check(state), lambda: _policy_check(state),
                           lambda: _notifier_check(state)])
    given = None if notifiers is None else NotifierSet(dict(notifiers), owned=False)
    app.cleanup_ctx.append(lambda _app: _lifecycle(state, given, jitter))


@contextlib.asynccontextmanager
async def _lifecycle(state: ReceiverState, given: NotifierSet | None,
                     jitter: Callable[[float], float]) -> AsyncIterator[None]:
    """The receiver's resources, opened in order at start-up and closed in reverse."""
    config = state.config
    async with aiohttp.ClientSession() as http:
        state.http = http
        store = make_store(config.store_url)
        await store.open()
        log.info("store open", extra={"store": describe_url(config.store_url)})
        state.store = store
        state.notifiers = given if given is not None else load_notifier_set(
            config.notifier_factory, state.policy, config.environ)
        state.voice = Voice(config.voice, state.clock)
        tasks = _start_workers(state, jitter)
        try:
            yield
        finally:
            await _stop_workers(state, tasks)
            await state.notifiers.close()
            await state.voice.close()
            state.store = None
            await store.close()
            state.http = None


def _start_workers(state: ReceiverState, jitter: Callable[[float], float]) -> set[asyncio.Task]:
    config = state.config
    state.dispatcher = Dispatcher(state.store, state.notifiers.notifiers, state.policy,
                                  state.metrics, worker=config.worker_id,
                                  settings=config.dispatch, comms=state.comms,
                                  clock=state.clock, jitter=jitter)
    state.escalation = EscalationWorker(
        state.store, state.policy, state.metrics, worker=config.worker_id,
        public_url=config.public_url, clock=state.clock, on_commit=state.committed,
        poll_seconds=min(1.0, config.dispatch.poll_seconds),
        lease_seconds=config.timer_lease_seconds, vendor_rows=vendor_drafter(state))
    state.on_commit.extend([state.dispatcher.wake, state.escalation.wake])
    tasks = {asyncio.create_task(state.dispatcher.run(), name="callwatch-dispatcher"),
             asyncio.create_task(state.escalation.run(), name="callwatch-escalation")}
    if config.watchdog:
        state.watchdog = WatchdogWorker(
            state.store, state.policy, state.metrics, public_url=config.public_url,
            clock=state.clock, poll_seconds=min(1.0, config.dispatch.poll_seconds),
            on_commit=state.committed)
        tasks.add(asyncio.create_task(state.watchdog.run(), name="callwatch-watchdog"))
    if state.policy.schedules:
        state.handoff = HandoffWorker(
            state.store, state.policy, state.metrics, notices=config.handoff_notices,
            public_url=config.public_url, clock=state.clock,
            poll_seconds=config.handoff_poll_seconds, on_commit=state.dispatcher.wake)
        tasks.add(asyncio.create_task(state.handoff.run(), name="callwatch-handoff"))
    return tasks


async def _stop_workers(state: ReceiverState, tasks: set[asyncio.Task]) -> None:
    for worker in (state.dispatcher, state.escalation, state.watchdog, state.handoff):
        if worker is not None:
            worker.stop()
    tasks = tasks | state.background   # work answered before it was done: a little more time
    done, _ = await asyncio.wait(tasks, timeout=2.0) if tasks else (set(), set())
    for pending in tasks - done:
        # a send still in flight: its claim expires and it is retried later
        pending.cancel()
        await asyncio.wait({pending}, timeout=2.0)


async def _store_check(state: ReceiverState) -> Check:
    health = await store_health(state)
    return Check("store", health.up, health.detail if health.up else health.error or "")


async def _policy_check(state: ReceiverState) -> Check:
    return Check("policy", bool(state.policy.routing), state.policy.source)


async def _notifier_check(state: ReceiverState) -> Check:
    ready, detail = state.notifiers.readiness(state.policy)
    return Check("notifiers", ready, detail)

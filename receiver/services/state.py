"""The receiver's one runtime state: what its HTTP handlers and workers share.

``receiver.app`` builds it once per app from the configuration and the policy, opens and closes
what it holds (store, HTTP client session, notifiers, workers) and keeps it on the app under
``receiver.http.common.RECEIVER``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field

import aiohttp

from policy import Policy
from receiver.config import ReceiverConfig
from receiver.domain.communications import Communications
from receiver.services.dispatcher import Dispatcher
from receiver.services.escalation import EscalationWorker
from receiver.services.handoff import HandoffWorker
from receiver.services.metrics import ReceiverMetrics
from receiver.services.notifiers import NotifierSet
from receiver.services.voice import Voice
from receiver.services.watchdog import WatchdogWorker
from receiver.store.base import Store, StoreError


class StoreNotOpen(StoreError):
    """The store is not open yet (start-up) or no longer (shutdown): try again."""


@dataclass
class ReceiverState:
    config: ReceiverConfig
    policy: Policy
    metrics: ReceiverMetrics
    comms: Communications                     # the templates, policy overrides applied
    clock: Callable[[], float] = time.time
    # open between start-up and shutdown:
    store: Store | None = None
    http: aiohttp.ClientSession | None = None  # exporter health, Prometheus, Alertmanager
    notifiers: NotifierSet = field(default_factory=lambda: NotifierSet(problem="not built yet"))
    dispatcher: Dispatcher | None = None
    escalation: EscalationWorker | None = None
    watchdog: WatchdogWorker | None = None    # the dead man's switch (CALLWATCH_WATCHDOG)
    handoff: HandoffWorker | None = None      # handoff notices, schedule gaps (policy.schedules)
    voice: Voice | None = None                 # call callbacks: verifiers, Telnyx commands
    on_commit: list[Callable[[], None]] = field(default_factory=list)
    # work a handler answered before doing (Slack wants its answer within 3 s); shutdown
    # waits for it briefly
    background: set[asyncio.Task] = field(default_factory=set)

    def opened_store(self) -> Store:
        """The store; StoreNotOpen before start-up opened it or after shutdown closed it."""
        if self.store is None:
            raise StoreNotOpen("the store is not open yet; retry")
        return self.store

    def spawn(self, work: Coroutine[object, object, object], name: str) -> None:
        """Run ``work`` after the handler has answered; shutdown waits for it a little."""
        task = asyncio.create_task(work, name=name)
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    def committed(self) -> None:
        """Tell the dispatcher and the escalation worker that new rows are waiting."""
        for callback in self.on_commit:
            callback()

"""Runs the dead man's switch: pages when the watchdog's heartbeat stops arriving.

Every poll (and at once when a heartbeat arrives) the worker reads the latest heartbeat any
receiver recorded and the switch's latest incident, asks the pure
``receiver.domain.watchdog.decide_watchdog`` whether to open or resolve, and applies the
verdict as a synthetic Alertmanager group through ``store.apply_group`` and
``receiver.domain.incidents.decide``: the one transaction real deliveries take, which claims
the verdict's delivery key and serialises on the group. So with several receivers on one
store, one of them opens the incident and the others find it done.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from policy import Policy
from receiver.domain.followup import with_followup
from receiver.domain.ids import new_id
from receiver.domain.incidents import Context, decide
from receiver.domain.model import Changes
from receiver.domain.watchdog import (
    GROUP_KEY,
    OPEN,
    SwitchState,
    Verdict,
    decide_watchdog,
    missing_group,
)
from receiver.services.metrics import ReceiverMetrics
from receiver.services.passes import guarded, pause
from receiver.store.base import Store

log = logging.getLogger("callwatch.receiver.watchdog")


class WatchdogWorker:
    """Opens the switch's incident when the heartbeat is missing, resolves it when it returns,
    until stopped. The silence is counted from this worker's construction (the receiver's
    start-up) when no heartbeat is newer."""

    def __init__(self, store: Store, policy: Policy, metrics: ReceiverMetrics, *,
                 public_url: str = "", clock: Callable[[], float] = time.time,
                 poll_seconds: float = 1.0,
                 on_commit: Callable[[], None] = lambda: None) -> None:
        self.store, self.policy, self.metrics = store, policy, metrics
        self.public_url, self.clock, self.poll_seconds = public_url, clock, poll_seconds
        self.on_commit = on_commit
        self.started_at = clock()
        self._applied: str | None = None   # the last verdict's key: claimed, or found claimed
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    def wake(self) -> None:
        """Look now (a heartbeat arrived: a silent pipeline's incident resolves at once)."""
        self._wake.set()

    async def run(self) -> None:
        while not self._stopping.is_set():
            await guarded(self.run_once, log, "watchdog")
            await pause(self._wake, self.poll_seconds)
            self._wake.clear()

    async def run_once(self) -> Verdict | None:
        """Look once; the verdict applied (None: nothing to do, or done before)."""
        # the time first: every heartbeat recorded before it is then in what is read next, so a
        # silence is never judged from a view older than ``now``
        now = self.clock()
        watchdog = self.policy.watchdog
        last = await self.store.last_heartbeat(watchdog.alertname)
        if last is not None:
            self.metrics.watchdog_last_heartbeat.set(last)
        incident = await self.store.latest_incident(GROUP_KEY)
        verdict = decide_watchdog(SwitchState(self.started_at, last, incident), watchdog, now)
        if verdict is None or verdict.key == self._applied:
            return None
        await self.apply(verdict, now)
        return verdict

    async def apply(self, verdict: Verdict, now: float) -> Changes | None:
        """The verdict as a delivery: one transaction, claimed under ``verdict.key``; None when
        that key was claimed before (another receiver applied the same verdict)."""
        group = missing_group(verdict, self.policy.watchdog, now)
        ctx = Context(policy=self.policy, now=now, new_id=new_id, batch=verdict.key,
                      public_url=self.public_url)
        changes = await self.store.apply_group(verdict.key, GROUP_KEY, now,
                                               lambda snapshot: with_followup(
                                                   decide(group, snapshot, ctx), new_id))
        self._applied = verdict.key
        if changes is None:
            return None
        incident = changes.incident.id if changes.incident else None
        if verdict.action == OPEN:
            log.warning("the alerting pipeline is silent: no watchdog heartbeat",
                        extra={"incident": incident, "silent_since": verdict.silent_since})
        else:
            log.info("the watchdog heartbeat returned", extra={"incident": incident})
        self.metrics.record_response_times(changes)
        if changes.outbox or changes.timers:
            self.on_commit()
        return changes

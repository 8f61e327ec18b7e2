"""The scheduler: each source polled at its interval in its own task, never twice at once.

``Poller.run_once(source)`` is one guarded poll (a per-source lock makes a concurrent call wait
for the running poll instead of starting a second). ``Poller.start()`` creates one loop task per
source (from a ``cleanup_ctx``); each loop sleeps the source's interval after a success and a
growing backoff after a 429, 5xx, timeout or transport error (``collectors.base.Backoff``).
``telephony_provider_up{provider}`` is set after every API poll: 1 when it worked, else 0.
With ``follow(leading, wait)`` (exporter replicas, see exporter/leader.py) the ``leader_only``
sources poll only while ``leading()``; a follower checks again every ``wait`` seconds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from exporter.collectors.base import Backoff, PollError, Source
from exporter.health import ProviderState
from exporter.metrics import ExporterMetrics

log = logging.getLogger("callwatch.exporter.poller")


class Poller:
    def __init__(self, metrics: ExporterMetrics, states: dict[str, ProviderState],
                 clock: Callable[[], float]) -> None:
        self.metrics, self.states, self.clock = metrics, states, clock
        self.sources: list[Source] = []
        self.api_sources: set[str] = set()
        self._locks: dict[str, asyncio.Lock] = {}
        self._backoff: dict[str, Backoff] = {}
        self._tasks: list[asyncio.Task] = []
        self.leader_only: set[str] = set()
        self._leading: Callable[[], bool] | None = None
        self._follower_wait = 1.0

    def follow(self, leading: Callable[[], bool], wait: float) -> None:
        """Poll the ``leader_only`` sources only while ``leading()`` is true."""
        self._leading, self._follower_wait = leading, wait

    def add(self, source: Source, api: bool = True, leader_only: bool = True) -> None:
        """Register ``source``; ``api`` sources drive ``telephony_provider_up``;
        ``leader_only`` ones run on one replica at a time when following a leader."""
        if leader_only:
            self.leader_only.add(source.name)
        self.sources.append(source)
        self._locks[source.name] = asyncio.Lock()
        self._backoff[source.name] = Backoff(source.interval)
        if api:
            self.api_sources.add(source.name)

    async def run_once(self, source: Source) -> float:
        """Poll ``source`` once; returns the delay until its next poll."""
        async with self._locks[source.name]:
            backoff = self._backoff[source.name]
            try:
                await source.poll()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a failed poll is a metric, not a crash
                self._record(source, exc)
                return backoff.failure(exc)
            self._record(source, None)
            return backoff.success()

    def _record(self, source: Source, error: BaseException | None) -> None:
        if source.name not in self.api_sources:
            return
        state = self.states[source.provider]
        state.last_poll_at = self.clock()
        state.api_up = error is None
        state.last_error = None if error is None else f"{source.name}: {_describe(error)}"
        self.metrics.provider_up.labels(source.provider).set(1 if error is None else 0)
        if error is not None:
            log.warning("poll failed", extra={"source": source.name, "problem": _describe(error)})

    async def _loop(self, source: Source) -> None:
        while True:
            if (self._leading is not None and source.name in self.leader_only
                    and not self._leading()):
                await asyncio.sleep(self._follower_wait)  # a follower: another replica polls
                continue
            delay = await self.run_once(source)
            await asyncio.sleep(delay)

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._loop(s), name=f"poll:{s.name}")
                       for s in self.sources]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []


def _describe(error: BaseException) -> str:
    if isinstance(error, PollError):
        return str(error)
    return f"{type(error).__name__}: {str(error)[:200]}"

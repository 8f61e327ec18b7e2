"""A worker's heartbeat: the claims it holds stay its own while their work is in flight.

Outbox rows and escalation timers are claimed with a short lease (``lease_seconds``, 10 s by
default), so that what a dead receiver held is taken by another within a lease. A live worker
keeps what it holds: ``Heartbeat`` remembers the ids the worker claimed and has not finished,
and every ``lease / 3`` renews them all to now + lease in one store statement. A slow send (a
call trying two providers, a rate-limited Slack) is therefore never taken over while its
process lives. A renewal that fails (the store unreachable) is logged and the next one tries
again; only when two in a row fail do the claims lapse, and a send then still in flight may be
repeated by another worker: at least once, never lost.

It renews the ids it holds, not "everything claimed under this worker name": a process
restarted under the same ``CALLWATCH_WORKER_ID`` must not keep its dead predecessor's claims
alive (nothing would ever send them).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable

from receiver.store.base import StoreError

log = logging.getLogger("callwatch.receiver.leases")
# (worker, ids, until) -> how many of ``ids`` the worker still held
Renew = Callable[[str, list[str], float], Awaitable[int]]


class Heartbeat:
    """The claims one worker holds of one kind (``what``: "outbox", "timers")."""

    def __init__(self, renew: Renew, worker: str, lease_seconds: float,
                 clock: Callable[[], float], what: str) -> None:
        self._renew = renew
        self.worker, self.lease_seconds, self.clock, self.what = worker, lease_seconds, clock, what
        self._held: set[str] = set()

    def hold(self, ids: Iterable[str]) -> None:
        """Keep these claims alive until ``release``."""
        self._held.update(ids)

    def release(self, ids: Iterable[str]) -> None:
        """Their work is done (recorded, or the claim was lost): stop renewing them."""
        self._held.difference_update(ids)

    def holds(self, ident: str) -> bool:
        """Whether ``ident``'s work is in flight here (claimed and not yet released)."""
        return ident in self._held

    @property
    def interval(self) -> float:
        """Seconds between beats: a third of the lease, so one missed beat loses nothing."""
        return self.lease_seconds / 3

    async def beat(self) -> int:
        """Renew every claim held to now + lease; how many the store still had as ours.
        StoreError when the store cannot take it."""
        ids = sorted(self._held)
        if not ids:
            return 0
        return await self._renew(self.worker, ids, self.clock() + self.lease_seconds)

    async def run(self) -> None:
        """Beat every ``interval`` until cancelled; a failed beat is logged, never raised."""
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.beat()
            except StoreError as exc:
                log.warning("could not renew claims", extra={"claims": self.what,
                                                             "error": str(exc)})
            except Exception:  # the heartbeat must outlive its bugs
                log.exception("claim renewal crashed", extra={"claims": self.what})

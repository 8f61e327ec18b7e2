"""Tells each person taking over an on-call schedule, and gauges the schedules' gaps.

Every ``poll_seconds`` (30 s; and at once at start-up) the worker

- sets ``callwatch_schedule_gap_seconds{schedule}``: the seconds with nobody on call in the
  next 14 days (``policy.schedule_checks.GAP_HORIZON``), from the policy alone;
- with notices on (``CALLWATCH_HANDOFF_NOTICES``), asks the pure
  ``receiver.domain.handoff`` which handoffs happened since its previous look (at start-up:
  the shifts still running that began up to 90 days ago, so a handoff missed while the
  receiver was down is told late, while the shift lasts) and, for each, claims it in the store
  (``store.claim_handoff``: one transaction that records (schedule, shift start, contact) and
  writes the notice's outbox row). A handoff claimed before, by this receiver or another on the
  same store, is skipped: each is told once. The dispatcher sends the row, retries it, and
  counts its end in ``callwatch_handoff_notices_total``; a person with neither Slack nor email
  is counted ``unreachable`` here, once, by the receiver that claimed the handoff.

A look that fails (the store is down) is retried from the same instant at the next poll.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from policy import Policy
from policy.oncall import MAX_SEARCH, gap_seconds
from policy.schedule_checks import GAP_HORIZON
from receiver.domain import handoff
from receiver.domain.handoff import Notice
from receiver.domain.ids import new_id
from receiver.domain.model import Incident
from receiver.services.metrics import ReceiverMetrics
from receiver.services.passes import guarded, pause
from receiver.store.base import Store

log = logging.getLogger("callwatch.receiver.handoff")
OPEN_LIMIT = 200                      # open incidents read per state for a notice
PRUNE_EVERY = 86400.0                 # forget old claims once a day
KEEP_CLAIMS = 2 * MAX_SEARCH.total_seconds()   # longer than any look back: never told twice


class HandoffWorker:
    """Looks every ``poll_seconds`` until stopped (see the module docstring)."""

    def __init__(self, store: Store, policy: Policy, metrics: ReceiverMetrics, *,
                 notices: bool = True, public_url: str = "",
                 clock: Callable[[], float] = time.time, poll_seconds: float = 30.0,
                 new_id: Callable[[], str] = new_id,
                 on_commit: Callable[[], None] = lambda: None) -> None:
        self.store, self.policy, self.metrics = store, policy, metrics
        self.notices, self.public_url = notices, public_url
        self.clock, self.poll_seconds, self.new_id = clock, poll_seconds, new_id
        self.on_commit = on_commit
        self.checked: float | None = None   # the previous complete look; None: none yet
        self._pruned_at = float("-inf")
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        while not self._stopping.is_set():
            await guarded(self.run_once, log, "handoff")
            await pause(self._stopping, self.poll_seconds)

    async def run_once(self) -> list[Notice]:
        """Look once: refresh the gap gauge and queue the notices due; the notices this
        receiver claimed (sent or unreachable), not those another claimed first."""
        now = self.clock()
        self.refresh_gaps(now)
        if not self.notices:
            return []
        due = handoff.due_handoffs(self.policy, self.checked, now)
        claimed = []
        if due:
            incidents = await self._open_incidents()
            for shift in due:
                notice = handoff.notice(self.policy, shift, incidents, self.public_url)
                if await self._claim(notice, now):
                    claimed.append(notice)
        self.checked = now   # only once every notice due is claimed: a failure looks again
        if now - self._pruned_at >= PRUNE_EVERY:
            self._pruned_at = now
            await self.store.prune_handoffs(now - KEEP_CLAIMS)
        return claimed

    def refresh_gaps(self, now: float) -> None:
        at = datetime.fromtimestamp(now, UTC)
        for name, schedule in self.policy.schedules.items():
            try:
                gap = gap_seconds(schedule, at, at + GAP_HORIZON)
            except ValueError as exc:  # a schedule the loader let through but cannot resolve
                log.warning("cannot resolve schedule", extra={"schedule": name,
                                                              "error": str(exc)})
                continue
            self.metrics.schedule_gap.labels(name).set(gap)

    async def _claim(self, notice: Notice, now: float) -> bool:
        row = handoff.notice_row(notice, policy=self.policy, now=now, new_id=self.new_id)
        if not await self.store.claim_handoff(notice.schedule, notice.start, notice.contact,
                                              now, row):
            return False
        facts = {"schedule": notice.schedule, "contact": notice.contact,
                 "shift_start": notice.start, "late_seconds": round(now - notice.start, 3)}
        if row is None:
            self.metrics.handoff_notices.labels("unreachable").inc()
            log.warning("handoff notice: the person on call has no Slack or email to tell",
                        extra=facts)
            return True
        log.info("handoff notice queued", extra={**facts, "channel": notice.channel,
                                                 "outbox": row.id})
        self.on_commit()
        return True

    async def _open_incidents(self) -> list[Incident]:
        found: list[Incident] = []
        for state in handoff.OPEN_STATES:
            found += await self.store.list_incidents(state, OPEN_LIMIT)
        return found

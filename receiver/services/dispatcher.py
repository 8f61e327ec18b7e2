"""The outbox dispatcher: sends what the store says is due, once, through outages and restarts.

The dispatcher claims due rows (a claim expires after ``lease_seconds``, so rows held by a
worker that died are taken again; while this one lives its heartbeat renews every row it holds,
``receiver.services.leases``), sends each through the notifier of its channel, at most
``concurrency`` at once, and records the attempt. Outcomes:

- sent: the row is done; its ``Delivery.ref`` threads later messages on that channel;
- retryable failure: tried again after ``base * 2^(n-1)`` seconds (capped, jittered); once the
  row has kept failing ``policy.notifications.fallback_after_seconds`` since its first attempt,
  the route's next ``fallback`` channel gets a copy (once); past ``max_age_seconds`` the row is
  abandoned;
- non-retryable failure: the row is failed and the fallback channel gets a copy at once.

A channel without a notifier counts as a retryable ``config`` failure: the page waits (and
falls back) instead of being dropped. Rows on a ``digest`` channel are due at its send time
and all due rows of that channel leave as ONE notification of kind "digest".
A row's words are rendered when it is sent (``receiver.services.notifications``, from the
policy's templates); a template that cannot render fails the row like a refused send
(``config``), so it falls back.
A send still in flight when the process is killed is retried after its claim expires, with
the same ``Notification.id`` and ``dedup_key``, and ``maybe_sent_since`` (the row names its
``taken_over_from``), as is a retry after a failure the far side may have acted on anyway (a
timeout, a 5xx, a dropped connection: ``receiver.domain.outbox.maybe_sent_since``): Slack
looks the earlier send up by its metadata and Statuspage among the page's unresolved
incidents instead of sending twice, PagerDuty deduplicates, the others deliver at least once.
A two-way call is ``awaiting`` before it is dialled, so a takeover never dials it again: its
report, or its deadline, settles it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from functools import partial
from typing import TypeVar

from policy import Policy
from receiver.config import DispatchSettings
from receiver.domain import messages, outbox, render
from receiver.domain.communications import Communications, TemplateError
from receiver.domain.escalation import TIMER_KIND
from receiver.domain.ids import new_id
from receiver.domain.model import (
    Attempt,
    Event,
    EventKind,
    Finish,
    MessageKind,
    OutboxRow,
    OutboxState,
)
from receiver.domain.pages import CallReport, retry_of
from receiver.notify.base import Delivery, Notification, Notifier, NotifyError
from receiver.services.answers import settle
from receiver.services.leases import Heartbeat
from receiver.services.metrics import ReceiverMetrics
from receiver.services.notifications import to_notification, words_for
from receiver.store.base import Store, StoreError

log = logging.getLogger("callwatch.receiver.dispatcher")
ACTOR = "dispatcher"
DELIVERY_KEY_DAYS = 7  # Alertmanager stops retrying a delivery long before this
Send = Callable[[], Awaitable[None]]
T = TypeVar("T")


def default_jitter(delay: float) -> float:
    """Full-ish jitter: somewhere in [delay/2, delay], so retries of many rows spread out."""
    return delay * (0.5 + random.random() / 2)


class Dispatcher:
    def __init__(self, store: Store, notifiers: Mapping[str, Notifier], policy: Policy,
                 metrics: ReceiverMetrics, *, worker: str, settings: DispatchSettings,
                 comms: Communications | None = None, clock: Callable[[], float] = time.time,
                 jitter: Callable[[float], float] = default_jitter) -> None:
        self.store = store
        self.comms = comms if comms is not None else Communications()
        self.notifiers = notifiers
        self.policy = policy
        self.metrics = metrics
        self.worker = worker
        self.settings = settings
        self.clock = clock
        self.jitter = jitter
        self._wake = asyncio.Event()
        self._queue: asyncio.Queue[Send] = asyncio.Queue()
        self._claim_when_room = False   # a sender wakes the loop when the queue runs short
        self._stopping = False
        self._pruned_at = float("-inf")
        self.held = Heartbeat(store.renew_outbox_claims, worker, settings.lease_seconds, clock,
                              "outbox")
        # channel -> (worked, error text or None, when): what /alerting/health reports
        self.last_outcome: dict[str, tuple[bool, str | None, float]] = {}

    def wake(self) -> None:
        """Claim now (called after a delivery committed new rows)."""
        self._wake.set()

    def stop(self) -> None:
        """Send what is already claimed and return from ``run``."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        """Dispatch until stopped; a store outage or a bug is logged and retried, never fatal.

        A pipeline, not passes: ``concurrency`` senders take claimed sends from a queue, and
        the loop claims again as soon as the queue runs short and rows may be due (a wake, a
        full claim, or the poll interval), so a page committed meanwhile never waits for the
        slowest send of an earlier batch."""
        tasks = [asyncio.create_task(self._sender()) for _ in range(self.settings.concurrency)]
        tasks.append(asyncio.create_task(self.held.run()))   # keeps what is being sent ours
        gauges_at = float("-inf")
        try:
            while not self._stopping:
                full = False
                self._wake.clear()   # a wake while the queue is full: the senders wake us later
                if self._queue.qsize() < self.settings.concurrency:
                    full = await self._claim_into_queue()
                    # gauges at most once per poll interval (real time: this is rate limiting)
                    if time.monotonic() - gauges_at >= self.settings.poll_seconds:
                        gauges_at = time.monotonic()
                        await self._guarded(self.refresh_gauges())
                self._claim_when_room = full or self._queue.qsize() >= self.settings.concurrency
                if full and self._queue.qsize() < self.settings.concurrency:
                    continue
                # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation
                try:
                    async with asyncio.timeout(self.settings.poll_seconds):
                        await self._wake.wait()
                except TimeoutError:
                    pass
            await self._queue.join()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _claim_into_queue(self) -> bool:
        """Queue the due sends; True when the claim was full (more may be due)."""
        claimed = await self._guarded(self._claim())
        if claimed is None:
            return False
        sends, count = claimed
        for send in sends:
            self._queue.put_nowait(send)
        return count >= self.settings.batch_size

    async def _sender(self) -> None:
        while True:
            send = await self._queue.get()
            try:
                await self._guarded(send())
            finally:
                self._queue.task_done()
                if self._claim_when_room and self._queue.qsize() < self.settings.concurrency:
                    self._wake.set()

    async def _guarded(self, work: Awaitable[T]) -> T | None:
        """``work``'s result; a store outage or a bug is logged (None), never raised."""
        try:
            return await work
        except StoreError as exc:
            log.warning("outbox work failed", extra={"error": str(exc)})
        except Exception:  # the dispatcher must outlive its bugs
            log.exception("outbox work crashed")
        return None

    async def refresh_gauges(self) -> None:
        """Gauges from the store; also forgets delivery keys older than DELIVERY_KEY_DAYS."""
        now = self.clock()
        self.metrics.outbox_pending.set(await self.store.pending_count())
        self.metrics.set_open(await self.store.open_counts())
        self.metrics.set_waiting(now, await self.store.outbox_due_since(now),
                                 await self.store.timers_due_since(now, TIMER_KIND))
        if now - self._pruned_at >= 3600:
            self._pruned_at = now
            await self.store.prune_deliveries(now - DELIVERY_KEY_DAYS * 86400)

    async def run_once(self) -> int:
        """Claim and send every due row once, and settle the calls whose outcome never came;
        returns how many rows were claimed. (``run`` does the same continuously.)"""
        sends, count = await self._claim()
        limit = asyncio.Semaphore(self.settings.concurrency)

        async def bounded(send: Send) -> None:
            async with limit:
                await send()

        await asyncio.gather(*(bounded(send) for send in sends))
        return count

    async def _claim(self) -> tuple[list[Send], int]:
        """Settle the calls whose outcome never came, claim the due rows: the sends to make
        (all of a digest channel's rows are one) and how many rows were claimed."""
        now = self.clock()
        unanswered = await self.store.claim_unanswered(
            self.worker, now, self.settings.lease_seconds, self.settings.batch_size)
        for row in unanswered:
            if row.page is not None:
                await settle(self.store, self.policy, self.metrics, row.page,
                             CallReport(row.attempts, "no-report", "deadline"), now)
        rows = await self.store.claim_outbox(self.worker, self.clock(),
                                             self.settings.lease_seconds, self.settings.batch_size)
        # a row already in flight here, whose claim lapsed and came back to us: sent once
        rows = [row for row in rows if not self.held.holds(row.id)]
        self.held.hold(row.id for row in rows)
        digests: dict[str, list[OutboxRow]] = {}
        sends: list[Send] = []
        for row in rows:
            if self._channel_type(row.channel) == "digest":
                digests.setdefault(row.channel, []).append(row)
            else:
                sends.append(partial(self._sending, [row.id], partial(self._send_row, row)))
        sends += [partial(self._sending, [row.id for row in group],
                          partial(self._send_digest, channel, group))
                  for channel, group in digests.items()]
        return sends, len(rows) + len(unanswered)

    def _channel_type(self, channel: str) -> str:
        spec = self.policy.channels.get(channel)
        return spec.type if spec else ""

    async def _sending(self, ids: list[str], send: Send) -> None:
        """``send``, then stop renewing the claims of ``ids`` (recorded, or lost)."""
        try:
            await send()
        finally:
            self.held.release(ids)

    async def _send_row(self, row: OutboxRow) -> None:
        thread_ref = None
        if row.kind != MessageKind.TRIGGER:
            thread_ref = await self.store.first_ref(row.incident_id, row.channel)
        page = row.page if self._tracks_answers(row) else None
        if page is not None:
            # the attempt is counted BEFORE the call, so the provider's report finds it
            now = self.clock()
            until = now + retry_of(self.policy, row.channel).outcome_within_seconds
            if not await self.store.mark_awaiting(row.id, self.worker, now, until):
                return  # the claim was lost: another worker has the row
        try:
            notification = self.notification(row.id, row.payload, row.channel, row.kind,
                                             thread_ref, page=page, attempt=row.attempts + 1)
        except TemplateError as exc:
            outcome: Delivery | NotifyError = NotifyError("config", str(exc), retryable=False)
        else:
            if row.taken_over_from is not None:
                log.info("taking over an unfinished send", extra={
                    "outbox": row.id, "channel": row.channel, "from": row.taken_over_from})
            since = outbox.maybe_sent_since(row)
            if since is not None:
                notification = replace(notification, maybe_sent_since=since)
            outcome = await self._deliver(row.channel, notification)
        await self._finish(row, outcome, counted=page is not None)

    def notification(self, ident: str, payload: Mapping, channel: str, kind: str,
                     thread_ref: str | None = None, page: str | None = None,
                     attempt: int = 1) -> Notification:
        """The Notification for a stored payload, its words rendered for ``channel``'s notifier
        (Slack buttons only where the notifier verifies clicks). Raises TemplateError."""
        words = words_for(self.comms, self.policy, self.notifiers, payload, channel, kind)
        return to_notification(ident, payload, channel, kind, words, thread_ref, page, attempt)

    def _tracks_answers(self, row: OutboxRow) -> bool:
        """A page a person answers, on a notifier that hears back whether they did."""
        notifier = self.notifiers.get(row.channel)
        return row.page is not None and bool(getattr(notifier, "tracks_answers", False))

    async def _send_digest(self, channel: str, rows: list[OutboxRow]) -> None:
        now = self.clock()
        fields = render.digest_payload(channel, (r.payload for r in rows),
                                       messages.recipients_for(self.policy, channel, now), now)
        ident = "digest-" + hashlib.sha256("|".join(r.id for r in rows).encode()).hexdigest()[:16]
        try:
            words = render.render_digest(self.comms, fields)
        except TemplateError as exc:
            outcome: Delivery | NotifyError = NotifyError("config", str(exc), retryable=False)
        else:
            digest = to_notification(ident, fields, channel, MessageKind.DIGEST, words)
            outcome = await self._deliver(channel, digest)
        for row in rows:
            await self._finish(row, outcome)

    async def _deliver(self, channel: str, notification: Notification) -> Delivery | NotifyError:
        notifier = self.notifiers.get(channel)
        if notifier is None:
            return NotifyError("config", f"no notifier configured for channel {channel!r}",
                               retryable=True)
        try:
            async with asyncio.timeout(self.settings.send_timeout_seconds):
                return await notifier.send(notification)
        except NotifyError as exc:
            return exc
        except TimeoutError:
            return NotifyError("timeout", "the notifier did not answer in time", retryable=True)
        except Exception as exc:  # a notifier bug must not stop the dispatcher
            log.exception("notifier raised", extra={"channel": channel})
            return NotifyError("internal", type(exc).__name__, retryable=True)

    async def _finish(self, row: OutboxRow, outcome: Delivery | NotifyError,
                      counted: bool = False) -> None:
        """Record the attempt; ``counted``: mark_awaiting already counted it."""
        now = self.clock()
        self.last_outcome[row.channel] = (isinstance(outcome, Delivery),
                                          None if isinstance(outcome, Delivery) else str(outcome),
                                          now)
        finish = (self._sent(row, outcome, now) if isinstance(outcome, Delivery)
                  else self._failed(row, outcome, now))
        if counted:
            finish = replace(finish, counts_attempt=False)
        try:
            ours = await self.store.finish_outbox(row.id, self.worker, now, finish)
        except StoreError as exc:
            # the claim expires and the row is sent again: at least once, never lost
            log.warning("could not record attempt", extra={"outbox": row.id, "error": str(exc)})
            return
        if not ours:
            log.warning("claim lost before the attempt was recorded", extra={"outbox": row.id})
            return
        self.metrics.notifications.labels(row.channel, finish.attempt.outcome).inc()
        if finish.attempt.reason:
            self.metrics.failures.labels(row.channel, finish.attempt.reason).inc()
        if finish.fallbacks:
            self.metrics.notifications.labels(row.channel, "fallback").inc()
        if row.kind == MessageKind.HANDOFF and finish.state != OutboxState.PENDING:
            self.metrics.handoff_notices.labels(finish.state).inc()  # sent, failed, abandoned

    def _sent(self, row: OutboxRow, delivery: Delivery, now: float) -> Finish:
        """Sent; or, for a call whose answer is awaited, placed (``dialed``) until its
        provider reports or ``outcome_within`` passes."""
        detail = {"channel": row.channel, "kind": row.kind, "ref": delivery.ref,
                  "via": delivery.via, "attempts": row.attempts + 1}
        if delivery.awaiting:
            until = now + retry_of(self.policy, row.channel).outcome_within_seconds
            event = Event(row.incident_id, now, EventKind.NOTIFIED, ACTOR,
                          {**detail, "awaiting_answer": True})
            return Finish(OutboxState.AWAITING, Attempt(row.id, now, self.worker, "dialed"),
                          next_attempt_at=until, delivered_ref=delivery.ref,
                          delivered_via=delivery.via, events=(event,))
        found = "an earlier send was found there" if delivery.found else None
        event = Event(row.incident_id, now, EventKind.NOTIFIED, ACTOR,
                      {**detail, "found": True} if delivery.found else detail)
        return Finish(OutboxState.SENT, Attempt(row.id, now, self.worker, "sent", detail=found),
                      delivered_ref=delivery.ref, delivered_via=delivery.via, events=(event,))

    def _failed(self, row: OutboxRow, error: NotifyError, now: float) -> Finish:
        first = row.first_attempt_at if row.first_attempt_at is not None else now
        detail = error.detail[:500]
        if not error.retryable or now - row.created_at >= self.settings.max_age_seconds:
            state, kind = ((OutboxState.FAILED, EventKind.NOTIFY_FAILED) if not error.retryable
                           else (OutboxState.ABANDONED, EventKind.NOTIFY_ABANDONED))
            event = Event(row.incident_id, now, kind, ACTOR,
                          {"channel": row.channel, "kind": row.kind, "reason": error.reason})
            return replace(self._fallback(row, now), state=state, events=(event,),
                           attempt=Attempt(row.id, now, self.worker, state, error.reason, detail))
        delay = min(self.settings.retry_base_seconds * 2 ** row.attempts,
                    self.settings.retry_max_seconds)
        retry = Attempt(row.id, now, self.worker, "retry", error.reason, detail)
        finish = Finish(OutboxState.PENDING, retry, next_attempt_at=now + self.jitter(delay))
        if now - first >= self.policy.notifications.fallback_after_seconds:
            fallback = self._fallback(row, now)
            finish = replace(finish, fallbacks=fallback.fallbacks,
                             fallback_events=fallback.fallback_events)
        return finish

    def _fallback(self, row: OutboxRow, now: float) -> Finish:
        """A Finish carrying the copy of ``row`` for the route's next fallback channel, if any."""
        retry = Attempt(row.id, now, self.worker, "retry")
        found = outbox.fallback_copy(row, self.policy, now, new_id, ACTOR)
        if found is None:
            return Finish(OutboxState.PENDING, retry)
        copy, event = found
        return Finish(OutboxState.PENDING, retry, fallbacks=(copy,), fallback_events=(event,))

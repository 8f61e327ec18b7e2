"""How a page's call ended, recorded: the provider's report (or the missing one) settles the
page's row in one store transaction (``receiver.domain.pages.settle_call`` decides).

Used by the voice callbacks (a provider reports) and by the dispatcher (no report came before
the channel's ``outcome_within``).
"""

from __future__ import annotations

import logging

from policy import Policy
from receiver.domain.ids import new_id
from receiver.domain.model import Finish, OutboxRow
from receiver.domain.pages import CallReport, settle_call
from receiver.services.metrics import ReceiverMetrics
from receiver.store.base import Store

log = logging.getLogger("callwatch.receiver.pages")


async def settle(store: Store, policy: Policy, metrics: ReceiverMetrics, page: str,
                 report: CallReport, now: float) -> tuple[OutboxRow | None, Finish | None]:
    """Apply ``report`` to ``page``; (row, finish) as ``Store.settle_page`` returns them.
    StoreError when the store cannot take it (the provider retries, or the deadline does)."""
    row, finish = await store.settle_page(
        page, now, lambda current: settle_call(current, report, policy, now, new_id))
    if row is not None and finish is not None:
        metrics.notifications.labels(row.channel, finish.attempt.outcome).inc()
        if finish.fallbacks:
            metrics.notifications.labels(row.channel, "fallback").inc()
        log.info("page call settled", extra={"incident": row.incident_id, "channel": row.channel,
                                             "status": report.status, "state": finish.state})
    return row, finish

"""The receiver's store: one small async interface, two engines (SQLite, PostgreSQL).

Everything the receiver remembers lives here: incidents, their timeline, the Alertmanager
deliveries already processed (idempotency), the outbox of notifications, every send attempt,
and timers (escalation). Times are Unix seconds (float) from the caller's clock: the
store never reads the time itself.

Write paths are whole transactions so a caller can promise "committed or nothing":

- ``apply_group`` records one Alertmanager delivery: inside ONE transaction it claims the
  delivery key (a duplicate returns ``None`` and changes nothing), serialises on the group
  (PostgreSQL: an advisory lock, so several receivers may share one database), reads the
  group's latest incident, asks the pure ``decide`` callback what changes, and writes the
  incident, timeline events, outbox rows and timers it returns.
- ``claim_outbox`` hands due outbox rows to one worker with a claim that expires, so rows held
  by a worker that died are taken again later (PostgreSQL: ``FOR UPDATE SKIP LOCKED``); a row
  so taken names its previous holder (``taken_over_from``). A live worker renews what it
  holds (``renew_outbox_claims``, ``renew_timer_claims``: its heartbeat).
- ``finish_outbox`` records an attempt and its outcome, only while the claim is still ours.
- ``apply_incident`` changes one incident by id (acknowledge, resolve by hand, escalate);
  ``claim_timers`` / ``finish_timer`` run durable timers the same way as the outbox.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from receiver.domain.incident_query import IncidentPage, IncidentQuery
from receiver.domain.model import (
    ActionItem,
    Attempt,
    Changes,
    Event,
    Finish,
    GroupSnapshot,
    Incident,
    NewOutbox,
    OutboxRow,
    Timer,
)


class StoreError(Exception):
    """The store could not be reached or refused the transaction (the caller answers 503)."""


Decide = Callable[[GroupSnapshot], Changes]


class Store(Protocol):
    """The receiver's storage. Every method is one transaction; failures raise StoreError."""

    dialect: str

    async def open(self) -> None:
        """Connect and apply pending migrations."""

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raise StoreError unless the store answers."""

    async def apply_group(self, delivery_key: str, group_key: str, now: float,
                          decide: Decide) -> Changes | None:
        """Apply one delivery atomically; None when ``delivery_key`` was already processed."""

    async def apply_incident(self, incident_id: str, now: float,
                             decide: Decide) -> Changes | None:
        """Change one incident atomically (ack, resolve, escalation); None if it does not exist.
        PostgreSQL locks the incident row for the transaction."""

    async def claim_timers(self, worker: str, now: float, lease_seconds: float,
                           limit: int) -> list[Timer]:
        """Claim due pending timers, like claim_outbox (escalation steps)."""

    async def renew_timer_claims(self, worker: str, ids: list[str], until: float) -> int:
        """Extend to ``until`` the timer claims ``worker`` still holds among ``ids`` (one
        statement); how many it still held."""

    async def finish_timer(self, timer_id: str, worker: str, now: float, state: str,
                           changes: Changes | None = None) -> bool:
        """Set a claimed timer to ``fired``/``cancelled`` and write ``changes`` in the same
        transaction; False (nothing written) if the claim was lost."""

    async def get_incident(self, incident_id: str) -> Incident | None: ...

    async def latest_incident(self, group_key: str) -> Incident | None:
        """The group's latest incident (the last opened), or None."""

    async def list_incidents(self, state: str | None = None, limit: int = 100) -> list[Incident]:
        """The newest ``limit`` incidents (in ``state``), newest first: ``page_incidents``'s
        first page."""

    async def page_incidents(self, query: IncidentQuery) -> IncidentPage:
        """One page of incidents under ``query``'s filters, opened_at then id descending,
        strictly after ``query.before``; ``next`` is None on the last page."""

    async def timeline(self, incident_id: str) -> list[Event]: ...

    async def claim_outbox(self, worker: str, now: float, lease_seconds: float,
                           limit: int) -> list[OutboxRow]:
        """Claim due pending rows (oldest first, one row per incident, channel and lane at a
        time)."""

    async def renew_outbox_claims(self, worker: str, ids: list[str], until: float) -> int:
        """Extend to ``until`` the outbox claims ``worker`` still holds among ``ids`` (pending
        or awaiting rows; one statement): the heartbeat that keeps a live worker's slow send
        from being taken over. How many it still held."""

    async def finish_outbox(self, row_id: str, worker: str, now: float, finish: Finish) -> bool:
        """Record the attempt and new state; False (and nothing written) if the claim was lost."""

    async def mark_awaiting(self, row_id: str, worker: str, now: float, until: float) -> bool:
        """Count the attempt of a claimed page row and set it ``awaiting`` until ``until``,
        before its call is placed; False (nothing written) if the claim was lost."""

    async def claim_unanswered(self, worker: str, now: float, lease_seconds: float,
                               limit: int) -> list[OutboxRow]:
        """Claim ``awaiting`` rows past their deadline: calls whose outcome never came."""

    async def settle_page(self, page: str, now: float, decide: Callable[[OutboxRow], Finish | None]
                          ) -> tuple[OutboxRow | None, Finish | None]:
        """Apply ``decide``'s Finish to the row of ``page`` atomically (a provider said how the
        call went); (None, None) for an unknown page, (row, None) when nothing changed."""

    async def record_callback(self, provider: str, event_id: str, now: float) -> bool:
        """Remember a provider callback id; False if it was seen before (a replay)."""

    async def page_row(self, page: str) -> OutboxRow | None: ...

    async def first_ref(self, incident_id: str, channel: str) -> str | None:
        """The delivered ref of the incident's first sent message on ``channel`` (threading)."""

    async def outbox_for(self, incident_id: str) -> list[OutboxRow]: ...

    async def attempts_for(self, outbox_id: str) -> list[Attempt]: ...

    async def pending_count(self) -> int: ...

    async def outbox_due_since(self, now: float) -> float | None:
        """Since when the oldest undelivered row (pending, or a call awaiting its answer) has
        been due: its first attempt, else its due time; a row scheduled for later and never
        tried does not count. None when none is."""

    async def timers_due_since(self, now: float, kind: str) -> float | None:
        """The earliest ``due_at`` <= ``now`` of a pending (not fired) timer of ``kind``."""

    async def open_counts(self) -> dict[str, int]:
        """Open (not resolved) incidents per priority."""

    async def timers_for(self, incident_id: str) -> list[Timer]: ...

    async def record_heartbeat(self, name: str, at: float) -> None:
        """Record that the watchdog heartbeat ``name`` arrived at ``at``; a later time
        recorded before (by another receiver) is kept."""

    async def last_heartbeat(self, name: str) -> float | None:
        """When heartbeat ``name`` last arrived at any receiver; None if it never did."""

    async def prune_deliveries(self, before: float) -> int:
        """Forget delivery keys and provider callback ids older than ``before`` (Alertmanager
        and the providers stop retrying long before)."""

    async def claim_handoff(self, schedule: str, shift_start: float, contact: str, now: float,
                            row: NewOutbox | None) -> bool:
        """Claim the on-call handoff (``schedule``, ``shift_start``, ``contact``) and insert
        ``row``, the notice telling it (None: nobody can be reached), in one transaction; False,
        writing nothing, when any receiver claimed it before. ``row.incident_id`` is ""."""

    async def prune_handoffs(self, before: float) -> int:
        """Forget the claims of handoffs whose shift started before ``before``."""

    async def add_action_item(self, item: ActionItem, event: Event) -> bool:
        """Insert a post-incident action item with its timeline ``event``, together; False
        (nothing written) when its incident does not exist."""

    async def action_items(self, incident_id: str) -> list[ActionItem]:
        """The incident's action items, in the order they were added."""

    async def close_action_item(self, incident_id: str, item_id: str, by: str,
                                now: float) -> tuple[ActionItem | None, bool]:
        """Close an open item with its ``action_item_closed`` event, together: (the item now,
        whether this call closed it); (None, False) when the incident has no such item."""

    async def open_action_items(self) -> list[ActionItem]:
        """Every open action item, earliest due first."""

    async def events_of_opened(self, since: float, until: float,
                               kinds: tuple[str, ...]) -> list[Event]:
        """The timeline events of ``kinds`` of every incident opened in [since, until),
        oldest first (the monthly review's SLA breaches and flaps)."""

    async def outbox_counts(self, since: float, until: float
                            ) -> list[tuple[str | None, str, str, int]]:
        """(incident_id or None, channel, state, rows) for the outbox rows created in
        [since, until) (the monthly review's pages)."""

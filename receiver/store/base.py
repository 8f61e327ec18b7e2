"""The receiver's store: one small async interface, two engines (SQLite, PostgreSQL).

Everything the receiver remembers lives here: incidents, their timeline, the Alertmanager
deliveries already processed (idempotency), the outbox of notifications, every send attempt,
and timers (escalation, issue 5). Times are Unix seconds (float) from the caller's clock: the
store never reads the time itself.

Write paths are whole transactions so a caller can promise "committed or nothing":

- ``apply_group`` records one Alertmanager delivery: inside ONE transaction it claims the
  delivery key (a duplicate returns ``None`` and changes nothing), serialises on the group
  (PostgreSQL: an advisory lock, so several receivers may share one database), reads the
  group's latest incident, asks the pure ``decide`` callback what changes, and writes the
  incident, timeline events, outbox rows and timers it returns.
- ``claim_outbox`` hands due outbox rows to one worker with a claim that expires, so rows held
  by a worker that died are taken again later (PostgreSQL: ``FOR UPDATE SKIP LOCKED``).
- ``finish_outbox`` records an attempt and its outcome, only while the claim is still ours.
- ``apply_incident`` changes one incident by id (acknowledge, resolve by hand, escalate);
  ``claim_timers`` / ``finish_timer`` run durable timers the same way as the outbox.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

INCIDENT_STATES = ("triggered", "acknowledged", "resolved")
OUTBOX_STATES = ("pending", "sent", "failed", "abandoned")
TIMER_STATES = ("pending", "fired", "cancelled")


class StoreError(Exception):
    """The store could not be reached or refused the transaction (the caller answers 503)."""


@dataclass
class Incident:
    """One incident: one Alertmanager group (``group_key``) from opening to resolution."""

    id: str
    group_key: str
    priority: str
    state: str
    summary: str
    provider: str | None
    opened_at: float
    acked_at: float | None = None
    resolved_at: float | None = None
    acked_by: str | None = None
    truncated_alerts: int = 0
    labels: dict[str, str] = field(default_factory=dict)     # the group's common labels
    alerts: list[dict[str, Any]] = field(default_factory=list)  # the latest alerts, as received
    updated_at: float = 0.0


@dataclass(frozen=True)
class Event:
    """A timeline entry: what happened to an incident, when, and who did it."""

    incident_id: str
    at: float
    kind: str        # opened, reopened, priority_changed, alerts_changed, resolved, notified, ...
    actor: str       # "alertmanager", "dispatcher", a person's name
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NewOutbox:
    """An outbox row to create. ``payload`` holds the Notification fields (see messages.py)."""

    id: str
    incident_id: str
    channel: str
    kind: str
    payload: dict[str, Any]
    next_attempt_at: float
    batch: str                      # rows of one change share it; (batch, channel, kind) is unique
    fallback_of: str | None = None


@dataclass(frozen=True)
class OutboxRow:
    """A stored outbox row."""

    id: str
    seq: int
    incident_id: str
    channel: str
    kind: str
    payload: dict[str, Any]
    state: str
    attempts: int
    next_attempt_at: float
    created_at: float
    batch: str
    claimed_by: str | None = None
    claim_expires_at: float | None = None
    first_attempt_at: float | None = None
    delivered_ref: str | None = None
    delivered_via: str | None = None
    fallback_of: str | None = None
    last_error: str | None = None


@dataclass(frozen=True)
class Attempt:
    """One send attempt of an outbox row."""

    outbox_id: str
    at: float
    worker: str
    outcome: str            # sent | retry | failed | abandoned
    reason: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class Finish:
    """The outcome of an attempt: the row's new state and, when not sent, when to try again."""

    state: str                      # pending (retry later) | sent | failed | abandoned
    attempt: Attempt
    next_attempt_at: float | None = None
    delivered_ref: str | None = None
    delivered_via: str | None = None
    fallbacks: tuple[NewOutbox, ...] = ()   # inserted unless (batch, channel, kind) exists
    events: tuple[Event, ...] = ()
    fallback_events: tuple[Event, ...] = ()  # inserted only when a fallback row was new


@dataclass(frozen=True)
class Timer:
    """A durable timer (issue 5: escalation steps, SLA deadlines)."""

    id: str
    incident_id: str
    kind: str
    due_at: float
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GroupSnapshot:
    """What ``decide`` sees: the group's latest incident and the channels it already paged."""

    group_key: str
    incident: Incident | None
    notified: frozenset[str]        # channels with a trigger row for ``incident``


@dataclass
class Changes:
    """What one delivery changes; ``incident`` is inserted when new, else updated."""

    incident: Incident | None = None
    new_incident: bool = False
    events: list[Event] = field(default_factory=list)
    outbox: list[NewOutbox] = field(default_factory=list)
    timers: list[Timer] = field(default_factory=list)
    cancel_timers: tuple[str, ...] = ()          # timer kinds of ``incident`` to cancel; "*" = all
    resolved_incident: Incident | None = None   # set when this change resolved an incident


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
        """Claim due pending timers, like claim_outbox (issue 5: escalation steps)."""

    async def finish_timer(self, timer_id: str, worker: str, now: float, state: str,
                           changes: Changes | None = None) -> bool:
        """Set a claimed timer to ``fired``/``cancelled`` and write ``changes`` in the same
        transaction; False (nothing written) if the claim was lost."""

    async def get_incident(self, incident_id: str) -> Incident | None: ...

    async def list_incidents(self, state: str | None = None, limit: int = 100) -> list[Incident]:
        """Newest first."""

    async def timeline(self, incident_id: str) -> list[Event]: ...

    async def claim_outbox(self, worker: str, now: float, lease_seconds: float,
                           limit: int) -> list[OutboxRow]:
        """Claim due pending rows (oldest first, one row per incident and channel at a time)."""

    async def finish_outbox(self, row_id: str, worker: str, now: float, finish: Finish) -> bool:
        """Record the attempt and new state; False (and nothing written) if the claim was lost."""

    async def first_ref(self, incident_id: str, channel: str) -> str | None:
        """The delivered ref of the incident's first sent message on ``channel`` (threading)."""

    async def outbox_for(self, incident_id: str) -> list[OutboxRow]: ...

    async def attempts_for(self, outbox_id: str) -> list[Attempt]: ...

    async def pending_count(self) -> int: ...

    async def open_counts(self) -> dict[str, int]:
        """Open (not resolved) incidents per priority."""

    async def timers_for(self, incident_id: str) -> list[Timer]: ...

    async def prune_deliveries(self, before: float) -> int:
        """Forget delivery keys older than ``before`` (Alertmanager stops retrying long before)."""

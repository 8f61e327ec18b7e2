"""The receiver's records: incidents, timeline events, outbox rows, attempts and timers.

Plain data, shared by every layer: the pure core (``receiver.domain``) builds them, the store
(``receiver.store``) persists them, the services and the HTTP layer read them. Times are Unix
seconds (float) from the caller's clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class IncidentState(StrEnum):
    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class OutboxState(StrEnum):
    PENDING = "pending"        # waiting for its due time, or for a retry
    AWAITING = "awaiting"      # a call placed: has a person answered? (the provider tells)
    SENT = "sent"
    FAILED = "failed"          # a failure that retrying cannot fix
    ABANDONED = "abandoned"    # still failing past CALLWATCH_OUTBOX_MAX_AGE_SECONDS


class TimerState(StrEnum):
    PENDING = "pending"
    FIRED = "fired"
    CANCELLED = "cancelled"


class MessageKind(StrEnum):
    """What a notification tells (an outbox row's ``kind``)."""

    TRIGGER = "trigger"
    UPDATE = "update"
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"
    ESCALATE = "escalate"
    DIGEST = "digest"          # the day's P3 rows of a digest channel, sent as one
    HANDOFF = "handoff"        # an on-call handoff notice: about no incident (incident_id "")
    REMINDER = "reminder"      # a post-incident follow-up: the report or post-mortem is due


class EventKind(StrEnum):
    """What a timeline event records."""

    OPENED = "opened"
    REOPENED = "reopened"
    ALERTS_CHANGED = "alerts_changed"
    PRIORITY_CHANGED = "priority_changed"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    NOTIFIED = "notified"
    NOTIFY_FAILED = "notify_failed"
    NOTIFY_ABANDONED = "notify_abandoned"
    FALLBACK = "fallback"
    ESCALATED = "escalated"
    ESCALATION_REQUESTED = "escalation_requested"   # someone asked for the next level now
    PAGE_ANSWERED = "page_answered"                 # a person answered a call
    PAGE_UNANSWERED = "page_unanswered"             # no answer, busy, failed, voicemail
    SLA_BREACHED = "sla_breached"
    VENDOR_ESCALATION = "vendor_escalation"
    SCHEDULE_EMPTY = "schedule_empty"               # nobody on call: the next level was paged
    FOLLOWUP_REMINDER = "followup_reminder"         # "incident report / post-mortem due" sent
    REPORT_DONE = "report_done"                     # the post-incident report is written
    ACTION_ITEM_ADDED = "action_item_added"         # a post-incident action item, recorded
    ACTION_ITEM_CLOSED = "action_item_closed"
    NOTE = "note"                                   # a person wrote on the timeline
    DRILL = "drill"                                 # a drill's measured response times


INCIDENT_STATES = tuple(IncidentState)
OUTBOX_STATES = tuple(OutboxState)
TIMER_STATES = tuple(TimerState)


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

    @property
    def drill(self) -> bool:
        """A drill (``callwatch drill``: its alerts carry ``drill="true"``): paged like the real
        thing, kept out of MTTA/MTTR."""
        return self.labels.get("drill") == "true"


@dataclass(frozen=True)
class Event:
    """A timeline entry: what happened to an incident, when, and who did it."""

    incident_id: str
    at: float
    kind: str        # an EventKind
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
    batch: str              # rows of one change share it; (batch, channel, kind, lane) is unique
    fallback_of: str | None = None
    page: str | None = None         # the opaque reference a provider's callback carries back
    lane: str = ""                  # who it is for (a contact key); "" for the channel


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
    page: str | None = None
    lane: str = ""
    taken_over_from: str | None = None  # whose claim expired unfinished: maybe already sent


@dataclass(frozen=True)
class Attempt:
    """One send attempt of an outbox row."""

    outbox_id: str
    at: float
    worker: str
    outcome: str            # sent | dialed | retry | failed | abandoned | answered | unanswered
    reason: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class Finish:
    """The outcome of an attempt: the row's new state and, when not sent, when to try again."""

    state: str                      # an OutboxState: pending means retry later
    attempt: Attempt
    next_attempt_at: float | None = None
    delivered_ref: str | None = None
    delivered_via: str | None = None
    fallbacks: tuple[NewOutbox, ...] = ()   # inserted unless (batch, channel, kind, lane) exists
    events: tuple[Event, ...] = ()
    fallback_events: tuple[Event, ...] = ()  # inserted only when a fallback row was new
    counts_attempt: bool = True     # False when the attempt was counted as the call was placed


@dataclass(frozen=True)
class Timer:
    """A durable timer (escalation steps, SLA deadlines)."""

    id: str
    incident_id: str
    kind: str
    due_at: float
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ActionItem:
    """A post-incident action item: ``owner`` a contact key or free text, ``due`` an ISO date
    (YYYY-MM-DD); ``closed_at`` None while open."""

    id: str
    incident_id: str
    title: str
    owner: str
    due: str
    created_at: float
    created_by: str
    closed_at: float | None = None
    closed_by: str | None = None


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
    acknowledged_incident: Incident | None = None  # set when this change acknowledged it
    resolved_incident: Incident | None = None   # set when this change resolved an incident

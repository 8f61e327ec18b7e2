"""The one interface every notifier implements, and how failures are classified.

The dispatcher hands a notifier one ``Notification`` (an outbox row) at a time. ``send``
returns a ``Delivery`` on success, or raises ``NotifyError`` whose ``retryable`` flag tells the
dispatcher whether to try again later, and whose ``reason`` (a short fixed word such as
``rate_limited``, ``server_error``, ``timeout``, ``connection``, ``rejected``, ``auth``,
``config``) becomes the ``reason`` label of a metric. Error text never holds a secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from receiver.domain.model import MessageKind

KINDS = tuple(MessageKind)  # digest: the day's P3 rows of a digest channel, as one


@dataclass(frozen=True)
class Notification:
    """What to tell, to whom, on one channel: an outbox row, its words rendered at send time."""

    id: str                         # outbox row id: unique, stable across retries
    incident_id: str
    channel: str                    # policy channel name, e.g. "slack"
    kind: str                       # one of KINDS
    priority: str                   # "P0".."P3"
    summary: str                    # one line, e.g. "Call drop rate critical on twilio"
    text: str                       # the body, rendered: email text, call script, SMS, ...
    html: str | None = None         # HTML body where the channel takes it (email)
    provider: str | None = None     # the telephony provider the incident is about, if any
    recipients: tuple[str, ...] = ()  # addresses / numbers / handles for this channel
    thread_ref: str | None = None   # the Delivery.ref of this incident's first message here
    dedup_key: str | None = None    # stable per incident (PagerDuty dedup_key)
    links: Mapping[str, str] = field(default_factory=dict)    # runbook, dashboard, incident
    details: Mapping[str, str] = field(default_factory=dict)  # alertname, severity, value, ...
    page: str | None = None         # a page a person answers: the reference callbacks carry back
    attempt: int = 1                # which call of that page this is
    blocks: tuple[Mapping, ...] = ()  # Slack Block Kit blocks, rendered
    edit_text: str | None = None    # Slack: the incident's first message, as it should now read
    edit_blocks: tuple[Mapping, ...] = ()
    menu: str = ""                  # a two-way call's key menu; empty: pages.MENU
    # set when an earlier holder of this row died (or stalled) mid-send, or an earlier attempt
    # failed in a way the far side may have acted on anyway (a timeout, a 5xx): it may already
    # have been delivered, at or after this Unix time (receiver.domain.outbox's
    # maybe_sent_since). A notifier that can ask the far side does, and answers the delivery
    # it finds (``Delivery.found``) instead of sending again.
    maybe_sent_since: float | None = None


@dataclass(frozen=True)
class Delivery:
    """A sent notification: ``ref`` is the provider's handle (Slack ts, call sid, Message-ID)."""

    ref: str | None = None
    via: str | None = None          # e.g. "telnyx" when the phone call went through Telnyx
    awaiting: bool = False          # placed, not yet answered: the provider's callback will say
    found: bool = False             # not sent now: an earlier send of the row was found there


class NotifyError(Exception):
    """A failed send. ``reason`` is a metric label value; ``str()`` is safe to log."""

    def __init__(self, reason: str, detail: str, *, retryable: bool) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.retryable = retryable


class Notifier(Protocol):
    """Sends notifications on one channel. Implementations are safe to share across tasks."""

    channel_type: str

    async def send(self, notification: Notification) -> Delivery:
        """Deliver ``notification`` or raise NotifyError. Must not block the event loop."""
        ...

    async def close(self) -> None:
        """Release connections; called once at shutdown."""
        ...

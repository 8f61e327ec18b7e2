"""The one builder of outbox rows: every notification the receiver will send is made here.

Every row is due at once, except on a ``digest`` channel, where it waits for the channel's
next ``send_at`` in its ``timezone`` (the dispatcher then sends all due rows of that channel as
one digest). ``message_rows`` composes one message per channel (``receiver.domain.messages``);
``new_row`` wraps a payload that is already composed (a vendor draft, a fallback copy).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from policy import Policy
from receiver.domain import messages
from receiver.domain.model import Incident, NewOutbox
from receiver.domain.times import next_local_timestamp


def due_at(policy: Policy, channel: str, now: float) -> float:
    """When a row on ``channel`` made at ``now`` is due: now, or a digest's next send time."""
    spec = policy.channels[channel]
    if spec.type != "digest":
        return now
    return next_local_timestamp(now, str(spec.settings["send_at"]), str(spec.settings["timezone"]))


def new_row(incident_id: str, channel: str, kind: str, payload: dict[str, Any], *,
            policy: Policy, now: float, new_id: Callable[[], str], batch: str,
            fallback_of: str | None = None) -> NewOutbox:
    """One row carrying ``payload`` (the Notification fields, see ``messages.compose``)."""
    return NewOutbox(id=new_id(), incident_id=incident_id, channel=channel, kind=kind,
                     payload=payload, next_attempt_at=due_at(policy, channel, now), batch=batch,
                     fallback_of=fallback_of)


def message_rows(incident: Incident, channels: Iterable[str], kind: str, *, policy: Policy,
                 now: float, new_id: Callable[[], str], batch: str, public_url: str = "",
                 alert: Mapping[str, Any] | None = None, note: str = "",
                 counts: Mapping[str, int] | None = None,
                 recipients: Mapping[str, tuple[str, ...]] | None = None) -> list[NewOutbox]:
    """One row per channel telling ``kind`` about ``incident``.

    ``alert`` is the leading alert (labels, annotations) the message quotes; ``recipients``
    replaces a channel's own recipients (an escalation pages that level's contacts).
    """
    rows = []
    for channel in channels:
        payload = messages.compose(
            incident_id=incident.id, kind=kind, channel=channel, priority=incident.priority,
            summary=incident.summary, provider=incident.provider, alert=alert, policy=policy,
            public_url=public_url, note=note, counts=counts)
        if recipients and recipients.get(channel):
            payload["recipients"] = list(recipients[channel])
        rows.append(new_row(incident.id, channel, kind, payload, policy=policy, now=now,
                            new_id=new_id, batch=batch))
    return rows

"""A page a person answers: how one call of it ended, and what a keypress on it does.

Pure: no I/O, no clock. A phone page's row is ``awaiting`` while its call rings; the provider
then reports how the call ended (``CallReport``) and ``settle_call`` decides what follows:

- answered by a person: the page is delivered (``sent``);
- not answered (no answer, busy, failed, canceled, voicemail when machine detection is on, or
  no report within the channel's ``outcome_within``): rung again after ``retry.interval`` up
  to ``retry.attempts`` calls, then the page has failed and the route falls back;
- a report about an earlier call of the page, or about a page already settled, changes
  nothing (a late or replayed callback).

On the call the person hears the page, then the menu (``menu``: ``MENU``, plus "Press 3 to
fail over from twilio to telnyx" when the page offers a failover,
``receiver.domain.failover.offered``); ``key_action`` maps a key to what it does, and the
``*_reply`` functions say what the person hears back.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

from policy import Policy
from receiver.domain import outbox
from receiver.domain.model import (
    Attempt,
    Event,
    EventKind,
    Finish,
    Incident,
    IncidentState,
    OutboxRow,
    OutboxState,
)
from receiver.domain.times import iso

MENU = ("Press 1 to acknowledge. Press 2 to escalate to the next level. "
        "Press 9 to hear this again.")
KEYS = {"1": "acknowledge", "2": "escalate", "3": "failover"}  # any other key repeats the page
FAILOVER_KEY = "3"
ANSWERED = "answered"
UNANSWERED = ("no-answer", "busy", "failed", "canceled", "machine", "no-report")
ACTOR = "phone"
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"   # no 0/O, 1/I
REPLY_ACTIONS = {"ACK": "acknowledge", "RES": "resolve"}
_REPLY = re.compile(r"^\s*(ACK|RES)\s*#?\s*([A-Z0-9]{3})\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class CallReport:
    """What the provider (or the dispatcher's deadline) says about one call of a page."""

    attempt: int            # which call of the page: 1 for the first
    status: str             # ANSWERED or one of UNANSWERED
    via: str                # twilio, telnyx, or "deadline" when no report came
    ref: str | None = None  # the provider's call id


@dataclass(frozen=True)
class Retry:
    attempts: int
    interval_seconds: float
    outcome_within_seconds: float


def retry_of(policy: Policy, channel: str) -> Retry:
    """The channel's ``retry`` settings (the policy reader fills the defaults)."""
    settings = policy.channels[channel].settings.get("retry") or {}
    return Retry(int(settings.get("attempts", 3)), float(settings.get("interval_seconds", 120)),
                 float(settings.get("outcome_within_seconds", 600)))


def settle_call(row: OutboxRow, report: CallReport, policy: Policy, now: float,
                new_id: Callable[[], str]) -> Finish | None:
    """What ``report`` does to the page's ``row`` (see the module docstring); None: nothing."""
    if row.state != OutboxState.AWAITING or report.attempt != row.attempts:
        return None
    detail = {"channel": row.channel, "contact": row.lane, "attempt": report.attempt,
              "status": report.status, "via": report.via}
    if report.status == ANSWERED:
        return Finish(OutboxState.SENT, Attempt(row.id, now, report.via, "answered"),
                      delivered_ref=report.ref, delivered_via=report.via,
                      events=(Event(row.incident_id, now, EventKind.PAGE_ANSWERED, ACTOR,
                                    detail),))
    unanswered = Event(row.incident_id, now, EventKind.PAGE_UNANSWERED, ACTOR, detail)
    attempt = Attempt(row.id, now, report.via, "unanswered", report.status,
                      f"call {report.attempt} of the page: {report.status}")
    retry = retry_of(policy, row.channel)
    if report.attempt < retry.attempts:
        return Finish(OutboxState.PENDING, attempt, next_attempt_at=now + retry.interval_seconds,
                      events=(unanswered,))
    failed = Event(row.incident_id, now, EventKind.NOTIFY_FAILED, ACTOR,
                   {"channel": row.channel, "kind": row.kind, "reason": report.status})
    found = outbox.fallback_copy(row, policy, now, new_id, ACTOR)
    copy, moved = found if found is not None else (None, None)
    return Finish(OutboxState.FAILED, attempt, events=(unanswered, failed),
                  fallbacks=(copy,) if copy else (), fallback_events=(moved,) if moved else ())


def incident_code(incident_id: str) -> str:
    """The short code a text message names its incident by (``K7Q``): three characters from
    an alphabet without look-alikes, derived from the id."""
    number = int(hashlib.sha256(incident_id.encode()).hexdigest(), 16)
    code = ""
    for _ in range(3):
        number, digit = divmod(number, len(CODE_ALPHABET))
        code += CODE_ALPHABET[digit]
    return code


def text_reply(text: str) -> tuple[str, str] | None:
    """(action, code) of a reply such as ``ACK K7Q`` or ``res k7q``; None otherwise."""
    match = _REPLY.match(text)
    if match is None:
        return None
    return REPLY_ACTIONS[match.group(1).upper()], match.group(2).upper()


def menu(failover: tuple[str, str] | None = None) -> str:
    """The call's menu: ``MENU``, with the failover ``(from, to)`` as key 3 when offered."""
    if failover is None:
        return MENU
    first, again = MENU.split(" Press 9")
    return (f"{first} Press {FAILOVER_KEY} to fail over from {failover[0]} to {failover[1]}."
            f" Press 9{again}")


def key_action(digits: str, failover: bool = False) -> str:
    """``acknowledge``, ``escalate``, ``failover`` (only when the call ``failover`` offers it)
    or ``repeat`` for the key a person pressed."""
    action = KEYS.get(digits[:1], "repeat")
    return "repeat" if action == "failover" and not failover else action


def failover_reply(source: str, target: str, result: str, detail: str = "") -> str:
    """What someone hears after pressing the failover key: ``result`` is what
    ``receiver.services.people.fail_over`` said."""
    words = {
        "pending": f"Failover from {source} to {target} requested. A second person must "
                   f"approve it.",
        "sent": f"Failover from {source} to {target} sent to your team's endpoint.",
        "failed": f"The failover from {source} to {target} could not be sent. Try again.",
    }
    return words.get(result, detail or "The failover could not be requested.")


def acknowledged_reply(name: str) -> str:
    return f"Acknowledged. Thank you, {name}. Escalation has stopped. Goodbye."


def conflict_reply(incident: Incident, resolver: str | None = None) -> str:
    """What someone hears who acts on an incident that is no longer triggered."""
    if incident.state == IncidentState.ACKNOWLEDGED:
        who = incident.acked_by or "someone"
        return (f"This incident was already acknowledged by {who} at "
                f"{_spoken_time(incident.acked_at)}. Goodbye.")
    by = f" by {resolver}" if resolver else ""
    return f"This incident is already resolved{by}. Goodbye."


def escalated_reply(level: str | None, names: str) -> str:
    if level is None:
        return "There is no further level to escalate to."
    return f"Escalating to {level}, {names}, now. Goodbye."


def _spoken_time(at: float | None) -> str:
    text = iso(at) or ""
    return f"{text[11:16]} UTC" if text else "an earlier time"

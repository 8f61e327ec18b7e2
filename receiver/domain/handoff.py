"""Handoff notices as pure logic: who took over an on-call schedule, and what they are told.

At a handoff (``policy.oncall.handoffs``: a shift beginning with a person other than the one
before, also after a gap) the incoming person gets one short message: "You are on call for
primary until Mon 19 Jan 2026 09:00 CET (Europe/Berlin)", and the incidents still open
(triggered or acknowledged: id, priority, summary, link). It goes to them on Slack when they
have a ``slack`` handle and the policy a Slack channel, else by email when they have an
``email`` and the policy an email channel; else nowhere (``channel`` None: unreachable).

``due_handoffs`` answers which handoffs a check at ``now`` owes, given the previous check
(``since``; None at start-up): those that began in (since, now] and whose shift is still
running. At start-up it looks back ``MAX_SEARCH``, so a receiver that was down at a handoff
tells it late, while the shift lasts, and never a shift already over. Each notice is claimed in
the store under (schedule, shift start, contact) before it is queued, so several receivers,
and one restarted, tell it once.

A notice is an outbox row about no incident (``incident_id`` ""), kind ``handoff``, in no
lane, with its words already in the payload (``text``): the dispatcher sends and retries it
like any row, and, having no route or person lane, it has no fallback.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from policy.model import PRIORITIES, Policy
from policy.oncall import MAX_SEARCH, Shift, handoffs
from policy.schedule_checks import local_time
from receiver.domain import outbox
from receiver.domain.communications import slack_escape, slack_mention
from receiver.domain.model import Incident, IncidentState, MessageKind, NewOutbox

KIND = MessageKind.HANDOFF
OPEN_STATES = (IncidentState.TRIGGERED, IncidentState.ACKNOWLEDGED)
MAX_LISTED = 20          # incidents listed in one notice; the rest are counted


@dataclass(frozen=True)
class Notice:
    """One handoff to tell: ``contact`` took over ``schedule`` at ``start`` until ``end`` (Unix
    seconds); ``channel`` None when they cannot be reached (no Slack or email, or no such
    channel in the policy)."""

    schedule: str
    contact: str
    start: float
    end: float
    channel: str | None
    recipients: tuple[str, ...]
    summary: str             # one line: the email subject
    text: str                # the whole message, as sent

    @property
    def batch(self) -> str:
        """The outbox batch of its row: unique per handoff, as its claim is."""
        return f"handoff:{self.schedule}:{self.start!r}:{self.contact}"


def due_handoffs(policy: Policy, since: float | None, now: float) -> list[Shift]:
    """The handoffs a check at ``now`` owes: every schedule's shifts that began in
    (since, now] with a new person and still run at ``now``; ``since`` None (start-up), or
    further back than ``MAX_SEARCH``, looks back ``MAX_SEARCH``. By schedule name, then time."""
    at = _utc(now)
    lo = at - MAX_SEARCH if since is None else max(_utc(since), at - MAX_SEARCH)
    if lo >= at:
        return []
    return [shift for name in sorted(policy.schedules)
            for shift in handoffs(policy.schedules[name], lo, at) if shift.end > at]


def notices_due(policy: Policy, since: float | None, now: float,
                incidents: Sequence[Incident], public_url: str = "") -> list[Notice]:
    """The notices a check at ``now`` owes (see ``due_handoffs``), each listing the open ones
    among ``incidents``."""
    return [notice(policy, shift, incidents, public_url)
            for shift in due_handoffs(policy, since, now)]


def notice(policy: Policy, shift: Shift, incidents: Sequence[Incident],
           public_url: str = "") -> Notice:
    """What ``shift``'s person is told, and where."""
    contact = str(shift.contact)
    channel, recipients = reach(policy, contact)
    schedule = policy.schedules[shift.schedule]
    unknown_end = shift.end - shift.start >= MAX_SEARCH   # no handoff as far as searched
    until = ("until further notice" if unknown_end
             else f"until {local_time(shift.end, schedule.timezone)}")
    slack = channel is not None and policy.channels[channel].type == "slack"
    first = f"You are on call for {shift.schedule} {until}."
    lines = [f"{slack_mention(recipients[0])} {first}" if slack else first]
    listed = _open(incidents)
    if not listed:
        lines.append("No incident is open.")
    else:
        lines.append(f"Open incidents ({len(listed)}):")
        for incident in listed[:MAX_LISTED]:
            summary = slack_escape(incident.summary) if slack else incident.summary
            lines.append(f"- {incident.id} {incident.priority} {summary} ({incident.state}) "
                         f"{public_url.rstrip('/')}/incidents/{incident.id}")
        if len(listed) > MAX_LISTED:
            lines.append(f"... and {len(listed) - MAX_LISTED} more")
    return Notice(shift.schedule, contact, shift.start.timestamp(), shift.end.timestamp(),
                  channel, recipients, first, "\n".join(lines))


def reach(policy: Policy, contact: str) -> tuple[str | None, tuple[str, ...]]:
    """(channel, recipients) a notice to ``contact`` goes by: Slack, else email; (None, ())
    when neither works for them."""
    person = policy.contacts.get(contact)
    if person is None:
        return None, ()
    for kind, address in (("slack", person.slack), ("email", person.email)):
        channel = next((name for name, spec in policy.channels.items() if spec.type == kind),
                       None)
        if address and channel is not None:
            return channel, (address,)
    return None, ()


def notice_row(found: Notice, *, policy: Policy, now: float,
               new_id: Callable[[], str]) -> NewOutbox | None:
    """The outbox row that sends ``found``; None when it has no channel."""
    if found.channel is None:
        return None
    payload: dict[str, Any] = {
        "incident_id": "", "channel": found.channel, "kind": KIND, "priority": "",
        "summary": found.summary, "text": found.text, "provider": None,
        "recipients": list(found.recipients), "dedup_key": None, "links": {},
        "details": {"schedule": found.schedule, "contact": found.contact},
        "shift": {"start": found.start, "end": found.end}}
    return outbox.new_row("", found.channel, KIND, payload, policy=policy, now=now,
                          new_id=new_id, batch=found.batch)


def _open(incidents: Sequence[Incident]) -> list[Incident]:
    """The open ones, most urgent first (priority, then the oldest)."""
    rank = {priority: index for index, priority in enumerate(PRIORITIES)}
    return sorted((i for i in incidents if i.state in OPEN_STATES),
                  key=lambda i: (rank.get(i.priority, len(rank)), i.opened_at, i.id))


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)

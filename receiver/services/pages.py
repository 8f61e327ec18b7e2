"""A person on a page's call: they answered, and they pressed a key.

``answered`` settles the page as delivered. ``keypress`` acts on the key as the contact who was
called (``acked_by`` is their name, ``via`` the channel type): 1 acknowledges (escalation stops,
and the incident's other channels hear of it), 2 pages the next level at once, anything else
repeats the page. It returns the ``Reply`` the person hears. Both are provider-neutral: the
HTTP layer turns a Reply into TwiML or Telnyx commands.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from receiver.domain import pages
from receiver.domain.actions import ActionContext, decide_acknowledge, decide_escalate_now
from receiver.domain.escalation import (
    done_keys,
    escalation_case,
    next_level,
    requested_levels,
)
from receiver.domain.ids import new_id
from receiver.domain.model import Incident, IncidentState, OutboxRow
from receiver.domain.pages import CallReport
from receiver.notify.phone import voice_script
from receiver.services.answers import settle
from receiver.services.apply import apply_action, resolver_of
from receiver.services.dispatcher import to_notification
from receiver.services.state import ReceiverState


@dataclass(frozen=True)
class Reply:
    """What the person hears next; ``listen``: then the menu, and another key."""

    say: str
    listen: bool


async def answered(state: ReceiverState, page: str, attempt: int, via: str,
                   ref: str | None) -> OutboxRow | None:
    """A person is on the call: the page is delivered. The page's row; None if unknown."""
    row, _ = await settle(state.opened_store(), state.policy, state.metrics, page,
                          CallReport(attempt, pages.ANSWERED, via, ref), state.clock())
    return row


async def script(state: ReceiverState, page: str) -> str | None:
    """What the page's call says first; None for an unknown page."""
    row = await state.opened_store().page_row(page)
    return None if row is None else page_script(row)


def page_script(row: OutboxRow) -> str:
    return voice_script(to_notification(row.id, row.payload, row.channel, row.kind))


async def keypress(state: ReceiverState, page: str, digits: str, attempt: int, via: str,
                   ref: str | None) -> Reply:
    """Act on ``digits`` pressed on ``page``'s call (see the module docstring)."""
    row = await answered(state, page, attempt, via, ref)
    if row is None:
        return Reply("This page is no longer known. Goodbye.", listen=False)
    name = str(row.payload.get("contact_name") or "the on-call engineer")
    ctx = ActionContext(policy=state.policy, now=state.clock(), new_id=new_id, actor=name,
                        public_url=state.config.public_url, via=state.policy.channels[
                            row.channel].type)
    action = pages.key_action(digits)
    if action == "acknowledge":
        return await _acknowledge(state, row, ctx)
    if action == "escalate":
        return await _escalate(state, row, ctx)
    return Reply(page_script(row), listen=True)


async def _acknowledge(state: ReceiverState, row: OutboxRow, ctx: ActionContext) -> Reply:
    outcome = await apply_action(state, row.incident_id, decide_acknowledge, ctx)
    if outcome is None:
        return Reply("This incident is no longer known. Goodbye.", listen=False)
    if outcome.conflict is not None and outcome.incident is not None:
        return Reply(await _conflict(state, outcome.incident), listen=False)
    return Reply(pages.acknowledged_reply(ctx.actor), listen=False)


async def _escalate(state: ReceiverState, row: OutboxRow, ctx: ActionContext) -> Reply:
    store = state.opened_store()
    incident = await store.get_incident(row.incident_id)
    if incident is None:
        return Reply("This incident is no longer known. Goodbye.", listen=False)
    timeline = await store.timeline(incident.id)
    case = escalation_case(incident, done_keys(timeline), requested_levels(timeline))
    level = next_level(case, state.policy)
    outcome = await apply_action(state, incident.id, partial(decide_escalate_now, level=level),
                                 ctx)
    if outcome is not None and outcome.conflict is not None and outcome.incident is not None:
        return Reply(await _conflict(state, outcome.incident), listen=False)
    if level is None:
        return Reply(pages.escalated_reply(None, ""), listen=True)
    names = ", ".join(state.policy.contacts[key].name
                      for step in state.policy.escalation.engineering if step.level == level
                      for key in step.contacts)
    return Reply(pages.escalated_reply(level, names), listen=False)


async def _conflict(state: ReceiverState, incident: Incident) -> str:
    resolved = incident.state == IncidentState.RESOLVED
    resolver = await resolver_of(state, incident.id) if resolved else None
    return pages.conflict_reply(incident, resolver)

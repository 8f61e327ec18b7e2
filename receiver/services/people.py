"""A person acting on an incident from where they were paged: a key on a call, a Slack button,
an SMS reply, the console. ``act`` runs the action as that person (``actor``, ``via``) in one
store transaction and says what it did; the caller turns that into the words the person gets
back. ``fail_over`` requests (or approves) the failover a page offers, as that person, through
``receiver.services.failover.request_failover`` like ``POST /incidents/{id}/failover``.
``note`` puts a person's note on the timeline (the console, ``POST /incidents/{id}/notes``).
``text_reply`` does it for a text message: the sender's number names the contact, the message
``ACK <code>`` or ``RES <code>`` the action and the incident.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial

from receiver.domain import failover, oncall
from receiver.domain.actions import (
    ActionContext,
    decide_acknowledge,
    decide_escalate_now,
    decide_note,
    decide_resolve,
)
from receiver.domain.escalation import (
    done_keys,
    escalation_case,
    next_level,
    requested_levels,
)
from receiver.domain.ids import new_id
from receiver.domain.model import Event, Incident, IncidentState
from receiver.domain.pages import conflict_reply, incident_code
from receiver.domain.pages import text_reply as parse_reply
from receiver.services.apply import apply_action, resolver_of
from receiver.services.failover import FailoverRefused, SecretMissing, request_failover
from receiver.services.state import ReceiverState

log = logging.getLogger("callwatch.receiver.people")
DECISIONS = {"acknowledge": decide_acknowledge, "resolve": decide_resolve}


@dataclass(frozen=True)
class Acted:
    """What ``act`` did. ``result``: acknowledged, resolved, escalated, no_further_level,
    conflict (the incident was already acknowledged or resolved: ``incident`` says by whom,
    ``resolver`` who resolved it) or unknown (no such incident)."""

    result: str
    incident: Incident | None = None
    level: str | None = None
    names: str = ""                 # who the escalation pages
    resolver: str | None = None


async def act(state: ReceiverState, incident_id: str, action: str, actor: str,
              via: str) -> Acted:
    """Acknowledge, resolve or escalate (``action``) ``incident_id`` as ``actor``."""
    # a text reply is answered by text at once: the sms channel need not tell it again
    ctx = ActionContext(policy=state.policy, now=state.clock(), new_id=new_id, actor=actor,
                        public_url=state.config.public_url, via=via,
                        skip_types=("sms",) if via == "sms" else ())
    if action == "escalate":
        return await _escalate(state, incident_id, ctx)
    outcome = await apply_action(state, incident_id, DECISIONS[action], ctx)
    if outcome is None:
        return Acted("unknown")
    if outcome.conflict is not None:
        return await _conflict(state, outcome.incident)
    return Acted("acknowledged" if action == "acknowledge" else "resolved", outcome.incident)


@dataclass(frozen=True)
class FailedOver:
    """What ``fail_over`` did. ``result``: pending (waiting for a second person), sent, failed
    (the webhook did not take it; asking again retries), refused (``detail`` says why: the
    requester approving their own request, the secret missing), not_offered (the incident's
    page offers no failover) or unknown (no such incident). ``source``/``target``: the
    providers, when offered."""

    result: str
    source: str = ""
    target: str = ""
    detail: str = ""


async def fail_over(state: ReceiverState, incident_id: str, actor: str) -> FailedOver:
    """Request, or approve, the failover ``incident_id``'s page offers, as ``actor``."""
    incident = await state.opened_store().get_incident(incident_id)
    if incident is None:
        return FailedOver("unknown")
    offer = failover.offered(state.policy, incident.provider)
    if offer is None:
        return FailedOver("not_offered")
    source, target = offer
    try:
        outcome = await request_failover(state, incident_id,
                                         failover.Ask(source, target, actor))
    except (FailoverRefused, SecretMissing) as exc:
        return FailedOver("refused", source, target, str(exc))
    if outcome is None:
        return FailedOver("unknown")
    log.info("failover asked from a page", extra={"state": outcome.state})
    return FailedOver(outcome.state, source, target, outcome.reason or "")


async def note(state: ReceiverState, incident_id: str, text: str, actor: str,
               via: str = "") -> Event | None:
    """Put ``actor``'s note ``text`` on ``incident_id``'s timeline (one transaction); the event
    written, or None for an unknown incident."""
    ctx = ActionContext(policy=state.policy, now=state.clock(), new_id=new_id, actor=actor,
                        public_url=state.config.public_url, via=via)
    outcome = await apply_action(state, incident_id, partial(decide_note, text=text), ctx)
    return None if outcome is None else outcome.changes.events[0]


async def _escalate(state: ReceiverState, incident_id: str, ctx: ActionContext) -> Acted:
    store = state.opened_store()
    incident = await store.get_incident(incident_id)
    if incident is None:
        return Acted("unknown")
    timeline = await store.timeline(incident.id)
    case = escalation_case(incident, done_keys(timeline), requested_levels(timeline))
    level = next_level(case, state.policy)
    outcome = await apply_action(state, incident.id, partial(decide_escalate_now, level=level),
                                 ctx)
    if outcome is None:
        return Acted("unknown")
    if outcome.conflict is not None:
        return await _conflict(state, outcome.incident)
    if level is None:
        return Acted("no_further_level", incident)
    names = oncall.level_people(state.policy, state.policy.escalation.engineering, level,
                                state.clock(), incident.priority).labels(state.policy)
    return Acted("escalated", incident, level=level, names=names)


async def _conflict(state: ReceiverState, incident: Incident | None) -> Acted:
    resolver = None
    if incident is not None and incident.state == IncidentState.RESOLVED:
        resolver = await resolver_of(state, incident.id)
    return Acted("conflict", incident, resolver=resolver)


async def text_reply(state: ReceiverState, from_number: str, text: str, via: str) -> str:
    """Act on a text message from ``from_number``; the answer to text back. A message from a
    number that is no contact's, or naming no open incident, changes nothing."""
    contact = next((c for c in state.policy.contacts.values() if c.phone == from_number), None)
    if contact is None:
        log.warning("text reply from an unknown number; nothing changed", extra={"via": via})
        return "This number is not one of callwatch's contacts, so nothing was changed."
    parsed = parse_reply(text)
    if parsed is None:
        return "Reply ACK <code> to acknowledge or RES <code> to resolve, e.g. ACK K7Q."
    action, code = parsed
    incident = await _incident_by_code(state, code)
    if incident is None:
        log.info("text reply names no open incident", extra={"code": code})
        return f"No open incident has the code {code}; nothing was changed."
    acted = await act(state, incident.id, action, contact.name, via)
    if acted.result == "conflict" and acted.incident is not None:
        return f"#{code}: " + conflict_reply(acted.incident, acted.resolver).removesuffix(
            " Goodbye.")
    return f"#{code} {acted.result}. Thank you, {contact.name}."


async def _incident_by_code(state: ReceiverState, code: str) -> Incident | None:
    """The newest incident with ``code``, preferring one still open."""
    found = [i for i in await state.opened_store().list_incidents(limit=1000)
             if incident_code(i.id) == code]
    return next((i for i in found if i.state != IncidentState.RESOLVED), None) or (
        found[0] if found else None)

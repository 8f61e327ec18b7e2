"""Provider failover, guarded: the decisions, pure (no I/O, no clock).

A failover is one *request*: ``(from, to, rollback)`` on one incident, identified by the
``request_id`` its ``failover_requested`` event carries. Its state is read from the timeline:

| last event of the request | state | the next ``POST /incidents/{id}/failover`` with it |
|---|---|---|
| none, or ``failover_sent`` | none / ``sent`` | a new request (pending, or sent at once) |
| ``failover_requested`` | ``pending`` | the requester again: refused; anyone else: approves |
| ``failover_approved`` | ``approved`` | sends again (same idempotency key) |
| ``failover_failed`` | ``failed`` | sends again (same idempotency key) |

An approved or failed request is sent again with the same ``Idempotency-Key``
(``idempotency_key``): the team's endpoint may already have acted on an earlier attempt, and
the key lets it answer that without failing over twice. Names compare without case or
surrounding spaces, so "Ada" cannot approve "ada "'s request.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from policy import Policy
from receiver.domain.model import Event

REQUESTED = "failover_requested"
APPROVED = "failover_approved"
SENT = "failover_sent"
FAILED = "failover_failed"
KINDS = (REQUESTED, APPROVED, SENT, FAILED)
SIGNATURE_HEADER = "X-Callwatch-Signature"
REDACTED = "sha256=[redacted]"


@dataclass(frozen=True)
class Ask:
    """What a person asked: move calls ``source`` -> ``target`` (``rollback``: moving back)."""

    source: str
    target: str
    by: str
    rollback: bool = False


@dataclass(frozen=True)
class Standing:
    """The newest request for one (from, to, rollback) and where it stands."""

    request_id: str
    state: str                 # pending | approved | sent | failed
    requested_by: str
    approved_by: str | None


@dataclass(frozen=True)
class Decision:
    """What to do with an ask: ``action`` is ``request`` (record a pending approval),
    ``send`` (call the webhook, a new request or an approved one) or ``refuse`` (``reason``).
    ``new`` says the request id is fresh (its ``failover_requested`` event is to be written);
    ``approve`` says this ask approves it (its ``failover_approved`` event is to be written)."""

    action: str
    request_id: str
    requested_by: str
    approved_by: str | None = None
    new: bool = False
    approve: bool = False
    reason: str = ""


def offered(policy: Policy, provider: object) -> tuple[str, str] | None:
    """The failover a page about ``provider`` offers, ``(from, to)``: only with the policy's
    ``remediation.failover``, and only for an incident about ONE of the policy's providers (not
    "all", not None); ``to`` is the first other provider, in the policy's order. None: none."""
    if policy.remediation.failover is None or provider not in policy.providers:
        return None
    target = next((p for p in policy.providers if p != provider), None)
    return None if target is None else (str(provider), target)


def same_person(a: str, b: str) -> bool:
    """Whether two names are one person's: compared without case or surrounding spaces."""
    return a.strip().casefold() == b.strip().casefold()


def may_approve(requested_by: str, approver: str) -> bool:
    """A request is approved by anyone but the person who asked for it."""
    return not same_person(requested_by, approver)


def _matches(event: Event, ask: Ask) -> bool:
    d = event.detail
    return (d.get("from"), d.get("to"), bool(d.get("rollback"))) == \
        (ask.source, ask.target, ask.rollback)


def standing(timeline: Sequence[Event], ask: Ask) -> Standing | None:
    """The newest request matching ``ask``'s (from, to, rollback), None when there is none."""
    found: Standing | None = None
    for event in timeline:
        if event.kind not in KINDS or not _matches(event, ask):
            continue
        rid = str(event.detail.get("request_id", ""))
        if event.kind == REQUESTED:
            found = Standing(rid, "pending", event.actor, None)
        elif found is not None and found.request_id == rid:
            state = {APPROVED: "approved", SENT: "sent", FAILED: "failed"}[event.kind]
            approved = event.actor if event.kind == APPROVED else found.approved_by
            found = Standing(rid, state, found.requested_by, approved)
    return found


def decide(timeline: Sequence[Event], ask: Ask, *, requires_approval: bool,
           new_request_id: str) -> Decision:
    """What ``ask`` does given the timeline (the module docstring's table)."""
    current = standing(timeline, ask)
    if current is None or current.state == "sent":
        if requires_approval:
            return Decision("request", new_request_id, ask.by, new=True)
        return Decision("send", new_request_id, ask.by, new=True)
    if current.state == "pending":
        if not may_approve(current.requested_by, ask.by):
            return Decision("refuse", current.request_id, current.requested_by,
                            reason=f"{current.requested_by} asked for this failover: "
                                   f"a different person must approve it")
        return Decision("send", current.request_id, current.requested_by,
                        approved_by=ask.by, approve=True)
    return Decision("send", current.request_id, current.requested_by,
                    approved_by=current.approved_by)


def idempotency_key(incident_id: str, request_id: str) -> str:
    """The key every attempt of one request carries: stable, unique per request."""
    return f"callwatch-failover-{incident_id}-{request_id}"


def webhook_body(incident_id: str, ask: Ask, decision: Decision) -> dict[str, Any]:
    """The JSON object the team's webhook receives."""
    return {"incident": incident_id, "from": ask.source, "to": ask.target,
            "by": decision.requested_by, "approved_by": decision.approved_by,
            "rollback": ask.rollback,
            "idempotency_key": idempotency_key(incident_id, decision.request_id)}


def encode(body: dict[str, Any]) -> bytes:
    """The exact bytes sent (and signed): compact JSON, keys sorted."""
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def signature(payload: bytes, secret: str) -> str:
    """``sha256=<hex HMAC-SHA256 of payload keyed with secret>``."""
    return "sha256=" + hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def event_detail(ask: Ask, request_id: str, **extra: Any) -> dict[str, Any]:
    """A failover event's detail: the request it belongs to, plus ``extra``."""
    return {"request_id": request_id, "from": ask.source, "to": ask.target,
            "rollback": ask.rollback, **extra}

"""Provider failover through the team's webhook: ``request_failover(state, incident_id, ask,
dry_run)``, what ``POST /incidents/{id}/failover`` does.

The decision is ``receiver.domain.failover.decide`` on the incident's timeline. A new
request writes ``failover_requested``, an approval ``failover_approved``; a send calls
``policy.remediation.failover.webhook`` with the signed body and writes ``failover_sent`` or
``failover_failed``. The webhook is called here, directly, not through the outbox: the
person asking needs to know in the answer whether the calls moved, and the outbox's
notifiers deliver messages about an incident, one channel per policy route, with fallbacks
and digests that have no meaning for a failover. Retries: ``ATTEMPTS`` calls at most, waiting
``BACKOFF`` seconds times the attempt number between them, on what the shared HTTP table
(``receiver.notify.common.http_error``) calls retryable; every attempt carries the same
``Idempotency-Key``, so the team's endpoint acts once.

The secret is read (``secret_env`` / ``secret_file``, registered with the log scrubber) only
to sign; errors, logs and events name where it is looked for, never its value.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from receiver.domain import failover
from receiver.domain.ids import new_id
from receiver.domain.model import Changes, Event, GroupSnapshot
from receiver.notify.base import NotifyError
from receiver.notify.common import MissingSecret, channel_secret, http_error
from receiver.services.state import ReceiverState

log = logging.getLogger("callwatch.receiver.failover")
ATTEMPTS = 3
BACKOFF = 1.0        # seconds; the test sets it to 0
TIMEOUT = 10.0       # seconds per attempt
DEFAULT_SECRET_ENV = "CALLWATCH_FAILOVER_SECRET"


class FailoverRefused(Exception):
    """The ask cannot go on: ``code`` (``not_configured``, ``conflict``) and a safe message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class SecretMissing(Exception):
    """The webhook secret is not available; ``str()`` says where it was looked for."""


@dataclass
class Outcome:
    """What the ask did: ``state`` is pending, sent, failed or dry_run."""

    state: str
    decision: failover.Decision
    body: dict[str, Any]
    attempts: int = 0
    status: int | None = None
    reason: str | None = None
    preview: dict[str, Any] = field(default_factory=dict)


async def request_failover(state: ReceiverState, incident_id: str, ask: failover.Ask,
                           dry_run: bool = False) -> Outcome | None:
    """Do what ``ask`` calls for (module docstring); None for an unknown incident. Raises
    FailoverRefused, SecretMissing, StoreError."""
    spec = state.policy.remediation.failover
    if spec is None:
        raise FailoverRefused("not_configured", "the policy has no remediation.failover section")
    store = state.opened_store()
    if await store.get_incident(incident_id) is None:
        return None
    decision = failover.decide(await store.timeline(incident_id), ask,
                               requires_approval=spec.requires_approval,
                               new_request_id=new_id())
    if decision.action == "refuse":
        raise FailoverRefused("conflict", decision.reason)
    body = failover.webhook_body(incident_id, ask, decision)
    if dry_run:
        return Outcome("dry_run", decision, body, preview=_preview(spec.webhook, body))
    events = []
    if decision.new:
        events.append((failover.REQUESTED, ask.by, {}))
    if decision.approve:
        events.append((failover.APPROVED, ask.by, {}))
    await _record(state, incident_id, ask, decision.request_id, events)
    if decision.action == "request":
        return Outcome("pending", decision, body)
    try:
        secret = _secret(state)
    except SecretMissing:
        await _record(state, incident_id, ask, decision.request_id,
                      [(failover.FAILED, "callwatch", {"attempts": 0, "reason": "config"})])
        raise
    outcome = await _send(state, spec.webhook, secret, body, decision)
    extra = {"attempts": outcome.attempts, "status": outcome.status}
    if outcome.state == "sent":
        await _record(state, incident_id, ask, decision.request_id,
                      [(failover.SENT, "callwatch", extra)])
    else:
        await _record(state, incident_id, ask, decision.request_id,
                      [(failover.FAILED, "callwatch", {**extra, "reason": outcome.reason})])
    log.info("failover webhook called", extra={
        "incident": incident_id, "state": outcome.state, "attempts": outcome.attempts})
    return outcome


def _preview(url: str, body: dict[str, Any]) -> dict[str, Any]:
    """Exactly what would be sent, the signature redacted."""
    return {"method": "POST", "url": url, "body": body,
            "headers": {"Content-Type": "application/json",
                        failover.SIGNATURE_HEADER: failover.REDACTED,
                        "Idempotency-Key": body["idempotency_key"]}}


def _secret(state: ReceiverState) -> str:
    spec = state.policy.remediation.failover
    assert spec is not None
    settings = {"secret_env": spec.secret_env, "secret_file": spec.secret_file}
    try:
        return channel_secret(settings, state.config.environ, "secret",
                              spec.secret_env or DEFAULT_SECRET_ENV)
    except MissingSecret as exc:
        raise SecretMissing(f"failover webhook secret: {exc}") from None


async def _record(state: ReceiverState, incident_id: str, ask: failover.Ask, request_id: str,
                  events: list[tuple[str, str, dict[str, Any]]]) -> None:
    """Write ``events`` (kind, actor, extra detail) on the incident's timeline, together."""
    if not events:
        return
    now = state.clock()

    def decide(snapshot: GroupSnapshot) -> Changes:
        return Changes(events=[
            Event(incident_id, now, kind, actor,
                  failover.event_detail(ask, request_id, **extra))
            for kind, actor, extra in events])

    await state.opened_store().apply_incident(incident_id, now, decide)
    state.committed()


async def _send(state: ReceiverState, url: str, secret: str, body: dict[str, Any],
                decision: failover.Decision) -> Outcome:
    payload = failover.encode(body)
    headers = {"Content-Type": "application/json",
               failover.SIGNATURE_HEADER: failover.signature(payload, secret),
               "Idempotency-Key": body["idempotency_key"]}
    reason = "connection"
    for attempt in range(1, ATTEMPTS + 1):
        try:
            status = await _post(state, url, payload, headers)
            return Outcome("sent", decision, body, attempts=attempt, status=status)
        except NotifyError as exc:
            reason = exc.reason
            log.warning("failover webhook attempt failed",
                        extra={"attempt": attempt, "error": str(exc)})
            if not exc.retryable or attempt == ATTEMPTS:
                return Outcome("failed", decision, body, attempts=attempt, reason=reason)
        await asyncio.sleep(BACKOFF * attempt)
    return Outcome("failed", decision, body, attempts=ATTEMPTS, reason=reason)


async def _post(state: ReceiverState, url: str, payload: bytes,
                headers: dict[str, str]) -> int:
    """POST once: the status on 2xx, NotifyError (the shared classification) otherwise."""
    timeout = aiohttp.ClientTimeout(total=TIMEOUT)
    session = state.http
    own = session is None or session.closed
    if own:
        session = aiohttp.ClientSession()
    assert session is not None
    try:
        async with session.post(url, data=payload, headers=headers, timeout=timeout) as resp:
            if resp.status >= 300:
                raise http_error(resp.status, "the failover webhook")
            return resp.status
    except TimeoutError:
        raise NotifyError("timeout", "the failover webhook timed out", retryable=True) from None
    except aiohttp.ClientError as exc:
        raise NotifyError("connection", f"cannot reach the failover webhook "
                                        f"({type(exc).__name__})", retryable=True) from None
    finally:
        if own:
            await session.close()

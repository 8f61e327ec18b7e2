"""``POST /slack/interactions``: Slack's button clicks on a page.

Slack posts ``payload=<JSON>`` (``type: block_actions``) signed with the app's signing secret:
``X-Slack-Signature`` = ``v0=`` + HMAC-SHA256 of ``v0:{X-Slack-Request-Timestamp}:{body}``,
checked by slack_sdk's ``SignatureVerifier`` with ``SLACK_SIGNING_SECRET`` and the receiver's
clock. A bad or missing signature, or a timestamp more than five minutes away, is 401 and changes
nothing; the same click twice (Slack's ``trigger_id``) is 409.

The click acts as the Slack user who clicked (the actor is ``<name> (Slack <user id>)``, ``via``
slack), on the incident named by the button's ``value``: ``callwatch_ack`` acknowledges,
``callwatch_resolve`` resolves, ``callwatch_escalate`` pages the next level at once. The answer
is 200 at once (Slack wants one within 3 s); the incident's channels hear of the change through
the outbox, and the first Slack message is edited to show the state and who acted.

``callwatch_failover`` ("Fail over to telnyx", on pages that offer a failover) requests the
failover as the clicking user, or approves a pending one when someone else asked
(``receiver.services.people.fail_over``, the same service as ``POST /incidents/{id}/failover``).
The click is answered ``{"status": "accepted"}`` at once; the outcome, ``{"status": pending |
sent | failed | refused | not_offered | unknown, "response_type": "ephemeral", "text": ...}``,
the sentence for the clicking user, is posted to the click's ``response_url`` once the team's
webhook has answered (a click without one gets the outcome as its answer).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from urllib.parse import parse_qs

import aiohttp
import orjson
from aiohttp import web
from slack_sdk.signature import Clock, SignatureVerifier

from callwatch.web import MAX_BODY, ApiError, read_body
from receiver.http.callbacks import refused
from receiver.http.common import RECEIVER, store_errors
from receiver.services import people
from receiver.services.state import ReceiverState

log = logging.getLogger("callwatch.receiver.slack")
ACTIONS = {"callwatch_ack": "acknowledge", "callwatch_resolve": "resolve",
           "callwatch_escalate": "escalate", "callwatch_failover": "failover"}


class _ReceiverClock(Clock):
    """The receiver's injected clock, for slack_sdk's five-minute window."""

    def __init__(self, state: ReceiverState) -> None:
        self._state = state

    def now(self) -> float:
        return self._state.clock()


async def interactions(request: web.Request) -> web.Response:
    state = request.app[RECEIVER]
    secret = state.config.slack_signing_secret
    if not secret:
        raise ApiError(503, "not_configured", "Slack interactivity is not configured (set "
                                              "SLACK_SIGNING_SECRET); unsigned clicks are never "
                                              "accepted")
    body = await read_body(request, request.app[MAX_BODY])
    if not _signed(SignatureVerifier(secret, clock=_ReceiverClock(state)), body,
                   request.headers.get("X-Slack-Request-Timestamp"),
                   request.headers.get("X-Slack-Signature")):
        raise refused(state, "slack", 401, "unauthorized",
                      "missing, invalid or stale X-Slack-Signature")
    payload = _payload(body)
    action = (payload.get("actions") or [{}])[0]
    what = ACTIONS.get(str(action.get("action_id")))
    if payload.get("type") != "block_actions" or what is None:
        return web.json_response({"status": "ignored", "detail": "not a callwatch button"})
    user = payload.get("user") if isinstance(payload.get("user"), dict) else {}
    actor = f"{user.get('username') or user.get('name') or 'someone'} (Slack {user.get('id')})"
    with store_errors():
        fresh = await state.opened_store().record_callback(
            "slack", f"{payload.get('trigger_id')}:{action.get('action_ts')}", state.clock())
        if not fresh:
            raise ApiError(409, "replayed", "this click was already acted on")
        if what == "failover":
            return await _fail_over(state, str(action.get("value") or ""), actor,
                                    str(payload.get("response_url") or ""))
        acted = await people.act(state, str(action.get("value") or ""), what, actor, "slack")
    log.info("incident changed from Slack", extra={"action": what, "result": acted.result})
    return web.json_response({"status": acted.result})


async def _fail_over(state: ReceiverState, incident_id: str, actor: str,
                     response_url: str) -> web.Response:
    """Request or approve the incident's offered failover as ``actor``.

    Slack ignores a click's answer body and wants the answer within 3 s, while the team's
    endpoint may take longer: with the click's ``response_url`` (Slack always sends one), the
    answer is ``accepted`` at once and the outcome is posted there, ephemeral, when known.
    Without one, the outcome is the answer."""
    if response_url:
        state.spawn(_fail_over_then_tell(state, incident_id, actor, response_url),
                    name="callwatch-slack-failover")
        return web.json_response({"status": "accepted"})
    return web.json_response(await _fail_over_answer(state, incident_id, actor))


async def _fail_over_then_tell(state: ReceiverState, incident_id: str, actor: str,
                               response_url: str) -> None:
    """The failover, then its outcome posted to the click's ``response_url``."""
    try:
        answer = await _fail_over_answer(state, incident_id, actor)
    except Exception:  # a background task: nobody else would log it
        log.exception("failover from Slack crashed")
        answer = {"status": "failed", "response_type": "ephemeral",
                  "text": "The failover could not be asked for; see callwatch's log."}
    if state.http is None:   # shutting down: nobody to tell
        return
    try:
        async with state.http.post(response_url, json={**answer, "replace_original": False},
                                   timeout=aiohttp.ClientTimeout(total=10)) as reply:
            if reply.status >= 300:
                log.warning("Slack refused the failover answer", extra={"status": reply.status})
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("could not tell Slack the failover's outcome",
                    extra={"error": type(exc).__name__})


async def _fail_over_answer(state: ReceiverState, incident_id: str, actor: str) -> dict:
    """The failover asked for as ``actor``, and its ephemeral answer for the clicking user."""
    done = await people.fail_over(state, incident_id, actor)
    move = f"Failover from {done.source} to {done.target}"
    text = {"pending": f"{move} requested by you; a different person must click to approve it.",
            "sent": f"{move} sent to the team's endpoint.",
            "failed": f"{move} could not be sent ({done.detail}); click again to retry.",
            "refused": f"{move} not sent: {done.detail}.",
            "not_offered": "This incident offers no failover.",
            "unknown": "This incident is no longer known."}[done.result]
    log.info("failover asked from Slack", extra={"result": done.result})
    return {"status": done.result, "response_type": "ephemeral", "text": text}


def _signed(verifier: SignatureVerifier, body: bytes, timestamp: str | None,
            signature: str | None) -> bool:
    """Whether Slack signed ``body``; a timestamp that is not a whole number (slack_sdk's
    ``int()`` of it raises) is not."""
    try:
        return verifier.is_valid(body, timestamp, signature)
    except ValueError:
        return False


def _payload(body: bytes) -> Mapping:
    try:
        raw = parse_qs(body.decode("utf-8")).get("payload", [""])[0]
        payload = orjson.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "malformed_payload", "payload: a form field holding JSON is "
                                                 "required", field="payload") from None
    if not isinstance(payload, dict):
        raise ApiError(400, "malformed_payload", "payload: must be a JSON object",
                       field="payload")
    return payload

"""``POST /incidents/{id}/failover``: ask the team's application to move calls to another
provider (or back), guarded by a second person's approval.

Body ``{"from": "twilio", "to": "telnyx", "by": "Ada", "dry_run": false, "rollback": false}``
(``from``/``to`` two different providers of the policy; ``by`` at most 100 characters;
``dry_run`` and ``rollback`` optional booleans). ``receiver.services.failover`` decides:

- 202 ``{"state": "pending", ...}``: a new request waiting for approval (requires_approval);
- 200 ``{"state": "sent", ...}``: the webhook answered 2xx (a new request without approval,
  or a different person approving a pending one, or an approved/failed one sent again);
- 200 ``{"state": "dry_run", "would_send": {...}}``: what would be sent, signature redacted;
  nothing sent, nothing recorded;
- 409 ``conflict`` (the requester approving their own request), 409 ``not_configured`` (no
  ``remediation.failover`` in the policy); 502 ``webhook_failed`` (recorded on the timeline);
  503 ``secret_missing`` (names the variable or file, never a value); 400/404 as usual.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from callwatch.web import ApiError
from receiver.domain.failover import Ask
from receiver.http.common import RECEIVER, invalid, json_object, store_errors, text_field
from receiver.services.failover import FailoverRefused, SecretMissing, request_failover

MAX_NAME = 100
FIELDS = ("from", "to", "by", "dry_run", "rollback")


def _flag(data: dict[str, Any], name: str) -> bool:
    value = data.get(name, False)
    if not isinstance(value, bool):
        raise invalid(name, "must be true or false")
    return value


def _provider(data: dict[str, Any], name: str, providers: tuple[str, ...]) -> str:
    value = data.get(name)
    if value not in providers:
        raise invalid(name, f"must be one of {', '.join(providers)}")
    return str(value)


def read_ask(data: dict[str, Any], providers: tuple[str, ...]) -> tuple[Ask, bool]:
    """The ask and ``dry_run`` from a request body; 400 naming the first bad field."""
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise invalid(unknown[0], f"unknown field; allowed: {', '.join(FIELDS)}")
    source, target = _provider(data, "from", providers), _provider(data, "to", providers)
    if source == target:
        raise invalid("to", "must differ from 'from'")
    by = text_field(data, "by", MAX_NAME)
    assert by is not None
    return Ask(source, target, by, _flag(data, "rollback")), _flag(data, "dry_run")


async def request(request: web.Request) -> web.Response:
    state = request.app[RECEIVER]
    incident_id = request.match_info["incident_id"]
    ask, dry_run = read_ask(await json_object(request), state.policy.providers)
    try:
        with store_errors():
            outcome = await request_failover(state, incident_id, ask, dry_run)
    except FailoverRefused as exc:
        raise ApiError(409, exc.code, str(exc)) from None
    except SecretMissing as exc:
        raise ApiError(503, "secret_missing", str(exc)) from None
    if outcome is None:
        raise ApiError(404, "not_found", f"no incident with id {incident_id[:80]!r}")
    decision = outcome.decision
    answer: dict[str, Any] = {
        "incident_id": incident_id, "state": outcome.state, "request_id": decision.request_id,
        "requested_by": decision.requested_by, "approved_by": decision.approved_by,
        "idempotency_key": outcome.body["idempotency_key"]}
    if outcome.state == "failed":
        raise ApiError(502, "webhook_failed",
                       f"the failover webhook failed ({outcome.reason}) after "
                       f"{outcome.attempts} attempt(s); POST again to retry with the same "
                       f"idempotency key")
    if outcome.state == "dry_run":
        answer["would_send"] = outcome.preview
        answer["action"] = decision.action
    if outcome.state == "sent":
        answer.update(attempts=outcome.attempts, status=outcome.status)
    return web.json_response(answer, status=202 if outcome.state == "pending" else 200)

"""receiver.domain.failover, pure: the request's state read from the timeline, who may
approve, what an ask does, and the signed body. Table tests, one sentence per row."""

from __future__ import annotations

import pytest

from receiver.domain import failover
from receiver.domain.failover import Ask
from receiver.domain.model import Event

ASK = Ask("twilio", "telnyx", "Ada")
BACK = Ask("telnyx", "twilio", "Ada", rollback=True)


def ev(kind: str, actor: str, rid: str = "r1", ask: Ask = ASK) -> Event:
    return Event("inc", 1.0, kind, actor, failover.event_detail(ask, rid))


REQ, APP, SENT, FAIL = failover.REQUESTED, failover.APPROVED, failover.SENT, failover.FAILED

STANDING = {
    "an incident with no failover events has no request": ([], ASK, None),
    "a request alone is pending": ([ev(REQ, "Ada")], ASK, ("r1", "pending", None)),
    "an approved request is approved, by its approver":
        ([ev(REQ, "Ada"), ev(APP, "Bob")], ASK, ("r1", "approved", "Bob")),
    "a sent request is sent and remembers its approver":
        ([ev(REQ, "Ada"), ev(APP, "Bob"), ev(SENT, "callwatch")], ASK, ("r1", "sent", "Bob")),
    "a failed send is failed":
        ([ev(REQ, "Ada"), ev(APP, "Bob"), ev(FAIL, "callwatch")], ASK, ("r1", "failed", "Bob")),
    "a newer request replaces a sent one":
        ([ev(REQ, "Ada"), ev(SENT, "callwatch"), ev(REQ, "Cy", "r2")], ASK,
         ("r2", "pending", None)),
    "a rollback request is not the failover it undoes":
        ([ev(REQ, "Ada")], BACK, None),
    "events of an older request do not move a newer one":
        ([ev(REQ, "Ada"), ev(REQ, "Cy", "r2"), ev(SENT, "callwatch")], ASK,
         ("r2", "pending", None)),
}


@pytest.mark.parametrize("timeline, ask, expected", STANDING.values(), ids=STANDING)
def test_the_state_of_a_request_is_read_from_the_timeline(timeline, ask, expected) -> None:
    found = failover.standing(timeline, ask)
    got = None if found is None else (found.request_id, found.state, found.approved_by)
    assert got == expected


APPROVERS = {
    "a different person may approve": ("Ada", "Bob", True),
    "the requester may not approve their own request": ("Ada", "Ada", False),
    "case and spaces do not make another person": ("Ada", " ada ", False),
}


@pytest.mark.parametrize("requester, approver, allowed", APPROVERS.values(), ids=APPROVERS)
def test_who_may_approve(requester, approver, allowed) -> None:
    assert failover.may_approve(requester, approver) is allowed


DECISIONS = {
    "a first ask with approval required creates a pending request":
        ([], "Ada", True, ("request", "new", "Ada", None, True, False)),
    "a first ask without approval is sent at once":
        ([], "Ada", False, ("send", "new", "Ada", None, True, False)),
    "the requester asking again is refused":
        ([ev(REQ, "Ada")], "ada", True, ("refuse", "r1", "Ada", None, False, False)),
    "another person asking approves and sends":
        ([ev(REQ, "Ada")], "Bob", True, ("send", "r1", "Ada", "Bob", False, True)),
    "a failed request is sent again, same request, no new approval":
        ([ev(REQ, "Ada"), ev(APP, "Bob"), ev(FAIL, "callwatch")], "Ada", True,
         ("send", "r1", "Ada", "Bob", False, False)),
    "an approved request not yet sent (a crash between) is sent again":
        ([ev(REQ, "Ada"), ev(APP, "Bob")], "Cy", True, ("send", "r1", "Ada", "Bob", False, False)),
    "after a sent failover a new ask starts a new request":
        ([ev(REQ, "Ada"), ev(APP, "Bob"), ev(SENT, "callwatch")], "Ada", True,
         ("request", "new", "Ada", None, True, False)),
}


@pytest.mark.parametrize("timeline, by, approval, expected", DECISIONS.values(), ids=DECISIONS)
def test_what_an_ask_does(timeline, by, approval, expected) -> None:
    d = failover.decide(timeline, Ask("twilio", "telnyx", by), requires_approval=approval,
                        new_request_id="new")
    assert (d.action, d.request_id, d.requested_by, d.approved_by, d.new, d.approve) == expected
    assert (d.reason != "") is (d.action == "refuse")


def test_the_body_names_both_people_and_one_key_per_request_and_is_signed_with_hmac() -> None:
    decision = failover.Decision("send", "r1", "Ada", approved_by="Bob")
    body = failover.webhook_body("inc", BACK, decision)
    assert body == {"incident": "inc", "from": "telnyx", "to": "twilio", "by": "Ada",
                    "approved_by": "Bob", "rollback": True,
                    "idempotency_key": "callwatch-failover-inc-r1"}
    payload = failover.encode(body)
    assert payload.startswith(b'{"approved_by":"Bob","by":"Ada"')
    # the secret keys the signature; HMAC-SHA256("key", "") is a published test value
    assert failover.signature(payload, "s3cret") != failover.signature(payload, "s3cret2")
    assert failover.signature(b"", "key") == (
        "sha256=5d5d139563c95b5967b9bd9a8c9b233a9dedb45072794cd232dc1b74832607d0")

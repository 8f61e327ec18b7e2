"""A person on a page's call: they answered, and they pressed a key.

``answered`` settles the page as delivered. ``keypress`` acts on the key as the contact who was
called (``acked_by`` is their name, ``via`` the channel type, see ``receiver.services.people``):
1 acknowledges (escalation stops, and the incident's other channels hear of it), 2 pages the
next level at once, 3 requests (or approves) the failover when the page offers one
(``people.fail_over``, as ``POST /incidents/{id}/failover`` does), anything else repeats the
page. It returns the ``Reply`` the person hears, with the call's menu (``page_menu``).
Both are provider-neutral: the HTTP layer turns a Reply into TwiML or Telnyx commands.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from receiver.domain import failover, pages
from receiver.domain.model import OutboxRow
from receiver.domain.pages import CallReport
from receiver.domain.render import render_page
from receiver.services.answers import settle
from receiver.services.people import Acted, act, fail_over
from receiver.services.state import ReceiverState


@dataclass(frozen=True)
class Reply:
    """What the person hears next; ``listen``: then ``menu``, and another key."""

    say: str
    listen: bool
    menu: str = pages.MENU


async def answered(state: ReceiverState, page: str, attempt: int, via: str,
                   ref: str | None) -> OutboxRow | None:
    """A person is on the call: the page is delivered. The page's row; None if unknown."""
    row, _ = await settle(state.opened_store(), state.policy, state.metrics, page,
                          CallReport(attempt, pages.ANSWERED, via, ref), state.clock())
    return row


def page_script(state: ReceiverState, row: OutboxRow) -> str:
    """What the page's call says first: the words its call was placed with."""
    return render_page(state.comms, row.payload, state.policy, row.channel, row.kind).text


def page_menu(state: ReceiverState, row: OutboxRow) -> str:
    """The menu the page's call offers: the one its call was placed with."""
    return render_page(state.comms, row.payload, state.policy, row.channel, row.kind).menu \
        or pages.MENU


async def keypress(state: ReceiverState, page: str, digits: str, attempt: int, via: str,
                   ref: str | None) -> Reply:
    """Act on ``digits`` pressed on ``page``'s call (see the module docstring)."""
    row = await answered(state, page, attempt, via, ref)
    if row is None:
        return Reply("This page is no longer known. Goodbye.", listen=False)
    menu = page_menu(state, row)
    offer = failover.offered(state.policy, row.payload.get("provider"))
    action = pages.key_action(digits, failover=offer is not None)
    if action == "repeat":
        return Reply(page_script(state, row), listen=True, menu=menu)
    name = str(row.payload.get("contact_name") or "the on-call engineer")
    if action == "failover":
        done = await fail_over(state, row.incident_id, name)
        return Reply(pages.failover_reply(done.source, done.target, done.result),
                     listen=True, menu=menu)
    acted = await act(state, row.incident_id, action, name,
                      state.policy.channels[row.channel].type)
    return replace(_reply(acted, name), menu=menu)


def _reply(acted: Acted, name: str) -> Reply:
    if acted.result == "acknowledged":
        return Reply(pages.acknowledged_reply(name), listen=False)
    if acted.result == "escalated":
        return Reply(pages.escalated_reply(acted.level, acted.names), listen=False)
    if acted.result == "no_further_level":
        return Reply(pages.escalated_reply(None, ""), listen=True)
    if acted.result == "conflict" and acted.incident is not None:
        return Reply(pages.conflict_reply(acted.incident, acted.resolver), listen=False)
    return Reply("This incident is no longer known. Goodbye.", listen=False)

"""Publishing the customer notice on the status page: the hook on every incident change, and
the publish a person asks for.

``with_status_page(state, decide)`` wraps a store decision so that its changes also carry the
status page rows they call for (``receiver.domain.status_page.follow_up``: auto-publish on
opening, identified on acknowledge, resolved on resolve), in the same transaction. A notice
that cannot render (an operator's broken ``customer_notice`` override) is logged and skipped:
it never blocks the acknowledgement or the opening it follows.

``publish(state, incident_id, actor, body=None)`` is ``POST /incidents/{id}/status-page`` and
``callwatch incidents publish``: the incident's notice (``body`` replacing the rendered text,
the name staying the notice's first line) as one outbox row, the first (``trigger``: the
Statuspage incident is created) or a later one (``update``: it is edited). Raises
TemplateError when the notice cannot render, StoreError when the store cannot take it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from receiver.domain import status_page
from receiver.domain.communications import TemplateError
from receiver.domain.context import incident_context
from receiver.domain.ids import new_id
from receiver.domain.model import Changes, Event, GroupSnapshot, Incident, NewOutbox
from receiver.services.state import ReceiverState
from receiver.store.base import Decide

log = logging.getLogger("callwatch.receiver.status_page")


def render_notice(state: ReceiverState, incident: Incident, timeline: Sequence[Event]) -> str:
    """The ``customer_notice`` template for ``incident`` as it stands. Raises TemplateError."""
    context = incident_context(incident, timeline, state.policy, state.config.public_url,
                               now=state.clock())
    return state.comms.render("customer_notice", **context)


def with_status_page(state: ReceiverState, decide: Decide) -> Decide:
    """``decide``, its changes plus the status page rows they call for (module docstring)."""
    if state.policy.status_page is None:
        return decide

    def run(snapshot: GroupSnapshot) -> Changes:
        changes = decide(snapshot)
        try:
            rows = status_page.follow_up(
                snapshot, changes, state.policy, lambda i, t: render_notice(state, i, t),
                now=state.clock(), new_id=new_id)
        except TemplateError as exc:
            log.error("status page notice not rendered; not published",
                      extra={"incident": getattr(changes.incident, "id", None),
                             "error": str(exc)})
            rows = []
        changes.outbox.extend(rows)
        return changes

    return run


async def publish(state: ReceiverState, incident_id: str, actor: str,
                  body: str | None = None) -> NewOutbox | None:
    """Publish (or edit) the incident's notice (module docstring); None for an unknown id."""
    store = state.opened_store()
    incident = await store.get_incident(incident_id)
    if incident is None:
        return None
    name, rendered = status_page.split(
        render_notice(state, incident, await store.timeline(incident_id)))
    written: list[NewOutbox] = []

    def decide(snapshot: GroupSnapshot) -> Changes:
        current = snapshot.incident or incident
        row = status_page.notice_row(
            current, status_page.publish_kind(snapshot), name, body or rendered,
            policy=state.policy, now=state.clock(), new_id=new_id,
            batch=f"{status_page.CHANNEL}:{new_id()}")
        row.payload["details"]["published_by"] = actor
        written.append(row)
        return Changes(outbox=[row])

    changes = await store.apply_incident(incident_id, state.clock(), decide)
    if changes is None:
        return None
    state.committed()
    return written[-1]

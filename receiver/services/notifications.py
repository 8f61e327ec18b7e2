"""A stored outbox row as its notifier gets it: the words it says on its channel (rendered at
send time from the policy's templates, ``receiver.domain.render``) and the ``Notification``
built from its payload and those words. The dispatcher sends with them; the communications
endpoint shows the same words."""

from __future__ import annotations

from collections.abc import Mapping

from policy import Policy
from receiver.domain import render
from receiver.domain.communications import Communications
from receiver.notify.base import Notification, Notifier


def words_for(comms: Communications, policy: Policy, notifiers: Mapping[str, Notifier],
              payload: Mapping, channel: str, kind: str) -> render.Rendered:
    """What a row says on ``channel``, exactly as sent: Slack buttons only where the
    channel's notifier verifies clicks. Raises TemplateError."""
    interactive = bool(getattr(notifiers.get(channel), "interactive", False))
    return render.render_page(comms, payload, policy, channel, kind, interactive=interactive)


def to_notification(ident: str, payload: Mapping, channel: str, kind: str,
                    words: render.Rendered, thread_ref: str | None = None,
                    page: str | None = None, attempt: int = 1) -> Notification:
    """The Notification for a stored payload (see messages.compose for its fields) and its
    rendered ``words``."""
    return Notification(
        id=ident, incident_id=str(payload.get("incident_id", "")), channel=channel, kind=kind,
        priority=str(payload.get("priority", "")), summary=render.headline(payload),
        text=words.text, html=words.html, blocks=words.blocks, edit_text=words.edit_text,
        edit_blocks=words.edit_blocks, menu=words.menu,
        provider=payload.get("provider"), recipients=tuple(payload.get("recipients", ())),
        thread_ref=thread_ref, dedup_key=payload.get("dedup_key"),
        links=dict(payload.get("links", {})), details=dict(payload.get("details", {})),
        page=page, attempt=attempt)

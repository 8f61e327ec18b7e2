"""Every page's words, from the templates: the one place a stored payload becomes what is sent.

An outbox row's payload holds the facts of one message (``messages.compose``); ``render_page``
turns them into the words for the row's channel type, with the policy's template overrides:

================  ====================  ===============  =====================================
channel type      text                  html             blocks (Slack)
================  ====================  ===============  =====================================
email             ``page_text``         ``page_html``
pagerduty         ``page_text``
slack             ``page_text``                          ``slack_blocks``; on acknowledge or
                                                         resolve ``slack_settled`` edits the
                                                         incident's first message
phone             ``voice_script``
sms               ``sms``
digest            ``digest``            ``digest_html``  (all the day's rows, ``render_digest``)
================  ====================  ===============  =====================================

A payload that carries its own ``text`` (a vendor email, rendered from ``vendor_email`` when
it was queued; an on-call handoff notice, ``receiver.domain.handoff``) is sent as it is. The
dispatcher, the call callbacks and ``GET /incidents/{id}/communications`` all render through
here, so what the endpoint shows is what was sent. An override that fails to render never
silences a page: the built-in template renders instead, and a warning names the broken one.

A drill's payload (``"drill": true``, ``messages.compose``) is rendered like any other, then
``drilled`` puts "DRILL: " before its first words (text, HTML, the Slack header, the voice
script, the summary an email subject and a PagerDuty event quote): one place, every channel
and template override alike.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from policy import Policy
from receiver.domain.communications import Communications, TemplateError
from receiver.domain.context import SERVICE, human
from receiver.domain.failover import offered
from receiver.domain.model import MessageKind
from receiver.domain.pages import incident_code, menu

log = logging.getLogger("callwatch.receiver.render")
PAGE_KINDS = ("trigger", "update", "escalate")   # the messages a person acts on
_BUILTIN = Communications()
DRILL = "DRILL: "


@dataclass(frozen=True)
class Rendered:
    """The words of one notification; ``edit_*``: the Slack message the incident started with,
    as it should now read (empty when nothing is edited); ``menu``: a phone page's key menu
    (``receiver.domain.pages.menu``), empty for the other channels."""

    text: str
    html: str | None = None
    blocks: tuple[Mapping[str, Any], ...] = ()
    edit_text: str | None = None
    edit_blocks: tuple[Mapping[str, Any], ...] = ()
    menu: str = ""


def render_page(comms: Communications, payload: Mapping[str, Any], policy: Policy, channel: str,
                kind: str, *, interactive: bool = False) -> Rendered:
    """The words of the row (``payload``, ``channel``, ``kind``) as its channel sends them
    (a drill's marked, ``drilled``). ``interactive``: the Slack channel verifies clicks, so
    pages carry buttons. Raises TemplateError only when a built-in template fails."""
    return drilled(payload, _words(comms, payload, policy, channel, kind, interactive))


def _words(comms: Communications, payload: Mapping[str, Any], policy: Policy, channel: str,
           kind: str, interactive: bool) -> Rendered:
    spec = policy.channels.get(channel)
    channel_type = spec.type if spec is not None else ""
    if "text" in payload:
        return Rendered(str(payload["text"]), payload.get("html"))
    context = page_context(payload, policy, kind)
    if channel_type == "phone":
        return Rendered(spoken_page(comms, payload, policy, kind),
                        menu=menu(offered(policy, payload.get("provider"))))
    if channel_type == "sms":
        return Rendered(_render(comms, "sms", context).strip())
    text = _render(comms, "page_text", context)
    if channel_type in ("email", "digest"):
        return Rendered(text, _render(comms, "page_html", context))
    if channel_type != "slack":
        return Rendered(text)
    context["page"]["text"] = text
    context["interactive"] = interactive
    fallback, blocks = _slack(comms, "slack_blocks", context)
    if not (interactive and kind in ("acknowledge", "resolve")):
        return Rendered(fallback, blocks=blocks)
    edit_text, edit_blocks = _slack(comms, "slack_settled", context)
    return Rendered(fallback, blocks=blocks, edit_text=edit_text, edit_blocks=edit_blocks)


def spoken_page(comms: Communications, payload: Mapping[str, Any], policy: Policy,
                kind: str) -> str:
    """What a phone page about the payload says (``voice_script``), on one line."""
    spoken = _render(comms, "voice_script", page_context(payload, policy, kind)).strip()
    return drill_mark(payload) + spoken


def drill_mark(payload: Mapping[str, Any]) -> str:
    """"DRILL: " for a drill's payload, else nothing."""
    return DRILL if payload.get("drill") else ""


def headline(payload: Mapping[str, Any]) -> str:
    """The payload's summary as a notifier quotes it (email subject, PagerDuty summary)."""
    return drill_mark(payload) + str(payload.get("summary", ""))


def drilled(payload: Mapping[str, Any], words: Rendered) -> Rendered:
    """``words`` with "DRILL: " first in the text, the HTML, the Slack header block and the
    edited message, when ``payload`` is a drill's; else ``words`` unchanged."""
    mark = drill_mark(payload)
    if not mark or words.text.startswith(mark):   # a phone page's script is already marked
        return words
    html = None if words.html is None else f"<p><strong>{mark}</strong></p>{words.html}"
    return replace(words, text=mark + words.text, html=html,
                   blocks=_marked_blocks(mark, words.blocks),
                   edit_text=None if words.edit_text is None else mark + words.edit_text,
                   edit_blocks=_marked_blocks(mark, words.edit_blocks))


def _marked_blocks(mark: str, blocks: tuple[Mapping[str, Any], ...]
                   ) -> tuple[Mapping[str, Any], ...]:
    """``blocks`` with ``mark`` before the first header block's text."""
    out, done = [], False
    for block in blocks:
        text = block.get("text")
        if not done and block.get("type") == "header" and isinstance(text, Mapping):
            block = {**block, "text": {**text, "text": mark + str(text.get("text", ""))}}
            done = True
        out.append(block)
    return tuple(out)


def render_digest(comms: Communications, payload: Mapping[str, Any]) -> Rendered:
    """The day's digest (a payload from ``digest_payload``) as text and HTML."""
    context = {"service": SERVICE, "day": payload.get("day", ""),
               "items": list(payload.get("items", ()))}
    return Rendered(_render(comms, "digest", context), _render(comms, "digest_html", context))


def digest_payload(channel: str, payloads: Iterable[Mapping[str, Any]],
                   recipients: Iterable[str], now: float) -> dict[str, Any]:
    """The stored facts of one digest listing every queued row's payload."""
    items = [{"priority": str(p.get("priority", "")), "summary": str(p.get("summary", "")),
              "incident_id": str(p.get("incident_id", "")), "kind": str(p.get("kind", ""))}
             for p in payloads]
    return {"incident_id": "", "channel": channel, "kind": MessageKind.DIGEST, "priority": "P3",
            "summary": f"Daily digest: {len(items)} notification(s)", "provider": None,
            "recipients": list(recipients), "dedup_key": None, "links": {},
            "details": {"count": str(len(items))}, "items": items,
            "day": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")}


def page_context(payload: Mapping[str, Any], policy: Policy, kind: str) -> dict[str, Any]:
    """The variables a page's templates see: ``service``, ``incident`` (id, priority,
    priority_name, summary, provider, response_time, code), ``alert`` (alertname, severity,
    value, description), ``page`` (kind, channel, note, counts, recipients, contact_name),
    ``links`` (runbook, dashboard, incident: those known) and ``failover`` (``{"from", "to"}``
    when the page offers one, ``receiver.domain.failover.offered``; else None)."""
    incident_id = str(payload.get("incident_id", ""))
    priority = str(payload.get("priority", ""))
    failover = offered(policy, payload.get("provider"))
    spec = policy.priorities.get(priority)
    details = payload.get("details") or {}
    return {
        "service": SERVICE,
        "incident": {"id": incident_id, "priority": priority,
                     "priority_name": spec.name if spec else priority,
                     "summary": str(payload.get("summary", "")),
                     "provider": payload.get("provider"),
                     "response_time": human(spec.response_seconds) if spec else "",
                     "code": incident_code(incident_id)},
        "alert": {key: str(details.get(key, ""))
                  for key in ("alertname", "severity", "value", "description")},
        "page": {"kind": kind, "channel": str(payload.get("channel", "")),
                 "note": str(details.get("note", "")),
                 "counts": dict(payload.get("counts") or {}),
                 "recipients": [str(r) for r in payload.get("recipients", ())],
                 "contact_name": str(payload.get("contact_name") or "")},
        "links": {str(k): str(v) for k, v in (payload.get("links") or {}).items() if v},
        "failover": None if failover is None else {"from": failover[0], "to": failover[1]},
    }


def _slack(comms: Communications, name: str, context: Mapping[str, Any]
           ) -> tuple[str, tuple[Mapping[str, Any], ...]]:
    """(fallback text, blocks) from a Slack template, which renders JSON."""
    def parse(rendered: str) -> tuple[str, tuple[Mapping[str, Any], ...]]:
        try:
            message = json.loads(rendered)
        except ValueError as exc:
            raise TemplateError(f"template {name}: not JSON ({exc})") from None
        if not (isinstance(message, dict) and isinstance(message.get("text"), str)
                and isinstance(message.get("blocks"), list)):
            raise TemplateError(f'template {name}: must render {{"text": ..., "blocks": [...]}}')
        return message["text"], tuple(message["blocks"])
    return _render(comms, name, context, parse)


def _render(comms: Communications, name: str, context: Mapping[str, Any], parse=None):
    """``name`` rendered (and parsed); the built-in template when the override fails."""
    def once(source: Communications):
        out = source.render(name, **context)
        return parse(out) if parse else out
    try:
        return once(comms)
    except TemplateError as exc:
        if not comms.overridden(name):
            raise
        log.warning("template override failed, the built-in one is used instead",
                    extra={"template": name, "error": str(exc)})
        return once(_BUILTIN)

"""The words of every notification, composed in this one module.

The pages' words are written here, in code: ``compose`` returns the Notification fields stored
in an outbox row's payload (everything but ``id`` and ``thread_ref``, which the dispatcher adds
at send time); ``compose_digest`` folds several rows into the one daily message. The longer
texts people read (notices, vendor email, voice script, report) are rendered from the Jinja2
templates by ``receiver.domain.communications``.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from policy import Policy
from receiver.domain.model import MessageKind

_HEADLINES = {
    "trigger": "[{priority}] {summary}",
    "update": "[{priority}] Updated: {summary}",
    "resolve": "[{priority}] Resolved: {summary}",
    "acknowledge": "[{priority}] Acknowledged: {summary}",
    "escalate": "[{priority}] Escalated: {summary}",
}
HTML_CHANNEL_TYPES = ("email", "digest")  # the others take text (Slack builds its own blocks)
# which contact field holds the address for a channel type (route recipients are the L1 contacts)
CONTACT_FIELDS = {"slack": "slack", "phone": "phone", "sms": "phone", "email": "email"}


def compose(*, incident_id: str, kind: str, channel: str, priority: str, summary: str,
            provider: str | None, alert: Mapping[str, Any] | None, policy: Policy,
            public_url: str = "", note: str = "", counts: Mapping[str, int] | None = None
            ) -> dict[str, Any]:
    """The stored Notification fields for one message on ``channel`` about one incident.

    ``alert`` is the incident's leading alert (labels, annotations) or None; ``note`` says what
    changed (e.g. "priority raised from P2 to P1"); ``counts`` the firing/resolved alerts.
    """
    labels = dict((alert or {}).get("labels", {}))
    annotations = dict((alert or {}).get("annotations", {}))
    value = annotations.get("value") or annotations.get("description", "")
    links = _links(incident_id, annotations, policy, public_url)
    headline = _HEADLINES.get(kind, "[{priority}] {summary}").format(priority=priority,
                                                                     summary=summary)
    lines = [headline, f"Priority: {priority} ({_priority_name(policy, priority)})"]
    if provider:
        lines.append(f"Provider: {provider}")
    if value:
        lines.append(f"Value: {value}")
    if note:
        lines.append(note)
    if counts:
        lines.append(f"Alerts: {counts.get('firing', 0)} firing, "
                     f"{counts.get('resolved', 0)} resolved")
    lines += [f"{name.capitalize()}: {url}" for name, url in links.items()]
    lines.append(f"Incident: {incident_id}")
    spec = policy.channels.get(channel)
    wants_html = spec is not None and spec.type in HTML_CHANNEL_TYPES
    return {
        "incident_id": incident_id, "channel": channel, "kind": kind, "priority": priority,
        "summary": summary, "text": "\n".join(lines),
        "html": _html(lines) if wants_html else None,
        "provider": provider, "recipients": list(recipients_for(policy, channel)),
        "dedup_key": incident_id, "links": links,
        "details": {k: v for k, v in {
            "alertname": labels.get("alertname", ""), "severity": labels.get("severity", ""),
            "value": value, "description": annotations.get("description", ""),
            "note": note}.items() if v},
    }


def compose_digest(channel: str, payloads: Iterable[Mapping[str, Any]], policy: Policy,
                   now: float) -> dict[str, Any]:
    """One digest message (kind "digest") listing every queued notification."""
    items = list(payloads)
    day = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")
    lines = [f"callwatch daily digest {day}: {len(items)} notification(s)"]
    for item in items:
        first = str(item.get("text", "")).splitlines()[:1] or [item.get("summary", "")]
        lines.append(f"- {first[0]} (incident {item.get('incident_id', '?')})")
    return {
        "incident_id": "", "channel": channel, "kind": MessageKind.DIGEST, "priority": "P3",
        "summary": f"Daily digest: {len(items)} notification(s)", "text": "\n".join(lines),
        "html": _html(lines), "provider": None, "recipients": list(recipients_for(policy, channel)),
        "dedup_key": None, "links": {}, "details": {"count": str(len(items))},
    }


def recipients_for(policy: Policy, channel: str) -> tuple[str, ...]:
    """The channel's own ``to`` list, else the first escalation level's contacts on that type."""
    spec = policy.channels.get(channel)
    if spec is None:
        return ()
    configured = spec.settings.get("to")
    if isinstance(configured, (list, tuple)) and configured:
        return tuple(str(item) for item in configured)
    return contact_addresses(policy, first_level_contacts(policy), channel)


def route_channels(policy: Policy, priority: str) -> tuple[str, ...]:
    """The channels a new incident of ``priority`` pages: its route's, plus PagerDuty when
    PagerDuty owns the escalation (``escalation.owner: pagerduty``), which takes it from there."""
    channels = policy.routing[priority].channels
    if policy.escalation.owner != "pagerduty":
        return channels
    pagerduty = next(name for name, spec in policy.channels.items() if spec.type == "pagerduty")
    return channels if pagerduty in channels else (*channels, pagerduty)


def first_level_contacts(policy: Policy) -> tuple[str, ...]:
    """The first engineering level's contacts: the people a route pages."""
    first = policy.escalation.engineering
    return first[0].contacts if first else ()


def contact_addresses(policy: Policy, contacts: Iterable[str], channel: str) -> tuple[str, ...]:
    """The addresses ``contacts`` have for ``channel``'s type (Slack handle, phone, email)."""
    field = CONTACT_FIELDS.get(policy.channels[channel].type)
    if field is None:
        return ()
    found = (getattr(policy.contacts.get(key), field, None) for key in contacts)
    return tuple(value for value in found if value)


def _links(incident_id: str, annotations: Mapping[str, str], policy: Policy,
           public_url: str) -> dict[str, str]:
    links = {"runbook": annotations.get("runbook_url", ""),
             "dashboard": annotations.get("dashboard_url") or policy.links.dashboard_url,
             "incident": f"{public_url.rstrip('/')}/incidents/{incident_id}"}
    return {name: url for name, url in links.items() if url}


def _priority_name(policy: Policy, priority: str) -> str:
    spec = policy.priorities.get(priority)
    return spec.name if spec else priority


def _html(lines: list[str]) -> str:
    body = "".join(f"<p>{html.escape(line)}</p>" for line in lines[1:])
    return f"<h3>{html.escape(lines[0])}</h3>{body}"

"""What a notification is about, and to whom it goes.

``compose`` returns the facts stored in an outbox row's payload (incident, priority, summary,
the leading alert's details, links, counts, recipients); the words are rendered from them when
the row is sent (``receiver.domain.render``), so a policy's template overrides reach every page.
The rest answers who a channel pages: ``recipients_for``, ``route_channels``,
``contact_addresses`` (the first level's people at an instant: ``receiver.domain.oncall``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from policy import Policy
from receiver.domain import oncall

# which contact field holds the address for a channel type (route recipients are the L1 contacts)
CONTACT_FIELDS = {"slack": "slack", "phone": "phone", "sms": "phone", "email": "email"}


def compose(*, incident_id: str, kind: str, channel: str, priority: str, summary: str,
            provider: str | None, alert: Mapping[str, Any] | None, policy: Policy, now: float,
            public_url: str = "", note: str = "", counts: Mapping[str, int] | None = None,
            drill: bool = False) -> dict[str, Any]:
    """The stored facts of one message on ``channel`` about one incident: the payload of an
    outbox row, which ``receiver.domain.render`` turns into words when it is sent.

    ``alert`` is the incident's leading alert (labels, annotations) or None; ``note`` says what
    changed (e.g. "priority raised from P2 to P1"); ``counts`` the firing/resolved alerts;
    ``now`` the instant whose on-call people a channel without its own ``to`` addresses;
    ``drill``: the incident is a drill, the payload says so (``"drill": true``) and every page
    rendered from it starts with "DRILL: " (``receiver.domain.render``).
    """
    labels = dict((alert or {}).get("labels", {}))
    annotations = dict((alert or {}).get("annotations", {}))
    value = annotations.get("value") or annotations.get("description", "")
    payload: dict[str, Any] = {
        "incident_id": incident_id, "channel": channel, "kind": kind, "priority": priority,
        "summary": summary, "provider": provider,
        "recipients": list(recipients_for(policy, channel, now)), "dedup_key": incident_id,
        "links": _links(incident_id, annotations, policy, public_url),
        "counts": dict(counts or {}),
        "details": {k: v for k, v in {
            "alertname": labels.get("alertname", ""), "severity": labels.get("severity", ""),
            "value": value, "description": annotations.get("description", ""),
            "note": note}.items() if v},
    }
    if drill:
        payload["drill"] = True
    return payload


def recipients_for(policy: Policy, channel: str, now: float) -> tuple[str, ...]:
    """The channel's own ``to`` list, else the addresses on that type of the people the first
    escalation level pages at ``now`` (whoever its schedules have on call)."""
    spec = policy.channels.get(channel)
    if spec is None:
        return ()
    configured = spec.settings.get("to")
    if isinstance(configured, (list, tuple)) and configured:
        return tuple(str(item) for item in configured)
    return contact_addresses(policy, oncall.first_level(policy, now).contacts, channel)


def route_channels(policy: Policy, priority: str) -> tuple[str, ...]:
    """The channels a new incident of ``priority`` pages: its route's, plus PagerDuty when
    PagerDuty owns the escalation (``escalation.owner: pagerduty``), which takes it from there."""
    channels = policy.routing[priority].channels
    if policy.escalation.owner != "pagerduty":
        return channels
    pagerduty = next(name for name, spec in policy.channels.items() if spec.type == "pagerduty")
    return channels if pagerduty in channels else (*channels, pagerduty)


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

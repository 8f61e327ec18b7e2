"""Vendor escalation, pure: what Twilio / Telnyx support ask for, and the draft email's rows.

``vendor_fields(incident, policy, account, now, health)`` fills the ``vendor`` variables of
``vendor_email.txt.j2`` from values the caller has read (``receiver.services.vendor`` reads the
account values and the exporter's provider health):

- ``account_id`` / ``connection_id`` / ``affected_numbers``: the account values the policy
  names in ``vendors.<provider>.account``; ``connection_id`` is None when the vendor does not
  ask for one (the template leaves it out);
- ``example_call_ids`` (up to 5) and ``error_messages`` from the provider health body
  (``recent_failed_calls``, ``inputs.api.last_error``, the status page, the outcome counts);
  both empty without one;
- ``time_window``: opened_at to resolved_at (or ``now``, "ongoing");
- ``issue_type`` from the incident's alerts.

``vendor_payloads(...)`` builds the outbox rows of a vendor escalation: the draft email to the
on-call (the policy's first email channel, its own recipients), and a copy to the vendor's
support address (``contacts`` kind ``email``) only when ``send_to_vendor`` is true.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from policy import Policy
from receiver.domain import messages, outbox
from receiver.domain.communications import Communications
from receiver.domain.context import incident_context
from receiver.domain.model import Event, Incident, MessageKind, NewOutbox

# name ("account_id", "connection_id", "numbers") -> (value, where it was read); a name the
# vendor does not ask for is absent
VendorAccount = Mapping[str, tuple[str | None, str | None]]

VENDOR_NAMES = {"twilio": "Twilio", "telnyx": "Telnyx"}
AFFECTED_SERVICES = {"twilio": ["Programmable Voice"], "telnyx": ["Voice API (Call Control)"]}
ISSUE_TYPES = {
    "TelephonyServiceDown": "Outage: complete loss of service",
    "TelephonyProviderHealthLow": "Service disruption",
    "TelephonyCallQualityLow": "Call quality degradation",
    "TelephonyCallDropRateHigh": "Dropped calls",
    "TelephonyErrorRateHigh": "Call failures",
    "TelephonyWebhookFailureRateHigh": "Webhook delivery failures",
    "TelephonyApiResponseTimeHigh": "API latency",
}
MAX_CALL_IDS = 5


def _time_window(incident: Incident, now: float) -> str:
    start = datetime.fromtimestamp(incident.opened_at, UTC)
    end_ts = incident.resolved_at if incident.resolved_at is not None else now
    end = datetime.fromtimestamp(end_ts, UTC)
    tail = "" if incident.resolved_at is not None else " (ongoing)"
    if start.date() == end.date():
        return f"{start:%Y-%m-%d %H:%M}-{end:%H:%M} UTC{tail}"
    return f"{start:%Y-%m-%d %H:%M} UTC - {end:%Y-%m-%d %H:%M} UTC{tail}"


def _issue_type(incident: Incident) -> str:
    names = [a.get("labels", {}).get("alertname", "") for a in incident.alerts
             if a.get("status") == "firing"] or \
            [a.get("labels", {}).get("alertname", "") for a in incident.alerts]
    kinds = list(dict.fromkeys(ISSUE_TYPES[n] for n in names if n in ISSUE_TYPES))
    return "; ".join(kinds) or "Service degradation"


def evidence(health: Mapping[str, Any] | None) -> tuple[list[str], list[str]]:
    """(example call ids, error messages) from a provider health body; empty lists for None."""
    if not health:
        return [], []
    failed = health.get("recent_failed_calls") or []
    call_ids = [str(c["call_id"]) for c in failed if isinstance(c, dict) and c.get("call_id")]
    inputs = health.get("inputs") or {}
    errors = []
    last_error = (inputs.get("api") or {}).get("last_error")
    if last_error:
        errors.append(f"API: {last_error}")
    status = inputs.get("statuspage") or {}
    if status.get("indicator") not in (None, "none"):
        errors.append(f"Status page: {status['indicator']} - {status.get('description') or ''}"
                      .rstrip(" -"))
    ended = (inputs.get("calls") or {}).get("ended") or {}
    bad = {k: v for k, v in ended.items() if k in ("failed", "dropped") and v}
    if bad:
        total = sum(v for v in ended.values() if isinstance(v, int))
        window = health.get("window_seconds")
        span = f" in the last {round(window / 60)} min" if isinstance(window, (int, float)) else ""
        counts = ", ".join(f"{v} {k}" for k, v in sorted(bad.items()))
        errors.append(f"{counts} of {total} ended calls{span}")
    return call_ids[:MAX_CALL_IDS], errors


def vendor_fields(incident: Incident, policy: Policy, account: VendorAccount, now: float,
                  health: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
    """The template's ``vendor`` fields from what the caller read (the account values, the
    exporter's provider ``health`` body or None); None when the provider has no vendor entry."""
    vendor = policy.vendors.get(incident.provider or "")
    if vendor is None:
        return None
    account_id, source = account.get("account_id", (None, None))
    connection_id, _ = account.get("connection_id", (None, None))
    numbers, _ = account.get("numbers", (None, None))
    call_ids, errors = evidence(health)
    return {
        "name": VENDOR_NAMES.get(vendor.provider, vendor.provider.capitalize()),
        "account_id": account_id or "", "account_id_source": source or "account_id_env",
        "connection_id": connection_id, "issue_type": _issue_type(incident),
        "time_window": _time_window(incident, now),
        "affected_services": AFFECTED_SERVICES.get(vendor.provider, ["Voice"]),
        "affected_numbers": [n.strip() for n in (numbers or "").split(",") if n.strip()],
        "error_messages": errors, "example_call_ids": call_ids,
        "support_tier": vendor.support_tier, "send_to_vendor": vendor.send_to_vendor,
    }


def email_channel(policy: Policy) -> str | None:
    """The policy's first channel of type email (where vendor drafts go)."""
    return next((name for name, spec in policy.channels.items() if spec.type == "email"), None)


def vendor_payloads(incident: Incident, timeline: Sequence[Event], policy: Policy,
                    vendor: Mapping[str, Any], *, now: float, new_id: Callable[[], str],
                    batch: str, comms: Communications, public_url: str = "",
                    contact: Mapping[str, Any] | None = None) -> list[NewOutbox]:
    """Outbox rows (kind ``escalate``) of a vendor escalation; [] without a vendor or email
    channel. Row 1: the draft to the on-call. Row 2 (only when the policy's ``send_to_vendor``
    is true): the same email to the vendor's support address, in batch ``<batch>:vendor``."""
    spec = policy.vendors.get(incident.provider or "")
    channel = email_channel(policy)
    if spec is None or channel is None or not vendor:
        return []
    context = incident_context(incident, timeline, policy, public_url, vendor=vendor,
                               contact=contact, now=now)
    rendered = comms.render("vendor_email", **context)
    subject, _, body = rendered.partition("\n")
    subject = subject.removeprefix("Subject:").strip() or f"Vendor escalation: {incident.summary}"
    base = messages.compose(incident_id=incident.id, kind=MessageKind.ESCALATE, channel=channel,
                            priority=incident.priority, summary=incident.summary,
                            provider=incident.provider, alert=None, policy=policy,
                            now=now, public_url=public_url)
    draft = {**base, "summary": f"DRAFT for {vendor.get('name')}: {subject}",
             "text": "Draft vendor escalation email; review and send it to the vendor.\n\n"
                     + rendered, "html": None, "details": {"vendor": str(vendor.get("name")),
                                                           "draft": "true"}}
    rows = [outbox.new_row(incident.id, channel, MessageKind.ESCALATE, draft, policy=policy,
                           now=now, new_id=new_id, batch=batch)]
    support = [c.value for c in spec.contacts if c.kind == "email"]
    if spec.send_to_vendor and support:
        to_vendor = {**base, "summary": subject, "text": body.lstrip("\n"), "html": None,
                     "recipients": support[:1], "details": {"vendor": str(vendor.get("name"))}}
        rows.append(outbox.new_row(incident.id, channel, MessageKind.ESCALATE, to_vendor,
                                   policy=policy, now=now, new_id=new_id,
                                   batch=f"{batch}:vendor"))
    return rows

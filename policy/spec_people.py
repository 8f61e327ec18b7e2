"""``policy/v1``: channels, contacts, escalation chains and vendors."""

from __future__ import annotations

import re

from policy.model import (
    PRIORITIES,
    Channel,
    Contact,
    Escalation,
    EscalationDeadline,
    EscalationStep,
    Vendor,
    VendorContact,
    VendorCriterion,
)
from policy.reader import Node
from policy.spec_schedules import contact_reference, read_timezone

# Type-specific keys per channel type: (required, optional). Secrets only by *_env / *_file.
CHANNEL_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "pagerduty": ((), ("routing_key_env", "routing_key_file")),
    "slack": (("channel",), ("token_env", "token_file")),
    "phone": (("from_number",), ("providers", "retry", "machine_detection")),
    "sms": (("from_number",), ("providers",)),
    "email": (("smtp_host", "smtp_port", "from_address", "to"),
              ("starttls", "username", "password_env", "password_file")),
    "digest": (("send_at", "timezone", "to"), ()),
}
# A phone page rings its person up to ``attempts`` times, ``interval`` apart, before falling back;
# a call whose outcome the provider has not reported after ``outcome_within`` counts unanswered.
PHONE_RETRY = {"attempts": 3, "interval_seconds": 120.0, "outcome_within_seconds": 600.0}
_SECRET_WORDS = ("token", "password", "routing_key", "secret", "api_key", "auth_token")
_LEVEL = re.compile(r"^L[1-9]$")
_SLACK_ID = re.compile(r"^[UWS][A-Z0-9]{2,}$")
_TIME_OF_DAY = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def read_channels(node: Node) -> dict[str, Channel]:
    if not isinstance(node.value, dict) or not node.value:
        raise node.error("must be a mapping with at least one channel")
    return {name: _read_channel(name, child) for name, child in node.items()}


def _read_channel(name: str, node: Node) -> Channel:
    if not isinstance(node.value, dict):
        raise node.error("must be a mapping")
    for key in node.value:
        if key in _SECRET_WORDS:
            raise node.child(key).error(
                f"secrets are never written in the policy: name an environment variable "
                f"({key}_env) or a file ({key}_file) instead")
    kind = node.child("type").choice(tuple(CHANNEL_KEYS), "channel type")
    required, optional = CHANNEL_KEYS[kind]
    node.mapping(("type", *required), optional)
    settings: dict[str, object] = {}
    for key, child in node.items():
        if key == "type":
            continue
        settings[key] = _read_channel_setting(key, child)
    if kind == "phone":
        settings.setdefault("retry", dict(PHONE_RETRY))
        settings.setdefault("machine_detection", False)
    return Channel(name, kind, settings)


def _read_channel_setting(key: str, node: Node) -> object:
    if key == "smtp_port":
        port = node.integer(1)
        if port > 65535:
            raise node.error(f"must be a TCP port (1-65535), got {port}")
        return port
    if key in ("starttls", "machine_detection"):
        return node.boolean()
    if key == "retry":
        return _read_retry(node)
    if key in ("to", "providers"):
        values = node.strings()
        if not values:
            raise node.error("must name at least one entry")
        return values
    if key == "send_at":
        text = node.string()
        if not _TIME_OF_DAY.match(text):
            raise node.error(f"must be a time of day HH:MM, got {text!r}")
        return text
    if key == "timezone":
        return read_timezone(node)
    return node.string(allow_empty=(key == "username"))


def _read_retry(node: Node) -> dict[str, float]:
    """A phone channel's ``retry: {attempts, interval, outcome_within}``: calls per page, the
    wait between them, and how long to wait for the provider to say how a call ended."""
    node.mapping((), ("attempts", "interval", "outcome_within"))
    retry = dict(PHONE_RETRY)
    if node.has("attempts"):
        retry["attempts"] = node.child("attempts").integer(1)
    for key in ("interval", "outcome_within"):
        if node.has(key):
            retry[f"{key}_seconds"] = node.child(key).duration()
    return retry


def contact_warnings(node: Node) -> tuple[str, ...]:
    """A contact's ``slack`` that is not a user (``U…``/``W…``) or user group (``S…``) id is
    shown in Slack messages but notifies nobody: one warning line each."""
    found = []
    for _key, child in node.items():
        if not child.has("slack"):
            continue
        slack = child.child("slack")
        if not _SLACK_ID.match(str(slack.value)):
            found.append(f"{slack.source}:{slack.line}: {slack.path}: {slack.value!r} is not a "
                         "Slack user id (U...) or user group id (S...); it is shown in "
                         "messages but notifies nobody")
    return tuple(found)


def read_contacts(node: Node) -> dict[str, Contact]:
    if not isinstance(node.value, dict) or not node.value:
        raise node.error("must be a mapping with at least one contact")
    contacts = {}
    for key, child in node.items():
        child.mapping(("name",), ("pagerduty", "slack", "phone", "email"))
        contact = Contact(
            key=key, name=child.child("name").string(),
            pagerduty=child.child("pagerduty").boolean() if child.has("pagerduty") else False,
            **{field: child.child(field).string() if child.has(field) else None
               for field in ("slack", "phone", "email")},
            methods=tuple(field for field, _ in child.items()
                          if field in ("pagerduty", "slack", "phone", "email")
                          and (field != "pagerduty" or child.child(field).value is True)))
        if not (contact.pagerduty or contact.slack or contact.phone or contact.email):
            raise child.error("names no way to reach this contact (pagerduty, slack, phone, email)")
        contacts[key] = contact
    return contacts


def read_escalation(node: Node, contacts: dict, channels: dict,
                    schedules: dict | None = None) -> Escalation:
    """The ``escalation`` section. A step's contacts are contact keys or ``schedule:<name>``."""
    schedules = schedules or {}
    node.mapping(("engineering", "deadlines"), ("business", "owner"))
    engineering = node.child("engineering").list_of(
        lambda item: _read_step(item, contacts, channels, schedules))
    if not engineering:
        raise node.child("engineering").error("must hold at least one step")
    business_node = node.child("business")
    business = () if business_node.value is None else business_node.list_of(
        lambda item: _read_step(item, contacts, channels, schedules))
    levels = {step.level for step in engineering}
    deadlines_node = node.child("deadlines").mapping((), PRIORITIES)
    deadlines = {}
    for key, child in deadlines_node.items():
        child.mapping(("after", "level"))
        level = child.child("level").string()
        if level not in levels:
            raise child.child("level").error(
                f"names level {level!r}, which no engineering step has "
                f"({', '.join(sorted(levels))})")
        deadlines[key] = EscalationDeadline(key, child.child("after").duration(), level)
    owner = node.child("owner").choice(("callwatch", "pagerduty"), "escalation owner") \
        if node.has("owner") else "callwatch"
    if owner == "pagerduty" and not any(c.type == "pagerduty" for c in channels.values()):
        raise node.child("owner").error("is pagerduty, but no channel has type pagerduty")
    return Escalation(engineering, deadlines, business, owner)


def _read_step(node: Node, contacts: dict, channels: dict, schedules: dict) -> EscalationStep:

    node.mapping(("level", "after", "contacts", "channels"), ("priorities",))
    level = node.child("level").string()
    if not _LEVEL.match(level):
        raise node.child("level").error(f"must look like L1..L9, got {level!r}")
    step_contacts = tuple(contact_reference(item, contacts, schedules)
                          for item in node.child("contacts").each())
    step_channels = tuple(item.choice(sorted(channels), "channel")
                          for item in node.child("channels").each())
    if not step_contacts or not step_channels:
        raise node.error("must name at least one contact and one channel")
    prio = node.child("priorities")
    priorities = PRIORITIES if prio.value is None else tuple(
        item.choice(PRIORITIES, "priority") for item in prio.each())
    return EscalationStep(level, node.child("after").duration(), step_contacts, step_channels,
                          priorities)


def read_vendors(node: Node, providers: tuple[str, ...]) -> dict[str, Vendor]:
    if node.value is None:
        return {}
    node.mapping((), ("twilio", "telnyx"))
    return {key: _read_vendor(key, child) for key, child in node.items()}


def _read_vendor(provider: str, node: Node) -> Vendor:
    node.mapping(("support_tier", "tiers", "contacts", "criteria", "required_info", "account"),
                 ("send_to_vendor",))
    tiers_node = node.child("tiers")
    if not isinstance(tiers_node.value, dict) or not tiers_node.value:
        raise tiers_node.error("must be a mapping with at least one tier")
    tiers = {}
    for name, tier in tiers_node.items():
        tier.mapping(("channel", "response_time"))
        tiers[name] = {"channel": tier.child("channel").string(),
                       "response_seconds": tier.child("response_time").duration()}
    support_tier = node.child("support_tier").choice(sorted(tiers), "support tier")
    account_node = node.child("account")
    if not isinstance(account_node.value, dict):
        raise account_node.error("must be a mapping")
    account = {}
    for key, child in account_node.items():
        if not key.endswith(("_env", "_file")):
            raise child.error("account details come from the environment or a file: "
                              "use a key ending in _env or _file")
        account[key] = child.string()
    send = node.child("send_to_vendor")
    return Vendor(
        provider=provider, support_tier=support_tier, tiers=tiers,
        contacts=node.child("contacts").list_of(_read_vendor_contact),
        criteria=node.child("criteria").list_of(_read_criterion),
        required_info=node.child("required_info").strings(),
        account=account,
        send_to_vendor=send.boolean() if send.value is not None else False,
    )


def _read_vendor_contact(node: Node) -> VendorContact:
    node.mapping(("level", "kind", "value"))
    return VendorContact(node.child("level").integer(1),
                         node.child("kind").choice(("email", "phone", "account_manager"), "kind"),
                         node.child("value").string())


def _read_criterion(node: Node) -> VendorCriterion:
    node.mapping(("alerts", "lasting"))
    alerts = node.child("alerts").strings()
    if not alerts:
        raise node.child("alerts").error("must name at least one alert")
    return VendorCriterion(alerts, node.child("lasting").duration())

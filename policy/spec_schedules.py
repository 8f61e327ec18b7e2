"""``policy/v1``: on-call ``schedules``, and contact references that name one.

A schedule is a stack of rotations (``layers``) in one IANA ``timezone``, with ``overrides`` on
top; ``policy.oncall`` resolves who is on call at an instant. Times in a schedule are local
wall-clock times without an offset (``2026-11-30T09:00``): the schedule's zone applies, so a
09:00 handoff stays at 09:00 across daylight-saving changes. Wherever the policy names a
contact (escalation steps), ``schedule:<name>`` names whoever is on call when the page goes out.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from policy.model import (
    SCHEDULE_PREFIX,
    WEEKDAYS,
    Restriction,
    Schedule,
    ScheduleLayer,
    ScheduleOverride,
)
from policy.reader import Node

MIN_ROTATION = timedelta(hours=1)
_LOCAL_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T([01]\d|2[0-3]):[0-5]\d$")
_CLOCK = re.compile(r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$")


def read_schedules(node: Node, contacts: dict) -> dict[str, Schedule]:
    """Every schedule under ``schedules`` (none when the section is absent)."""
    if node.value is None:
        return {}
    if not isinstance(node.value, dict) or not node.value:
        raise node.error("must be a mapping with at least one schedule")
    return {name: _read_schedule(name, child, contacts) for name, child in node.items()}


def _read_schedule(name: str, node: Node, contacts: dict) -> Schedule:
    node.mapping(("timezone", "layers"), ("overrides",))
    layers = node.child("layers").list_of(lambda item: _read_layer(item, contacts))
    if not layers:
        raise node.child("layers").error("must hold at least one layer")
    seen: set[str] = set()
    for index, layer in enumerate(layers):
        if layer.name in seen:
            raise node.child("layers").error(f"names layer {layer.name!r} twice "
                                             f"(the second is layers[{index}])")
        seen.add(layer.name)
    overrides_node = node.child("overrides")
    overrides = () if overrides_node.value is None else overrides_node.list_of(
        lambda item: _read_override(item, contacts))
    return Schedule(name, read_timezone(node.child("timezone")), layers, overrides)


def _read_layer(node: Node, contacts: dict) -> ScheduleLayer:
    node.mapping(("name", "start", "rotate_every", "participants"), ("restrictions",))
    every_node = node.child("rotate_every")
    every = timedelta(seconds=every_node.duration())
    if every < MIN_ROTATION:
        raise every_node.error(f"must be at least 1h, got {every_node.value}")
    participants = tuple(_contact_key(item, contacts)
                         for item in node.child("participants").each())
    if not participants:
        raise node.child("participants").error("must name at least one contact")
    restrictions_node = node.child("restrictions")
    restrictions = () if restrictions_node.value is None else restrictions_node.list_of(
        _read_restriction)
    return ScheduleLayer(node.child("name").string(), local_time(node.child("start")), every,
                         participants, restrictions)


def _read_restriction(node: Node) -> Restriction:
    node.mapping(("days", "from", "to"))
    days = tuple(WEEKDAYS.index(item.choice(WEEKDAYS, "day"))
                 for item in node.child("days").each())
    if not days:
        raise node.child("days").error("must name at least one day")
    start, end = (_clock_minute(node.child(key)) for key in ("from", "to"))
    if start == 24 * 60:
        raise node.child("from").error("must be a time of day 00:00..23:59, got '24:00'")
    return Restriction(tuple(sorted(set(days))), start, end)


def _read_override(node: Node, contacts: dict) -> ScheduleOverride:
    node.mapping(("contact", "from", "to"))
    start, end = local_time(node.child("from")), local_time(node.child("to"))
    if end <= start:
        raise node.child("to").error(f"must be after from ({start:%Y-%m-%dT%H:%M})")
    return ScheduleOverride(_contact_key(node.child("contact"), contacts), start, end)


def _contact_key(node: Node, contacts: dict) -> str:
    key = node.string()
    if key.startswith(SCHEDULE_PREFIX):
        raise node.error(f"must name a contact, not a schedule ({key!r}): a schedule's "
                         "participants are people")
    return node.choice(sorted(contacts), "contact")


def local_time(node: Node) -> datetime:
    """A local wall-clock time ``YYYY-MM-DDTHH:MM``, with no offset (the schedule's zone
    applies). YAML reads ``2026-11-30T09:00:00`` as a timestamp: accepted when it is naive."""
    value = node.value
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            raise node.error("must be a local time without an offset; the schedule's "
                             "timezone applies")
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    text = node.string()
    if not _LOCAL_TIME.match(text):
        raise node.error(f"must be a local time YYYY-MM-DDTHH:MM, got {text!r}")
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M")
    except ValueError:
        raise node.error(f"is not a calendar date and time: {text!r}") from None


def _clock_minute(node: Node) -> int:
    text = node.string()
    if not _CLOCK.match(text):
        raise node.error(f"must be a time of day HH:MM (00:00..24:00), got {text!r}")
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def contact_reference(node: Node, contacts: dict, schedules: dict) -> str:
    """A contact key, or ``schedule:<name>`` naming a schedule of the policy."""
    text = node.string()
    if text.startswith(SCHEDULE_PREFIX):
        name = text[len(SCHEDULE_PREFIX):]
        if name not in schedules:
            known = ", ".join(sorted(schedules)) or "none is defined under schedules"
            raise node.error(f"names unknown schedule {name!r}; expected one of {known}")
        return text
    return node.choice(sorted(contacts), "contact")


def read_timezone(node: Node) -> str:
    """An IANA time zone name (``Europe/Berlin``) that this machine knows."""
    name = node.string()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise node.error(f"unknown timezone {name!r}") from None
    return name

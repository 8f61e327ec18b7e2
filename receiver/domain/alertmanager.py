"""Strict parsing of Alertmanager's webhook payload (version "4"); unknown fields ignored.

``parse_payload(data)`` returns an ``AlertGroup`` or raises ``PayloadError`` whose ``field``
names the offending field (``alerts[2].labels``) and whose message says what is wrong; the
HTTP layer turns it into a 400. ``delivery_key`` is the idempotency key: the same group in the
same state (retries, both Alertmanagers of an HA pair) gives the same key.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

SUPPORTED_VERSION = "4"
# said with every refusal a custom webhook body template would cause
DEFAULT_PAYLOAD_ONLY = (f"callwatch takes Alertmanager's default webhook payload (version "
                        f"\"{SUPPORTED_VERSION}\"), not a custom body template")
STATUSES = ("firing", "resolved")
_FRACTION = re.compile(r"(\.\d{6})\d+")


class PayloadError(ValueError):
    """A payload problem: ``field`` is the JSON path, ``str()`` the message (no secrets)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


@dataclass(frozen=True)
class Alert:
    status: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: str
    ends_at: str
    fingerprint: str
    generator_url: str = ""
    group: str = ""          # the Alertmanager groupKey it arrived in (see AlertGroup)

    @property
    def firing(self) -> bool:
        return self.status == "firing"

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "labels": dict(self.labels),
                "annotations": dict(self.annotations), "startsAt": self.starts_at,
                "endsAt": self.ends_at, "fingerprint": self.fingerprint,
                "generatorURL": self.generator_url, "group": self.group}


@dataclass(frozen=True)
class AlertGroup:
    version: str
    group_key: str
    status: str
    receiver: str
    alerts: tuple[Alert, ...]
    group_labels: Mapping[str, str]
    common_labels: Mapping[str, str]
    common_annotations: Mapping[str, str]
    external_url: str = ""
    truncated_alerts: int = 0

    @property
    def firing_alerts(self) -> tuple[Alert, ...]:
        return tuple(a for a in self.alerts if a.firing)

    @property
    def incident_key(self) -> str:
        """The group key without its route: ``{}/{priority="P1"}:{alertname="X"}`` ->
        ``{alertname="X"}``. Alertmanager groups per route, and callwatch routes by priority,
        so an alert's warning (P3) and critical (P1) arrive in two groups: both are one incident.
        """
        route_end = self.group_key.find("}:{")
        return self.group_key[route_end + 2:] if route_end >= 0 else self.group_key


def parse_payload(data: Any) -> AlertGroup:
    """The group in ``data`` (decoded JSON); PayloadError naming the first bad field."""
    if not isinstance(data, dict):
        raise PayloadError("$", f"the payload must be a JSON object; {DEFAULT_PAYLOAD_ONLY}")
    version = _version(data)
    status = _status(data, "status", "status")
    alerts_raw = _required(data, "alerts", list)
    if not alerts_raw:
        raise PayloadError("alerts", "must hold at least one alert")
    truncated = data.get("truncatedAlerts", 0)
    if not isinstance(truncated, int) or isinstance(truncated, bool) or truncated < 0:
        raise PayloadError("truncatedAlerts", "must be a non-negative integer")
    group_key = _nonempty(data, "groupKey")
    return AlertGroup(
        version=version,
        group_key=group_key,
        status=status,
        receiver=_required(data, "receiver", str),
        alerts=tuple(_alert(item, f"alerts[{i}]", group_key) for i, item in enumerate(alerts_raw)),
        group_labels=_labels(data.get("groupLabels", {}), "groupLabels"),
        common_labels=_labels(data.get("commonLabels", {}), "commonLabels"),
        common_annotations=_labels(data.get("commonAnnotations", {}), "commonAnnotations"),
        external_url=_optional_str(data, "externalURL", "externalURL"),
        truncated_alerts=truncated,
    )


def _version(data: dict) -> str:
    """``data["version"]``, which must be "4"; else a PayloadError saying why and what callwatch
    takes (a custom body template drops or changes it)."""
    version = data.get("version")
    if version is None:
        raise PayloadError("version", f"required field missing; {DEFAULT_PAYLOAD_ONLY}")
    if version != SUPPORTED_VERSION:
        shown = repr(version[:20]) if isinstance(version, str) else "that is not a string"
        raise PayloadError("version", f"unsupported payload version {shown}; "
                                      f"{DEFAULT_PAYLOAD_ONLY}")
    return version


def _alert(item: Any, path: str, group: str = "") -> Alert:
    if not isinstance(item, dict):
        raise PayloadError(path, "each alert must be a JSON object")
    return Alert(
        status=_status(item, "status", f"{path}.status"),
        labels=_labels(_required(item, "labels", dict, path), f"{path}.labels"),
        annotations=_labels(_required(item, "annotations", dict, path), f"{path}.annotations"),
        starts_at=_timestamp(item, "startsAt", path),
        ends_at=_timestamp(item, "endsAt", path),
        fingerprint=_nonempty(item, "fingerprint", path),
        generator_url=_optional_str(item, "generatorURL", f"{path}.generatorURL"),
        group=group,
    )


def stored_alert(item: dict[str, Any]) -> Alert:
    """An alert as ``Alert.as_dict`` stored it (with the group it arrived in)."""
    return _alert(item, "stored alert", str(item.get("group", "")))


def _required(data: dict, key: str, kind: type, parent: str = "") -> Any:
    path = f"{parent}.{key}" if parent else key
    if key not in data or data[key] is None:
        raise PayloadError(path, "required field missing")
    value = data[key]
    if not isinstance(value, kind):
        raise PayloadError(path, f"must be a {_TYPE_NAMES[kind]}")
    return value


_TYPE_NAMES = {str: "string", list: "list", dict: "JSON object"}


def _nonempty(data: dict, key: str, parent: str = "") -> str:
    value = _required(data, key, str, parent)
    if not value:
        raise PayloadError(f"{parent}.{key}" if parent else key, "must not be empty")
    return value


def _optional_str(data: dict, key: str, path: str) -> str:
    value = data.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise PayloadError(path, "must be a string")
    return value


def _status(data: dict, key: str, path: str) -> str:
    value = _required(data, key, str, path.rpartition(".")[0])
    if value not in STATUSES:
        raise PayloadError(path, f"must be one of {', '.join(STATUSES)}")
    return value


def _labels(value: Any, path: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise PayloadError(path, "must be a JSON object of strings")
    for key, item in value.items():
        if not isinstance(item, str):
            raise PayloadError(f"{path}.{key}", "must be a string")
    return dict(value)


def _timestamp(data: dict, key: str, parent: str) -> str:
    value = _required(data, key, str, parent)
    try:
        parse_time(value)
    except ValueError:
        raise PayloadError(f"{parent}.{key}", "must be an RFC 3339 timestamp") from None
    return value


@lru_cache(maxsize=4096)  # a group's alerts share times, and every re-delivery repeats them
def parse_time(text: str) -> float:
    """RFC 3339 (Go's nanoseconds allowed) as Unix seconds; ValueError when not a timestamp."""
    normalized = _FRACTION.sub(r"\1", text.strip()).replace("Z", "+00:00").replace("z", "+00:00")
    moment = datetime.fromisoformat(normalized)
    if moment.tzinfo is None:
        raise ValueError("timestamp without a timezone")
    return moment.timestamp() if moment.year > 1 else 0.0


def delivery_key(group: AlertGroup) -> str:
    """The idempotency key: group key, status and each alert's fingerprint, times and status.

    A firing alert's ``endsAt`` is a placeholder (zero, or a moving "resolve timeout" time in
    some versions), so it counts only once the alert is resolved.
    """
    parts = [group.group_key, group.status]
    for alert in sorted(group.alerts, key=lambda a: (a.fingerprint, a.starts_at)):
        ends_at = alert.ends_at if alert.status == "resolved" else ""
        parts.append(f"{alert.fingerprint}|{alert.starts_at}|{ends_at}|{alert.status}")
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()

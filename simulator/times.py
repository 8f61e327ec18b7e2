"""Timestamp formats the providers use, and parsing of the ones their filters take."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime


def rfc2822(ts: float | None) -> str | None:
    """Twilio's REST API format: ``Fri, 27 Nov 2026 03:00:00 +0000``."""
    if ts is None:
        return None
    return time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(ts))


def iso_z(ts: float | None) -> str | None:
    """``2026-11-27T03:00:00Z`` (Twilio v1 APIs)."""
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def iso_micro(ts: float | None) -> str | None:
    """``2026-11-27T03:00:00.521992Z`` (Telnyx)."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_RELATIVE = re.compile(r"^(\d+)([mhdw])$")
_UNIT = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_when(text: str, now: float | None = None) -> tuple[float, bool]:
    """Parse a filter value to (epoch seconds, is_date_only).

    Accepts ``YYYY-MM-DD``, ``YYYY-MM-DDThh:mm:ss[.f]Z`` / ``+00:00``, and (with ``now``) the
    relative ``30m``/``4h``/``3d``/``1w`` Voice Insights takes. Raises ValueError otherwise.
    """
    text = text.strip()
    match = _RELATIVE.match(text)
    if match and now is not None:
        return now - int(match.group(1)) * _UNIT[match.group(2)], False
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
        return day.timestamp(), True
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp(), False

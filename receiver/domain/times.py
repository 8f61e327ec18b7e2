"""Time helpers: RFC 3339 text of a Unix time, and a digest channel's next ``send_at``."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Mapping
from zoneinfo import ZoneInfo


def next_send_time(settings: Mapping[str, object], now: float) -> float:
    """The first ``send_at`` wall-clock time in ``timezone`` strictly after ``now`` (Unix s).

    Defaults: 09:00 UTC. DST gaps resolve the way ``zoneinfo`` does (the wall time is shifted).
    """
    zone = ZoneInfo(str(settings.get("timezone") or "UTC"))
    hour, _, minute = str(settings.get("send_at") or "09:00").partition(":")
    local = datetime.fromtimestamp(now, zone)
    candidate = local.replace(hour=int(hour), minute=int(minute or 0), second=0, microsecond=0)
    if candidate.timestamp() <= now:
        candidate = (candidate + timedelta(days=1)).replace(hour=int(hour), minute=int(minute or 0))
    return candidate.timestamp()


def iso(ts: float | None) -> str | None:
    """Unix seconds as RFC 3339 UTC with milliseconds ("2026-11-27T03:00:00.123Z"); None stays."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds") \
        .replace("+00:00", "Z")

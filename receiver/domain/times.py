"""When a digest channel sends: the next ``send_at`` (HH:MM) in its ``timezone``."""

from __future__ import annotations

from datetime import datetime, timedelta
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

"""The daily digest channel: P3 notifications collected by the receiver, sent as ONE email a day.

Contract with the receiver core: the core keeps P3 notifications for a ``digest`` channel in the
store, and at ``next_digest_time(...)`` hands this notifier ONE ``Notification`` of kind
``"digest"`` whose ``text``/``html`` already list them all (``summary`` e.g. "4 P3 notifications").
It is sent with the email notifier's code to the digest channel's ``to``. Any other kind is
refused (config, not retried): sending a single P3 at once would defeat the digest.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from receiver.notify.base import Delivery, Notification, NotifyError
from receiver.notify.email import EmailNotifier, SmtpSettings


class DigestNotifier:
    """Sends a ``digest`` notification by email to ``to`` over ``smtp`` at ``send_at`` in ``timezone``."""

    channel_type = "digest"

    def __init__(self, smtp: SmtpSettings, to: tuple[str, ...], send_at: str, timezone: str) -> None:
        parse_send_at(send_at)
        zone(timezone)
        self.send_at, self.timezone = send_at, timezone
        self._email = EmailNotifier(replace(smtp, to=tuple(to)), subject_prefix="[callwatch digest] ")

    def next_send(self, now: dt.datetime) -> dt.datetime:
        """When the next digest is due after ``now`` (see ``next_digest_time``)."""
        return next_digest_time(now, self.send_at, self.timezone)

    async def send(self, notification: Notification) -> Delivery:
        if notification.kind != "digest":
            raise NotifyError("config", f"the digest channel only sends kind 'digest', "
                              f"not {notification.kind!r}", retryable=False)
        # The digest goes to the channel's list, whatever recipients the row carries.
        return await self._email.send(replace(notification, recipients=()))

    async def close(self) -> None:
        await self._email.close()


def next_digest_time(now: dt.datetime, send_at: str, timezone: str) -> dt.datetime:
    """The first moment strictly after ``now`` whose wall clock in ``timezone`` reads ``send_at``.

    ``now`` must be timezone-aware; the result is aware, in UTC (a local datetime inside an
    autumn repeat compares unequal to every other zone's datetimes, PEP 495). A ``send_at`` that does
    not exist on a day (inside a spring-forward gap) fires at the same instant the clock would
    have shown it (e.g. 02:30 in a 02:00→03:00 gap is 03:30 local); in an autumn repeat it fires
    at the first occurrence only. Raises ValueError on a naive ``now``, a bad time or zone.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    hour, minute = parse_send_at(send_at)
    tz = zone(timezone)
    local_day = now.astimezone(tz).date()
    for offset in range(0, 3):
        day = local_day + dt.timedelta(days=offset)
        wall = dt.datetime.combine(day, dt.time(hour, minute), tzinfo=tz)
        # In UTC: normalises wall times in a DST gap, and compares safely.
        candidate = wall.astimezone(dt.timezone.utc)
        if candidate > now:
            return candidate
    raise AssertionError("unreachable: a send time exists within three days")


def parse_send_at(send_at: str) -> tuple[int, int]:
    """"HH:MM" → (hour, minute); ValueError otherwise."""
    try:
        hour_text, minute_text = send_at.split(":")
        hour, minute = int(hour_text), int(minute_text)
    except ValueError:
        raise ValueError(f"send_at must be HH:MM, got {send_at!r}") from None
    if not (0 <= hour < 24 and 0 <= minute < 60 and len(hour_text) == 2 and len(minute_text) == 2):
        raise ValueError(f"send_at must be HH:MM, got {send_at!r}")
    return hour, minute


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {name!r}") from None

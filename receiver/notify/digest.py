"""The daily digest channel: P3 notifications collected by the receiver, sent as ONE email a day.

Contract with the receiver core: the core keeps P3 notifications for a ``digest`` channel in the
store, and at the channel's next ``send_at`` (``receiver.domain.times.next_local_time``) hands
this notifier ONE ``Notification`` of kind ``"digest"`` whose ``text``/``html`` already list
them all (``summary`` e.g. "4 P3 notifications"). It is sent with the email notifier's code to
the digest channel's ``to``. Any other kind is refused (config, not retried): sending a single
P3 at once would defeat the digest.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from receiver.domain.times import parse_send_at, zone
from receiver.notify.base import Delivery, Notification, NotifyError
from receiver.notify.email import EmailNotifier, SmtpSettings


@dataclass(frozen=True)
class DigestSettings:
    """Sent by email to ``to`` over ``smtp`` (an email channel's) at ``send_at`` in ``timezone``."""

    smtp: SmtpSettings
    to: tuple[str, ...]
    send_at: str = "09:00"
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        parse_send_at(self.send_at)   # ValueError naming the bad value
        zone(self.timezone)


class DigestNotifier:
    """Sends a ``digest`` notification as one email."""

    channel_type = "digest"

    def __init__(self, settings: DigestSettings) -> None:
        self.settings = settings
        self._email = EmailNotifier(replace(settings.smtp, to=tuple(settings.to)),
                                    subject_prefix="[callwatch digest] ")

    async def send(self, notification: Notification) -> Delivery:
        if notification.kind != "digest":
            raise NotifyError("config", f"the digest channel only sends kind 'digest', "
                              f"not {notification.kind!r}", retryable=False)
        # The digest goes to the channel's list, whatever recipients the row carries.
        return await self._email.send(replace(notification, recipients=()))

    async def close(self) -> None:
        await self._email.close()

"""Twilio polling mode: completed calls wait for their Voice Insights summary before counting.

The Call resource has no SIP code, so a ``completed`` call polled from it
cannot be told from a dropped one. In polling mode (Twilio's source of truth for outcomes) the
calls poller therefore parks completed calls here; the Insights poller resolves each with its
summary's ``properties.last_sip_response_num`` (not 2xx → dropped, via ``exporter.outcomes``).
A call whose summary has not come within ``deadline`` seconds (Insights off, or later than its
documented 30 min) is counted completed. Bounded: past ``capacity`` the oldest is counted
completed at once. Every call is ingested exactly once, by whichever path comes first.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from exporter.calls import ENDED, CallEvent, CallTracker

DEADLINE_SECONDS = 40 * 60


class PendingCompleted:
    def __init__(self, tracker: CallTracker, clock: Callable[[], float],
                 deadline: float = DEADLINE_SECONDS, capacity: int = 20_000) -> None:
        self.tracker, self.clock = tracker, clock
        self.deadline, self.capacity = deadline, capacity
        self.items: OrderedDict[str, tuple[float, str]] = OrderedDict()   # sid -> (since, dir)

    def __len__(self) -> int:
        return len(self.items)

    def add(self, sid: str, direction: str) -> None:
        """Park a completed call (unless already counted or parked)."""
        if sid in self.items or ("twilio", sid, ENDED) in self.tracker.seen:
            return
        self.items[sid] = (self.clock(), direction)
        while len(self.items) > self.capacity:
            old_sid, (_, old_direction) = self.items.popitem(last=False)
            self._count(old_sid, old_direction, None)

    def resolve(self, sid: str, last_sip_response: object) -> bool:
        """Count a parked call with its Insights SIP code; False when it was not parked."""
        item = self.items.pop(sid, None)
        if item is None:
            return False
        self._count(sid, item[1], last_sip_response)
        return True

    def expire(self) -> int:
        """Count as completed every call parked longer than ``deadline``; how many."""
        cutoff, expired = self.clock() - self.deadline, 0
        while self.items:
            sid, (since, direction) = next(iter(self.items.items()))
            if since > cutoff:
                break
            self.items.popitem(last=False)
            self._count(sid, direction, None)
            expired += 1
        return expired

    def _count(self, sid: str, direction: str, sip: object) -> None:
        text = None if sip is None else str(sip)
        self.tracker.ingest(CallEvent("twilio", sid, ENDED, direction, cause="completed", sip=text))

"""The ingestion core: call events in, metrics and ops state out, with bounded memory.

Webhooks and pollers turn what a provider says into :class:`CallEvent` and hand it to
:meth:`CallTracker.ingest`. The tracker

- counts each (provider, call id, state) once: duplicates and retries are dropped by a bounded
  FIFO of fingerprints (``dedup_capacity`` entries, 64-bit hashes, no strings kept);
- ignores out-of-order events: a state older (by ``SequenceNumber``) than the last one seen for
  the call, and anything arriving for a call that already ended;
- keeps live calls (for ``telephony_calls_active`` and the ops endpoints) in a bounded map that
  also forgets calls older than ``max_call_age`` (a lost hang-up must not leave a call active);
- keeps per-provider minute buckets of outcomes over ``window`` seconds, recent MOS values and the
  last few failed call ids (for ``/telephony/providers/{provider}/health``).

Call ids only ever live in this in-memory state and the ops JSON, never in metric labels.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from exporter import outcomes
from exporter.metrics import PROVIDERS, ExporterMetrics
from policy.catalog import OUTCOMES

ENDED = "ended"
LIVE_STATES = ("initiated", "ringing", "answered")
_RANK = {"initiated": 0, "ringing": 1, "answered": 2, ENDED: 3}


@dataclass(frozen=True, slots=True)
class CallEvent:
    """One provider statement about one call. ``state`` is initiated|ringing|answered|ended.

    For ended calls ``cause`` is Twilio's CallStatus or Telnyx's hangup_cause, ``sip`` the SIP
    code, ``abnormal`` Insights' abnormal-session flag, ``has_quality`` whether media stats came.
    """

    provider: str
    call_id: str
    state: str
    direction: str = "unknown"
    sequence: int | None = None
    cause: str | None = None
    sip: str | None = None
    abnormal: bool = False
    has_quality: bool = False
    mos: float | None = None


@dataclass(slots=True)
class LiveCall:
    provider: str
    call_id: str
    state: str
    direction: str
    started: float
    sequence: int = -1
    answered: bool | None = None


@dataclass
class ProviderWindow:
    """Outcome counts in minute buckets, recent MOS values and recent failed call ids."""

    buckets: OrderedDict = field(default_factory=OrderedDict)   # minute -> {outcome: n}
    mos: deque = field(default_factory=lambda: deque(maxlen=2000))  # (at, mos)
    failed: deque = field(default_factory=lambda: deque(maxlen=10))  # (at, call id, outcome)


class Deduplicator:
    """A bounded set of recently seen keys (FIFO eviction), storing only 64-bit hashes."""

    def __init__(self, capacity: int) -> None:
        self.capacity = max(1, capacity)
        self._order: deque[int] = deque()
        self._set: set[int] = set()

    def __len__(self) -> int:
        return len(self._set)

    def __contains__(self, key: tuple) -> bool:
        return hash(key) in self._set

    def add(self, key: tuple) -> bool:
        """Remember ``key``; False when it was already there (a duplicate)."""
        digest = hash(key)
        if digest in self._set:
            return False
        self._set.add(digest)
        self._order.append(digest)
        if len(self._order) > self.capacity:
            self._set.discard(self._order.popleft())
        return True


class CallTracker:
    """See the module docstring. ``clock`` returns Unix seconds."""

    def __init__(self, metrics: ExporterMetrics, *, dedup_capacity: int = 100_000,
                 max_live_calls: int = 50_000, max_call_age: float = 6 * 3600,
                 window: float = 300.0, clock: Callable[[], float] = time.time) -> None:
        self.metrics = metrics
        self.clock = clock
        self.window = window
        self.max_live_calls = max_live_calls
        self.max_call_age = max_call_age
        self.seen = Deduplicator(dedup_capacity)
        self.live: OrderedDict[tuple[str, str], LiveCall] = OrderedDict()
        self.windows = {provider: ProviderWindow() for provider in PROVIDERS}
        self.duplicates = 0
        self.out_of_order = 0
        self._active = dict.fromkeys(PROVIDERS, 0)
        self._ended_children: dict[tuple[str, str, str], object] = {}   # labels() is slow
        self._active_children: dict[str, object] = {}

    # -- ingestion ----------------------------------------------------------------------
    def ingest(self, event: CallEvent) -> str:
        """Apply ``event``: ``"accepted"``, ``"duplicate"`` or ``"out_of_order"`` (ignored)."""
        key = (event.provider, event.call_id)
        if (event.provider, event.call_id, ENDED) in self.seen:
            if event.state == ENDED:
                self.duplicates += 1
                return "duplicate"
            self.out_of_order += 1
            return "out_of_order"
        if not self.seen.add((event.provider, event.call_id, event.state)):
            self.duplicates += 1
            return "duplicate"
        call = self.live.get(key)
        if event.state == ENDED:
            self._end(event, call)
            return "accepted"
        return self._advance(event, call)

    def _advance(self, event: CallEvent, call: LiveCall | None) -> str:
        if call is None:
            call = LiveCall(event.provider, event.call_id, event.state, event.direction,
                            self.clock())
            self._add_live(call)
        elif _older(event, call):
            self.out_of_order += 1
            return "out_of_order"
        call.state = event.state
        call.sequence = event.sequence if event.sequence is not None else call.sequence
        if event.direction != "unknown":
            call.direction = event.direction
        if event.state == "answered":
            call.answered = True
        return "accepted"

    def _end(self, event: CallEvent, call: LiveCall | None) -> str:
        answered = call.answered if call is not None else None
        direction = event.direction
        if call is not None:
            self._remove_live((event.provider, event.call_id))
            if direction == "unknown":
                direction = call.direction
        outcome = self._classify(event, answered)
        key = (event.provider, direction, outcome)
        child = self._ended_children.get(key)
        if child is None:
            child = self._ended_children[key] = self.metrics.calls_ended.labels(*key)
        child.inc()
        now = self.clock()
        window = self.windows.setdefault(event.provider, ProviderWindow())
        counts = _bucket(window.buckets, int(now // 60), self.window)
        counts[outcome] = counts.get(outcome, 0) + 1
        if outcome in ("failed", "dropped"):
            window.failed.append((now, event.call_id, outcome))
        if event.mos is not None:
            self.metrics.call_mos.labels(event.provider).observe(event.mos)
            self.record_mos(event.provider, event.mos)
        return outcome

    def record_mos(self, provider: str, mos: float) -> None:
        """Remember a MOS for the quality endpoint (the histogram is observed by the caller)."""
        self.windows.setdefault(provider, ProviderWindow()).mos.append((self.clock(), mos))

    @staticmethod
    def _classify(event: CallEvent, answered: bool | None) -> str:
        if event.provider == "twilio":
            outcome = outcomes.twilio_outcome(event.cause, event.sip, event.abnormal)
            return outcome or outcomes.FAILED
        return outcomes.telnyx_outcome(event.cause, event.sip, answered, event.has_quality)

    # -- live calls ---------------------------------------------------------------------
    def _add_live(self, call: LiveCall) -> None:
        self.live[(call.provider, call.call_id)] = call
        self._set_active(call.provider, 1)
        while len(self.live) > self.max_live_calls:
            self._remove_live(next(iter(self.live)))

    def _remove_live(self, key: tuple[str, str]) -> None:
        call = self.live.pop(key, None)
        if call is not None:
            self._set_active(call.provider, -1)

    def _set_active(self, provider: str, delta: int) -> None:
        self._active[provider] = count = self._active.get(provider, 0) + delta
        gauge = self._active_children.get(provider)
        if gauge is None:
            gauge = self._active_children[provider] = self.metrics.calls_active.labels(provider)
        gauge.set(count)

    def sweep(self) -> int:
        """Forget live calls older than ``max_call_age``; returns how many were dropped."""
        cutoff = self.clock() - self.max_call_age
        stale = [key for key, call in self.live.items() if call.started < cutoff]
        for key in stale:
            self._remove_live(key)
        return len(stale)

    def active_calls(self, provider: str | None = None) -> Iterator[LiveCall]:
        return (c for c in self.live.values() if provider is None or c.provider == provider)

    def active_count(self, provider: str) -> int:
        return self._active.get(provider, 0)

    # -- windows ------------------------------------------------------------------------
    def outcome_counts(self, provider: str) -> dict[str, int]:
        """Outcomes of calls that ended within the window, for ``provider``."""
        window = self.windows.get(provider, ProviderWindow())
        oldest = int((self.clock() - self.window) // 60)
        totals: dict[str, int] = dict.fromkeys(OUTCOMES, 0)
        for minute, counts in window.buckets.items():
            if minute >= oldest:
                for outcome, n in counts.items():
                    totals[outcome] = totals.get(outcome, 0) + n
        return totals

    def recent_mos(self, provider: str) -> list[float]:
        cutoff = self.clock() - self.window
        return [mos for at, mos in self.windows.get(provider, ProviderWindow()).mos if at >= cutoff]

    def recent_failures(self, provider: str) -> list[tuple[float, str, str]]:
        return list(self.windows.get(provider, ProviderWindow()).failed)


def _older(event: CallEvent, call: LiveCall) -> bool:
    """Whether ``event`` is older than the call's current state (by sequence, else by rank)."""
    if event.sequence is not None and call.sequence >= 0:
        return event.sequence <= call.sequence
    return _RANK.get(event.state, 0) < _RANK.get(call.state, 0)


def _bucket(buckets: OrderedDict, minute: int, window: float) -> dict:
    """The counts of ``minute``, dropping buckets that fell out of the window."""
    counts = buckets.get(minute)
    if counts is None:
        counts = buckets[minute] = {}
        oldest = minute - int(window // 60) - 1
        while buckets and next(iter(buckets)) < oldest:
            buckets.popitem(last=False)
    return counts

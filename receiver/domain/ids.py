"""Identifiers for incidents, outbox rows and timers: 24 hex characters, time-ordered.

The first 12 hex digits are the creation time in milliseconds, the last 12 are 48 random bits
(like UUIDv7): new ids land at the right-hand end of the store's B-tree indexes instead of on
a random page each, so a commit group dirties a few pages rather than one per id. Only ids
made in the same millisecond can collide: for 1,000 of them the odds are about 2 in 10^9.

``uuid.uuid4`` reads ``os.urandom`` on every call, which costs ~80 µs on some virtual machines;
a Mersenne Twister seeded once from the OS is plenty for ids that are unique, not secret.
"""

from __future__ import annotations

import random
import secrets
import time

_random = random.Random()  # seeded from os.urandom once, at import


def new_id() -> str:
    return f"{time.time_ns() // 1_000_000 & 0xFFFF_FFFF_FFFF:012x}{_random.getrandbits(48):012x}"


def new_token() -> str:
    """A page reference: 128 random bits from the OS, URL-safe (a callback carries it back)."""
    return secrets.token_urlsafe(16)

"""Prometheus durations (``90s``, ``5m``, ``1h30m``, ``1y``) as seconds, and back.

The syntax is Prometheus's own (``model.ParseDuration``, used for every duration in its rule
files and Alertmanager's config): whole numbers, each followed by one of the units
``y w d h m s ms`` (a year is 365 days, a week 7 days, a day 24 hours), the units from largest to
smallest and each at most once, and ``0`` alone; at most 2^63-1 nanoseconds (about 292 years).
So ``1h30m`` and ``90m`` are durations; ``1.5h``, ``5m1h``, ``1h1h``, ``5``, ``1 h`` and ``-5m``
are not. tests/test_parsers_agree.py compares it with promtool on a table of cases.
"""

from __future__ import annotations

import re

# unit -> nanoseconds, largest first: the order the units must appear in.
_UNITS = {
    "y": 365 * 86_400 * 10**9, "w": 7 * 86_400 * 10**9, "d": 86_400 * 10**9,
    "h": 3_600 * 10**9, "m": 60 * 10**9, "s": 10**9, "ms": 10**6,
}
_ORDER = {unit: position for position, unit in enumerate(_UNITS)}
# A number, then everything up to the next digit: the unit (as Prometheus reads it, so "5mx" has
# the unknown unit "mx" rather than a stray "x").
_PART = re.compile(r"([0-9]+)([^0-9]*)")
MAX_NANOSECONDS = 2**63 - 1
_EXPECTED = "expected e.g. 30s, 5m, 1h30m"
_FRACTION = "whole numbers only, e.g. 1h30m rather than 1.5h"


def parse_duration(text: str) -> float:
    """Seconds in ``text``, a Prometheus duration; ValueError (``not a duration: ...``, naming
    the text and what is wrong) when Prometheus would reject it."""
    if not isinstance(text, str) or not text:
        raise ValueError(_bad(text, _EXPECTED))
    if text == "0":
        return 0.0
    pos, total, last = 0, 0, -1
    for match in _PART.finditer(text):
        number, unit = match.groups()
        if match.start() != pos or unit not in _UNITS:
            raise ValueError(_bad(text, _FRACTION if unit.startswith(".") else _EXPECTED))
        if _ORDER[unit] <= last:
            raise ValueError(_bad(text, "units go from largest to smallest (y w d h m s ms), "
                                        "each at most once, e.g. 1h30m"))
        last, pos = _ORDER[unit], match.end()
        total += int(number) * _UNITS[unit]
    if pos != len(text):
        raise ValueError(_bad(text, _EXPECTED))
    if total > MAX_NANOSECONDS:
        raise ValueError(_bad(text, "longer than Prometheus's limit of about 292 years"))
    return total / 10**9


def _bad(text: str, problem: str) -> str:
    return f"not a duration: {text!r} ({problem})"


def format_duration(seconds: float) -> str:
    """The shortest duration for ``seconds`` in hours, minutes, seconds and whole milliseconds
    (rounded), ``0s`` for none or less; Prometheus accepts every result up to its limit of
    about 292 years, and ``parse_duration`` reads it back.

    ``format_duration(300) == "5m"``, ``format_duration(5400) == "1h30m"``,
    ``format_duration(2.5) == "2s500ms"``, ``format_duration(86400) == "24h"`` (hours are the
    largest unit written: ``24h`` reads more plainly than ``1d`` in rules and messages).
    """
    millis = round(seconds * 1000)
    if millis <= 0:
        return "0s"
    parts = []
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        count, millis = divmod(millis, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)

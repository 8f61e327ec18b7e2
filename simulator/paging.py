"""Paging the way each provider pages, over an already filtered, newest-first list."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


class BadQuery(ValueError):
    """A query parameter the provider would reject; the message names it."""


def int_param(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter within ``low..high``; BadQuery naming it otherwise."""
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadQuery(f"{name} must be an integer, got {raw[:40]!r}") from None
    if not low <= value <= high:
        raise BadQuery(f"{name} must be between {low} and {high}, got {value}")
    return value


@dataclass(frozen=True)
class TwilioPage:
    """One Twilio page: its items, its number and size, and the token for the next one."""

    items: list
    page: int
    page_size: int
    next_token: str | None
    start: int


def twilio_page(items: Sequence[T], query: Mapping[str, str], key_of: Callable[[T], str],
                default_size: int = 50) -> TwilioPage:
    """Slice ``items`` by ``PageSize``, ``Page`` and ``PageToken`` (``PA<id of last item>``).

    The token names the last item of the previous page, so calls arriving between two page
    fetches do not shift the next page (Twilio's tokens behave the same way).
    """
    size = int_param(query, "PageSize", default_size, 1, 1000)
    page = int_param(query, "Page", 0, 0, 1_000_000)
    token = query.get("PageToken") or ""
    offset = page * size
    if token:
        if not token.startswith("PA"):
            raise BadQuery(f"PageToken is not a page token: {token[:40]!r}")
        keys = [key_of(item) for item in items]
        last = token[2:]
        offset = keys.index(last) + 1 if last in keys else len(items)
    chunk = list(items[offset: offset + size])
    more = offset + size < len(items)
    next_token = "PA" + key_of(chunk[-1]) if more and chunk else None
    return TwilioPage(chunk, page, size, next_token, offset)


@dataclass(frozen=True)
class TelnyxPage:
    items: list
    meta: dict


def telnyx_page(items: Sequence[T], query: Mapping[str, str], default_size: int = 20) -> TelnyxPage:
    """Slice by ``page[number]``/``page[size]`` (or ``page_number``/``page_size``).

    ``meta`` has ``page_number``, ``page_size``, ``total_pages``, ``total_results``, which the
    SDK's auto-pagination reads.
    """
    number = int_param(query, "page[number]" if "page[number]" in query else "page_number",
                       1, 1, 1_000_000)
    size = int_param(query, "page[size]" if "page[size]" in query else "page_size",
                     default_size, 1, 250)
    total = len(items)
    pages = max(1, -(-total // size))
    chunk = list(items[(number - 1) * size: number * size])
    return TelnyxPage(chunk, {"page_number": number, "page_size": size, "total_pages": pages,
                              "total_results": total})

"""Strict reading of a JSON object's fields for the pure input readers (``followup.read_item``,
``drill.read_result``): each answers ``(field, why)`` for the first problem, which the HTTP
layer turns into a 400 naming the field."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

Problem = tuple[str, str]


def unknown_field(data: Mapping[str, Any], known: Iterable[str]) -> Problem | None:
    """The first key of ``data`` outside ``known`` (alphabetically), or None."""
    names = tuple(known)
    unknown = sorted(set(data) - set(names))
    return (unknown[0], f"unknown field; known: {', '.join(names)}") if unknown else None


def texts(data: Mapping[str, Any], limits: Mapping[str, int]) -> dict[str, str] | Problem:
    """Each field of ``limits`` a required non-empty string of at most its limit, stripped;
    or the first problem."""
    values = {}
    for field, limit in limits.items():
        value = data.get(field)
        if not isinstance(value, str) or not value.strip():
            return field, "required, a non-empty string"
        if len(value) > limit:
            return field, f"must be at most {limit} characters"
        values[field] = value.strip()
    return values

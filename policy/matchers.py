"""Alertmanager matcher syntax (``name="value"``, ``!=``, ``=~``, ``!~``) for label sets."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_MATCHER = re.compile(r'^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$')


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str
    value: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        found = re.fullmatch(self.value, actual) is not None
        return found if self.op == "=~" else not found


def parse_matcher(text: str) -> Matcher:
    """Parse one matcher; raises ValueError saying what is wrong."""
    match = _MATCHER.match(text)
    if not match:
        raise ValueError(f"not a matcher: {text!r} (expected e.g. severity=\"critical\")")
    name, op, raw = match.groups()
    value = _unquote(raw, text)
    if op in ("=~", "!~"):
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"bad regular expression in {text!r}: {exc}") from None
    return Matcher(name, op, value)


def _unquote(raw: str, text: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        try:
            return bytes(raw[1:-1], "utf-8").decode("unicode_escape")
        except UnicodeDecodeError:
            raise ValueError(f"bad escape in {text!r}") from None
    if '"' in raw or " " in raw:
        raise ValueError(f"not a matcher: {text!r} (quote the value)")
    return raw


def matches_all(matchers: tuple[str, ...], labels: Mapping[str, str]) -> bool:
    """Whether every matcher (in text form) matches ``labels``."""
    return all(parse_matcher(text).matches(labels) for text in matchers)

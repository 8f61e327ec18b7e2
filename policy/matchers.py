r"""Alertmanager matcher syntax (``name="value"``, ``!=``, ``=~``, ``!~``) for label sets.

One matcher is read as Alertmanager reads one (``labels.ParseMatcher``): a label name
(``[a-zA-Z_:][a-zA-Z0-9_:]*``), an operator, and a value, each with optional whitespace around
it. The value may be double-quoted. In it ``\"`` is a double quote, ``\n`` a line feed, ``\\`` a
backslash, and any other backslash stays a literal backslash (so ``=~"\d+"`` is the regular
expression ``\d+``); an unescaped double quote anywhere but at both ends is an error; every
other character, non-ASCII included, is kept as it is. Alertmanager 0.27 and later also run a
stricter parser that reads a quoted value as a Go string, but where both read a matcher and
differ (``\t``, ``\u00e9``...) they keep this classic reading (their default, fallback mode).
tests/test_parsers_agree.py compares it with amtool on a table of cases.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

# Go's \s is ASCII whitespace only; (?s) lets a value span lines, as Alertmanager's does.
_MATCHER = re.compile(r"[ \t\n\f\r]*([a-zA-Z_:][a-zA-Z0-9_:]*)[ \t\n\f\r]*(=~|=|!=|!~)"
                      r"[ \t\n\f\r]*(.*?)[ \t\n\f\r]*", re.DOTALL)
_ESCAPES = {"n": "\n", '"': '"', "\\": "\\"}


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
    match = _MATCHER.fullmatch(text)
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
    """The value as Alertmanager reads it (see the module docstring)."""
    quoted = raw.startswith('"')
    body = raw[1:] if quoted else raw
    if quoted and (len(body) == 0 or body[-1] != '"' or _escaped_end(body)):
        raise ValueError(f"value not closed by a double quote in {text!r}")
    if quoted:
        body = body[:-1]
    out, i = [], 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body):
            following = body[i + 1]
            out.append(_ESCAPES.get(following, "\\" + following))
            i += 2
            continue
        if char == '"':
            raise ValueError(f"unescaped double quote in the value of {text!r} "
                             '(write \\" inside a quoted value)')
        out.append(char)
        i += 1
    return "".join(out)


def _escaped_end(body: str) -> bool:
    """Whether the quote closing ``body`` is itself escaped (an odd run of backslashes)."""
    backslashes = len(body) - 1 - len(body[:-1].rstrip("\\"))
    return backslashes % 2 == 1


def matches_all(matchers: tuple[str, ...], labels: Mapping[str, str]) -> bool:
    """Whether every matcher (in text form) matches ``labels``."""
    return all(parse_matcher(text).matches(labels) for text in matchers)

"""Strict, typed reading of a YAML tree: every problem becomes a PolicyError with its line."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from policy.durations import parse_duration
from policy.errors import PolicyError
from policy.source import LineDict, LineList

T = TypeVar("T")
_MISSING = object()


class Node:
    """A value in the policy tree with the key path and line that lead to it."""

    def __init__(self, source: str, value: Any, path: str, line: int | None) -> None:
        self.source = source
        self.value = value
        self.path = path
        self.line = line

    def error(self, problem: str) -> PolicyError:
        return PolicyError(self.source, self.line, self.path, problem)

    # -- containers ---------------------------------------------------------------------
    def mapping(self, required: tuple[str, ...] = (), optional: tuple[str, ...] = ()) -> Node:
        """Check this is a mapping holding every ``required`` key and nothing unknown."""
        if not isinstance(self.value, dict):
            raise self.error(f"must be a mapping, got {_kind(self.value)}")
        allowed = set(required) | set(optional)
        for key in self.value:
            if key not in allowed:
                hint = f"; allowed: {', '.join(sorted(allowed))}" if allowed else ""
                raise self.child(key).error(f"unknown key {key!r}{hint}")
        for key in required:
            if key not in self.value:
                raise self.error(f"missing required key {key!r}")
        return self

    def child(self, key: str) -> Node:
        value = self.value.get(key, _MISSING) if isinstance(self.value, dict) else _MISSING
        line = (self.value.lines.get(key, self.line) if isinstance(self.value, LineDict)
                else self.line)
        if isinstance(value, (LineDict, LineList)) and value.line:
            line = line or value.line
        path = f"{self.path}.{key}" if self.path else str(key)
        return Node(self.source, None if value is _MISSING else value, path, line)

    def has(self, key: str) -> bool:
        return isinstance(self.value, dict) and key in self.value

    def items(self) -> Iterator[tuple[str, Node]]:
        for key in self.value:
            yield str(key), self.child(key)

    def each(self) -> Iterator[Node]:
        if not isinstance(self.value, list):
            raise self.error(f"must be a list, got {_kind(self.value)}")
        lines = self.value.lines if isinstance(self.value, LineList) else []
        for index, item in enumerate(self.value):
            line = lines[index] if index < len(lines) else self.line
            yield Node(self.source, item, f"{self.path}[{index}]", line)

    # -- scalars ------------------------------------------------------------------------
    def string(self, allow_empty: bool = False) -> str:
        if not isinstance(self.value, str):
            raise self.error(f"must be a string, got {_kind(self.value)}")
        if not allow_empty and not self.value.strip():
            raise self.error("must not be empty")
        return self.value

    def number(self) -> float:
        if isinstance(self.value, bool) or not isinstance(self.value, (int, float)):
            raise self.error(f"must be a number, got {_kind(self.value)}")
        return float(self.value)

    def integer(self, minimum: int = 0) -> int:
        if isinstance(self.value, bool) or not isinstance(self.value, int):
            raise self.error(f"must be a whole number, got {_kind(self.value)}")
        if self.value < minimum:
            raise self.error(f"must be at least {minimum}, got {self.value}")
        return self.value

    def boolean(self) -> bool:
        if not isinstance(self.value, bool):
            raise self.error(f"must be true or false, got {_kind(self.value)}")
        return self.value

    def duration(self) -> float:
        if not isinstance(self.value, str):
            raise self.error("must be a duration such as 30s, 5m or 1h30m, "
                             f"got {_kind(self.value)}")
        try:
            return parse_duration(self.value)
        except ValueError as exc:
            raise self.error(str(exc)) from None

    def positive_duration(self, key: str, default: float) -> float:
        """Child ``key`` as a duration longer than 0s; ``default`` when the key is absent."""
        if not self.has(key):
            return default
        child = self.child(key)
        value = child.duration()
        if value <= 0:
            raise child.error("must be longer than 0s")
        return value

    def choice(self, allowed: tuple[str, ...] | list[str], what: str = "value") -> str:
        text = self.string()
        if text not in allowed:
            raise self.error(f"unknown {what} {text!r}; expected one of {', '.join(allowed)}")
        return text

    def strings(self) -> tuple[str, ...]:
        return tuple(item.string() for item in self.each())

    def list_of(self, read: Callable[[Node], T]) -> tuple[T, ...]:
        return tuple(read(item) for item in self.each())


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"boolean {value}"
    if isinstance(value, (int, float)):
        return f"number {value}"
    if isinstance(value, str):
        return f"string {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__

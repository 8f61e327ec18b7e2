"""What the policy reader asks of each node of a policy, recorded while it parses one.

``record_reads(text)`` parses a policy with ``policy.reader.Node``'s reading methods
instrumented: a mapping's required and optional keys, a choice's allowed values, a scalar's kind,
and the reader line that asked. tests/policy_schema_steps.py compares them with
deploy/policy.schema.json; ``unexercised_keys`` and ``unreached_sites`` say which reader lines
and keys no example policy reached, so that nothing goes uncompared.
"""

from __future__ import annotations

import ast
import functools
import inspect
import sys
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

import policy.reader
from policy import parse_policy
from policy.reader import Node

REPO = Path(__file__).resolve().parent.parent
_READER_FILE = str(Path(policy.reader.__file__).resolve())
# Node's reading methods, each instrumented (strings and list_of read through them).
_METHODS = ("mapping", "choice", "string", "number", "integer", "boolean", "duration",
            "positive_duration", "each")
# The calls a reader line makes to read a node.
SITE_METHODS = (*_METHODS, "strings", "list_of")


@dataclass(frozen=True)
class Read:
    """One question the reader asked of a node."""

    path: str            # the node's key path, e.g. channels.email.smtp_port
    kind: str            # mapping, choice, text, string, number, integer, boolean, duration...
    detail: tuple = ()   # mapping: (required, optional); choice: (allowed, what); integer: (min,)
    origin: str = ""     # the reader line that asked, e.g. policy/spec.py:123


@dataclass
class Recording:
    reads: list[Read] = field(default_factory=list)
    sites: set[tuple[str, int]] = field(default_factory=set)   # (file, line) of each call


def editor_yaml(text: str) -> Any:
    """The document as an editor's YAML 1.2 reading gives it to the schema: timestamps stay
    strings (2026-01-05T09:00 is text, not a date)."""
    return yaml.load(text, Loader=_EditorLoader)  # a safe loader subclass: safe


class _EditorLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml when there
    pass


_EditorLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}


def dump(document: Any) -> str:
    """YAML for ``document``, quoting what would otherwise read back as another type."""
    return yaml.dump(document, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper),
                     sort_keys=False, allow_unicode=True)


# -- what the reader asks ----------------------------------------------------------------------
def _caller() -> tuple[str, int]:
    frame = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename == _READER_FILE:
        frame = frame.f_back
    if frame is None:
        return ("?", 0)
    return (_repo_name(frame.f_code.co_filename), frame.f_lineno)


@functools.cache
def _repo_name(filename: str) -> str:
    path = Path(filename).resolve()
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def _describe(node: Node, method: str, args: dict) -> tuple[str, str, tuple] | None:
    if method == "mapping":
        return node.path, "mapping", (tuple(args["required"]), tuple(args["optional"]))
    if method == "choice":
        return node.path, "choice", (tuple(args["allowed"]), args["what"])
    if method == "string":
        return node.path, "string" if args["allow_empty"] else "text", ()
    if method == "integer":
        return node.path, "integer", (args["minimum"],)
    if method == "positive_duration":
        key = args["key"]
        return (node.child(key).path, "positive_duration", ()) if node.has(key) else None
    return node.path, {"each": "array"}.get(method, method), ()


@contextmanager
def _instrumented(recording: Recording) -> Iterator[None]:
    originals = {name: getattr(Node, name) for name in _METHODS}

    def wrap(name: str, original: Any) -> Any:
        signature = inspect.signature(original)

        def wrapper(self: Node, *args: Any, **kwargs: Any) -> Any:
            file, line = _caller()
            recording.sites.add((file, line))
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            described = _describe(self, name, bound.arguments)
            result = original(self, *args, **kwargs)
            if described:
                recording.reads.append(Read(*described, origin=f"{file}:{line}"))
            return result
        return wrapper

    try:
        for name, original in originals.items():
            setattr(Node, name, wrap(name, original))
        yield
    finally:
        for name, original in originals.items():
            setattr(Node, name, original)


def record_reads(text: str) -> Recording:
    """Parse ``text`` (it must be valid) and record every question the reader asked."""
    recording = Recording()
    with _instrumented(recording):
        parse_policy(text, "example.yaml")
    return recording


def reader_call_sites() -> dict[tuple[str, int, int], str]:
    """Every call of a Node reading method in the policy package's readers: (file, first line,
    last line) -> the call's source text."""
    sites = {}
    for path in sorted((REPO / "policy").glob("*.py")):
        source = path.read_text(encoding="utf-8")
        if path.resolve() == Path(_READER_FILE) or "from policy.reader import Node" not in source:
            continue
        name = str(path.relative_to(REPO))
        for call in ast.walk(ast.parse(source)):
            if (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                    and call.func.attr in SITE_METHODS):
                sites[(name, call.lineno, call.end_lineno or call.lineno)] = \
                    ast.get_source_segment(source, call) or ""
    return sites


def segments(document: Any, path: str) -> list[str | int]:
    """``path`` (a.b[0].c) split as the document's keys go; a key may hold dots."""
    found: list[str | int] = []
    rest, value = path, document
    while rest:
        if rest.startswith("["):
            index = int(rest[1:rest.index("]")])
            rest = rest[rest.index("]") + 1:].removeprefix(".")
            found.append(index)
            value = value[index]
            continue
        keys = [key for key in value if isinstance(key, str)
                and (rest == key or rest.startswith((key + ".", key + "[")))]
        if not keys:
            raise KeyError(f"{path}: no key of the document matches {rest!r}")
        key = max(keys, key=len)
        found.append(key)
        value = value[key]
        rest = rest[len(key):].removeprefix(".")
    return found


def value_at(document: Any, path: str) -> Any:
    value = document
    for key in segments(document, path):
        value = value[key]
    return value


def open_sites(examples: list[tuple[Any, Recording]]) -> set[str]:
    """Reader lines that allow any key and check each one by one (the reader's idiom passes the
    keys the mapping holds as its optional keys): their allowed keys always are the document's,
    and differ between examples."""
    allowed: dict[str, set[frozenset]] = {}
    fixed: set[str] = set()
    for document, recording in examples:
        for read in recording.reads:
            if read.kind == "mapping":
                required, optional = read.detail
                if required or set(optional) != set(value_at(document, read.path)):
                    fixed.add(read.origin)
                allowed.setdefault(read.origin, set()).add(frozenset(optional))
    return {origin for origin, sets in allowed.items() if origin not in fixed and len(sets) > 1}


def unexercised_keys(examples: list[tuple[Any, Recording]]) -> list[str]:
    """Keys a mapping reader allows that no example holds (their kinds went unchecked)."""
    opened = open_sites(examples)
    seen: dict[tuple[str, tuple], tuple[str, set]] = {}
    for document, recording in examples:
        for read in recording.reads:
            if read.kind == "mapping" and read.origin not in opened:
                _path, keys = seen.setdefault((read.origin, read.detail), (read.path, set()))
                keys.update(value_at(document, read.path))
    return sorted(
        f"{origin}: no example holds {path + '.' if path else ''}{key}: add one to EXAMPLES in "
        "tests/test_policy_schema.py, so that the schema's idea of it is checked"
        for (origin, (required, optional)), (path, keys) in seen.items()
        for key in (*required, *optional) if key not in keys)


def unreached_sites(recordings: list[Recording], exempt: Collection[tuple[str, str]]) -> list[str]:
    """Reader calls no example reached, but for those ``exempt`` names by (file, call text)."""
    reached = {site for recording in recordings for site in recording.sites}
    return sorted(
        f"{file}:{first}: {text!r} is reached by no example: add one to EXAMPLES in "
        "tests/test_policy_schema.py"
        for (file, first, last), text in reader_call_sites().items()
        if (file, text) not in exempt and not any((file, line) in reached
                                                  for line in range(first, last + 1)))

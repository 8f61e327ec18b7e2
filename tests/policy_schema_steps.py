"""Whether deploy/policy.schema.json says what the policy reader does, node by node.

``SchemaMap`` finds the schema describing a node of a document (through ``$ref``, ``allOf``,
``if``/``then`` and the ``anyOf``/``oneOf`` branches the document takes); ``disagreements``
compares it with what the reader asked of the node (tests/policy_reads.py): one line per
problem, naming the schema location and what to add or change there.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Collection
from typing import Any

from jsonschema import Draft202012Validator

from tests.policy_reads import Read, Recording, segments, value_at

# Choices among names the policy itself defines: JSON Schema cannot look them up.
CROSS_REFERENCES = {
    "channel": "a name under channels",
    "contact": "a key under contacts",
    "support tier": "a key under the vendor's tiers",
}


# -- where the schema describes a node -----------------------------------------------------------
class NoSchema(LookupError):
    def __init__(self, path: str, pointer: str, key: str | int) -> None:
        super().__init__(path)
        self.path, self.pointer, self.key = path, pointer, key


class SchemaMap:
    """Schema locations (JSON pointers, ``#/...``) for the nodes of a document, one document at
    a time (``start``)."""

    def __init__(self, schema: dict) -> None:
        self.root = schema
        self._validator = Draft202012Validator(schema)
        self._probed: dict[tuple[int, str], bool] = {}
        self._located: dict[str, tuple[str, Any, Any, list]] = {}

    def start(self, document: Any) -> None:
        """Locate nodes of ``document`` from now on."""
        self._located = {"": ("#", self.root, document, self.applicable("#", self.root, document))}

    def valid(self, value: Any, schema: Any) -> bool:
        return self._validator.evolve(schema=schema).is_valid(value)

    def probe(self, value: Any, schema: Any) -> bool:
        """``valid`` for a small value, remembered per schema."""
        key = (id(schema), f"{type(value).__name__}:{value!r}")
        if key not in self._probed:
            self._probed[key] = self.valid(value, schema)
        return self._probed[key]

    def resolve(self, pointer: str) -> Any:
        target: Any = self.root
        for part in pointer.removeprefix("#").strip("/").split("/"):
            if part:
                part = part.replace("~1", "/").replace("~0", "~")
                target = target[int(part) if isinstance(target, list) else part]
        return target

    def applicable(self, pointer: str, schema: Any, value: Any) -> list[tuple[str, dict]]:
        """The schemas that apply to ``value`` at ``pointer``: itself, what it refers to, its
        allOf, the anyOf/oneOf branches ``value`` is valid under, its if's then or else."""
        if not isinstance(schema, dict):
            return []
        found = [(pointer, schema)]
        if "$ref" in schema:
            target = schema["$ref"]
            found += self.applicable(target, self.resolve(target), value)
        for index, sub in enumerate(schema.get("allOf", ())):
            found += self.applicable(f"{pointer}/allOf/{index}", sub, value)
        for key in ("anyOf", "oneOf"):
            for index, sub in enumerate(schema.get(key, ())):
                if self.valid(value, sub):
                    found += self.applicable(f"{pointer}/{key}/{index}", sub, value)
        if "if" in schema:
            branch = "then" if self.valid(value, schema["if"]) else "else"
            if branch in schema:
                found += self.applicable(f"{pointer}/{branch}", schema[branch], value)
        return found

    def locate(self, document: Any, path: str) -> tuple[str, Any, Any, list]:
        """(pointer, schema, value, applicable schemas) for the node of the started document at
        key path ``path``; NoSchema when the schema has nothing there."""
        if path in self._located:
            return self._located[path]
        pointer, schema, value, candidates = self._located[""]
        walked = ""
        for key in segments(document, path):
            walked += f"[{key}]" if isinstance(key, int) else f".{key}" if walked else key
            if walked in self._located:
                pointer, schema, value, candidates = self._located[walked]
                continue
            found = _child(candidates, key)
            if found is None:
                holder = next((p for p, s in candidates if "properties" in s), pointer)
                raise NoSchema(path, holder, key)
            pointer, schema = found
            value = value[key]
            candidates = self.applicable(pointer, schema, value)
            self._located[walked] = (pointer, schema, value, candidates)
        return pointer, schema, value, candidates


def _child(candidates: list[tuple[str, dict]], key: str | int) -> tuple[str, Any] | None:
    for pointer, schema in candidates:
        if isinstance(key, int) and "items" in schema:
            return f"{pointer}/items", schema["items"]
        if isinstance(key, str) and key in schema.get("properties", {}):
            return f"{pointer}/properties/{key}", schema["properties"][key]
    for pointer, schema in candidates:
        if isinstance(key, str) and isinstance(schema.get("additionalProperties"), dict):
            return f"{pointer}/additionalProperties", schema["additionalProperties"]
    return None


class Suggester:
    """A schema for a node, built from what the reader asked of it and below it."""

    def __init__(self, document: Any, reads: dict[str, list[Read]], open_lines: set[str]) -> None:
        self.document, self.reads, self.open_lines = document, reads, open_lines

    def __call__(self, path: str) -> dict:
        kinds = {read.kind: read for read in self.reads.get(path, ())}
        prefix = f"{path}." if path else ""
        if "mapping" in kinds:
            required, optional = kinds["mapping"].detail
            if kinds["mapping"].origin in self.open_lines:
                first = next(iter(value_at(self.document, path)), None)
                return {"type": "object", "additionalProperties":
                        self(prefix + first) if first is not None else {}}
            out: dict[str, Any] = {"type": "object"}
            if required:
                out["required"] = list(required)
            out["properties"] = {key: self(prefix + key) for key in (*required, *optional)}
            out["additionalProperties"] = False
            return out
        if "array" in kinds:
            return {"type": "array", "items": self(f"{path}[0]")}
        if "choice" in kinds:
            allowed, what = kinds["choice"].detail
            if what in CROSS_REFERENCES:
                return {"$ref": "#/$defs/text", "description": CROSS_REFERENCES[what]}
            return {"enum": list(allowed)}
        if "integer" in kinds:
            return {"type": "integer", "minimum": kinds["integer"].detail[0]}
        for kind, schema in _SUGGESTED.items():
            if kind in kinds:
                return schema
        return {}


_SUGGESTED = {"positive_duration": {"$ref": "#/$defs/positive_duration"},
              "duration": {"$ref": "#/$defs/duration"}, "text": {"$ref": "#/$defs/text"},
              "string": {"type": "string"}, "number": {"type": "number"},
              "boolean": {"type": "boolean"}}
# What a node the reader reads as each kind must accept (True) and reject (False).
_PROBES: dict[str, list[tuple[Any, bool]]] = {
    "text": [("", False), ("  ", False), (5, False)],
    "string": [("", True), (5, False)],
    "number": [("1", False), (True, False)],
    "boolean": [(True, True), (False, True), ("true", False)],
    "duration": [("1h30m", True), ("1 h", False), ("1.5h", False), ("5m1h", False), (5, False)],
    "positive_duration": [("0s", False), ("0", False)],
    "array": [("x", False), ({}, False)],
    "mapping": [("x", False), ([], False)],
}


class _Checker:
    """Compares one document's reads at a time (``run``), gathering problems across them."""

    def __init__(self, schemas: SchemaMap, open_lines: set[str]) -> None:
        self.schemas, self.open_lines = schemas, open_lines
        self.problems: dict[tuple, str] = {}   # one per schema location and problem

    def start(self, document: Any, recording: Recording) -> None:
        self.document = copy.deepcopy(document)
        self.schemas.start(self.document)
        self.reads: dict[str, list[Read]] = {}
        for read in recording.reads:
            self.reads.setdefault(read.path, []).append(read)
        self.suggest = Suggester(self.document, self.reads, self.open_lines)
        self.missing: list[str] = []          # paths the schema has no place for

    def add(self, key: tuple, problem: str) -> None:
        self.problems.setdefault(key, problem)

    def run(self) -> None:
        for path in sorted(self.reads, key=lambda p: (p.count(".") + p.count("["), p)):
            if any(path.startswith((gone + ".", gone + "[")) for gone in self.missing):
                continue
            try:
                pointer, schema, value, found = self.schemas.locate(self.document, path)
            except NoSchema as gone:
                self.missing.append(path)
                target = _key_pointer(gone.pointer, gone.key)
                self.add(("add", target), f"{path} ({self.reads[path][0].origin}): the schema "
                         f"has no place for it: add {target}: {_json(self.suggest(path))}")
                continue
            for read in {(r.kind, r.detail): r for r in self.reads[path]}.values():
                self.check(read, pointer, schema, value, found)

    def check(self, read: Read, pointer: str, schema: Any, value: Any, found: list) -> None:
        where = f"{read.path or '(top level)'} ({read.origin})"
        if read.kind == "mapping":
            self.check_keys(read, where, found, value)
        elif read.kind == "choice":
            self.check_choice(read, where, found)
        probes = list(_PROBES.get(read.kind, ()))
        if read.kind == "positive_duration":
            probes += _PROBES["duration"]
        if read.kind == "integer":
            least = read.detail[0]
            probes += [(least, True), (least - 1, False), (1.5, False), ("1", False)]
        for probe, wanted in probes:
            if self.schemas.probe(probe, schema) != wanted:
                verb = "rejects" if wanted else "accepts"
                self.add((pointer, read.kind, repr(probe)),
                         f"{where}: the reader reads a {read.kind.replace('_', ' ')} and the "
                         f"schema at {pointer} {verb} {probe!r}: make it "
                         f"{_json(self.suggest(read.path))}")

    def check_keys(self, read: Read, where: str, found: list, value: Any) -> None:
        required, optional = read.detail
        if not required and set(optional) == set(value) and any(
                isinstance(s.get("additionalProperties"), dict) for _, s in found):
            return   # any keys, each checked by the reader (and by the schema's own rules)
        holder = next((p for p, s in found if s.get("additionalProperties") is False),
                      next((p for p, s in found if "properties" in s), found[0][0]))
        known = {key for _, s in found for key in s.get("properties", {})}
        needed = {key for _, s in found for key in s.get("required", ())}
        prefix = f"{read.path}." if read.path else ""
        for key in [*required, *optional]:
            if key not in known:
                target = f"{holder}/properties/{key}"
                self.add(("add", target), f"{where}: the reader allows key {key!r}: add "
                         f"{target}: {_json(self.suggest(prefix + key))}")
        for key in sorted(known - set(required) - set(optional)):
            self.add(("remove", holder, key), f"{where}: the reader rejects key {key!r}: "
                     f"remove {holder}/properties/{key}")
        if needed != set(required):
            self.add(("required", holder), f"{where}: the reader requires {sorted(required)}, "
                     f"the schema {sorted(needed)}: set {holder}/required: "
                     f"{_json(list(required))}")
        if not any(s.get("additionalProperties") is False for _, s in found):
            self.add(("closed", holder), f"{where}: the reader rejects unknown keys: add "
                     f"{holder}/additionalProperties: false")

    def check_choice(self, read: Read, where: str, found: list) -> None:
        allowed, what = read.detail
        if what in CROSS_REFERENCES:
            return
        enums = [(p, set(s["enum"])) for p, s in found if "enum" in s]
        if [values for _, values in enums] != [set(allowed)]:
            holder = enums[0][0] if enums else found[0][0]
            have = sorted(set().union(*(v for _, v in enums))) if enums else "no enum"
            self.add(("enum", holder), f"{where}: the reader allows one of {list(allowed)}, "
                     f"the schema at {holder} {have}: set \"enum\": {_json(list(allowed))}")


def _key_pointer(pointer: str, key: str | int) -> str:
    return f"{pointer}/items" if isinstance(key, int) else f"{pointer}/properties/{key}"


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def disagreements(schemas: SchemaMap, examples: list[tuple[Any, Recording]],
                  open_lines: Collection[str] = ()) -> list[str]:
    """Every place where the schema does not say what the reader does with the example
    documents, one line each (suggestions come from the first example that shows one)."""
    checker = _Checker(schemas, set(open_lines))
    for document, recording in examples:
        checker.start(document, recording)
        checker.run()
    return sorted(checker.problems.values())

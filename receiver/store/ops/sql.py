"""The statement type every store operation yields, and JSON columns.

Every store operation is written once for both engines as a "sans-I/O" generator.

Each operation yields ``Q`` statements (``?`` placeholders) and receives their results; the
engine (``sqlite.py`` runs them in its thread, ``postgres.py`` awaits psycopg) drives the
generator inside one transaction and returns its value. Only two things differ by dialect and
are spelt here: PostgreSQL serialises deliveries of one group with an advisory lock and claims
rows with ``FOR UPDATE SKIP LOCKED``; SQLite's ``BEGIN IMMEDIATE`` already serialises writers.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(frozen=True)
class Q:
    """One statement. ``fetch``: "all" (rows as dicts), "rowcount" or "none"."""

    sql: str
    params: tuple[Any, ...] = ()
    fetch: str = "all"


Op = Generator[Q, Any, Any]


def dumps(value: Any) -> str:
    """A JSON column's text. orjson: the JSON columns are most of a delivery's encoding cost
    and orjson encodes them several times faster than ``json``. Like ``json.dumps``: keys that
    are not strings become strings, and mappings that are not dicts are stored as objects."""
    return orjson.dumps(value, default=_plain, option=orjson.OPT_NON_STR_KEYS).decode()


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


loads = orjson.loads


def ping() -> Op:
    yield Q("SELECT 1 AS one")

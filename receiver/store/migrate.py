"""Versioned schema migrations: ``migrations/<dialect>/NNNN_name.sql``, applied in order.

Applied versions are recorded in ``schema_migrations``. Each file runs in its own transaction
with its version row, so a crash leaves either the old or the new schema, never half of one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
CREATE_TABLE = ("CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, name TEXT NOT NULL)")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations(dialect: str) -> list[Migration]:
    """The dialect's migrations, sorted by version; the file name starts with the version."""
    found = []
    for path in sorted((MIGRATIONS / dialect).glob("*.sql")):
        number, _, name = path.stem.partition("_")
        found.append(Migration(int(number), name, path.read_text(encoding="utf-8")))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration versions for {dialect}: {versions}")
    return found


def pending(dialect: str, applied: set[int]) -> list[Migration]:
    return [m for m in migrations(dialect) if m.version not in applied]

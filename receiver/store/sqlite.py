"""The embedded store: one SQLite file in WAL mode, driven from one dedicated thread.

Each operation (a whole transaction) is one hop to that thread, so the event loop never
blocks on the disk and concurrent requests queue rather than interleave. ``BEGIN IMMEDIATE``
takes the write lock at the start of write transactions. ``synchronous=NORMAL`` (the default
here) survives a process crash with every committed transaction; pass ``synchronous=FULL`` in
the URL to also survive power loss at the cost of an fsync per commit.
"""

from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from receiver.store import ops
from receiver.store.base import Changes, Decide, Finish, StoreError
from receiver.store.migrate import CREATE_TABLE, pending


class SQLiteStore:
    """``Store`` on a SQLite file (see receiver.store.base.Store for the contract)."""

    dialect = "sqlite"

    def __init__(self, path: str, synchronous: str = "NORMAL", busy_timeout_ms: int = 5000) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self.synchronous = synchronous.upper()
        self._conn: sqlite3.Connection | None = None
        self._executor: ThreadPoolExecutor | None = None

    async def open(self) -> None:
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="callwatch-sqlite")
        await self._call(self._open_sync)

    async def close(self) -> None:
        if self._executor is None:
            return
        await self._call(self._close_sync)
        self._executor.shutdown(wait=True)
        self._executor = None

    def _open_sync(self) -> None:
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self.synchronous}")
            conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_ms)}")
            conn.execute("PRAGMA foreign_keys=ON")
            self._conn = conn
            self._migrate_sync(conn)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open SQLite store {self.path}: {exc}") from None

    def _migrate_sync(self, conn: sqlite3.Connection) -> None:
        conn.execute(CREATE_TABLE)
        applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        for migration in pending(self.dialect, applied):
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in _statements(migration.sql):
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                             (migration.version, migration.name))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def _close_sync(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def _call(self, fn, *args: Any) -> Any:
        if self._executor is None:
            raise StoreError("store is closed")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def _run(self, op: ops.Op, write: bool = False) -> Any:
        return await self._call(self._run_sync, op, write)

    def _run_sync(self, op: ops.Op, write: bool) -> Any:
        conn = self._conn
        if conn is None:
            raise StoreError("store is closed")
        try:
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite store unavailable: {exc}") from None
        try:
            result = _drive(conn, op)
            conn.execute("COMMIT")
            return result
        except sqlite3.Error as exc:
            _rollback(conn)
            raise StoreError(f"SQLite store error: {exc}") from None
        except BaseException:
            _rollback(conn)
            raise

    async def ping(self) -> None:
        await self._run(ops.ping())

    async def apply_group(self, delivery_key: str, group_key: str, now: float,
                          decide: Decide) -> Changes | None:
        return await self._run(ops.apply_group(False, delivery_key, group_key, now, decide), True)

    async def get_incident(self, incident_id):
        return await self._run(ops.get_incident(incident_id))

    async def list_incidents(self, state=None, limit=100):
        return await self._run(ops.list_incidents(state, limit))

    async def timeline(self, incident_id):
        return await self._run(ops.timeline(incident_id))

    async def claim_outbox(self, worker, now, lease_seconds, limit):
        return await self._run(ops.claim_outbox(False, worker, now, lease_seconds, limit), True)

    async def finish_outbox(self, row_id: str, worker: str, now: float, finish: Finish) -> bool:
        return await self._run(ops.finish_outbox(row_id, worker, now, finish), True)

    async def first_ref(self, incident_id, channel):
        return await self._run(ops.first_ref(incident_id, channel))

    async def outbox_for(self, incident_id):
        return await self._run(ops.outbox_for(incident_id))

    async def attempts_for(self, outbox_id):
        return await self._run(ops.attempts_for(outbox_id))

    async def pending_count(self):
        return await self._run(ops.pending_count())

    async def open_counts(self):
        return await self._run(ops.open_counts())

    async def timers_for(self, incident_id):
        return await self._run(ops.timers_for(incident_id))


def _drive(conn: sqlite3.Connection, op: ops.Op) -> Any:
    """Run the generator ``op`` to completion on ``conn``; its return value is the result."""
    try:
        query = next(op)
        while True:
            cursor = conn.execute(query.sql, query.params)
            if query.fetch == "all":
                result: Any = [dict(row) for row in cursor.fetchall()]
            elif query.fetch == "rowcount":
                result = cursor.rowcount
            else:
                result = None
            query = op.send(result)
    except StopIteration as stop:
        return stop.value


def _rollback(conn: sqlite3.Connection) -> None:
    try:
        conn.execute("ROLLBACK")
    except sqlite3.Error:
        pass  # no transaction left to roll back


def _statements(script: str) -> list[str]:
    """Split a migration file into statements (no semicolons inside our literals)."""
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]

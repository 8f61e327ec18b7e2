"""The embedded store: one SQLite file in WAL mode, driven from one dedicated thread.

Operations queue for that thread, so the event loop never blocks on the disk. The thread
commits in groups: it takes every operation waiting (up to ``GROUP_MAX``) and runs them in ONE
transaction, each inside its own SAVEPOINT, so one operation failing rolls back only itself;
each caller gets its result only after the shared COMMIT, so "answered = committed" holds and
a storm of deliveries pays for one commit per group instead of one per delivery.
``BEGIN IMMEDIATE`` takes the write lock at the start. ``synchronous=NORMAL`` (the default
here) survives a process crash with every committed transaction; pass ``synchronous=FULL`` in
the URL to also survive power loss at the cost of an fsync per commit.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

from receiver.store.base import StoreError
from receiver.store.methods import StoreMethods
from receiver.store.migrate import CREATE_TABLE, pending
from receiver.store.ops import sql

GROUP_MAX = 64


class _Item:
    """One queued piece of work: an operation (generator) or a plain call, and its future."""

    __slots__ = ("call", "future", "loop", "op")

    def __init__(self, op: sql.Op | None, call: Callable[[], Any] | None,
                 future: asyncio.Future, loop: asyncio.AbstractEventLoop) -> None:
        self.op, self.call, self.future, self.loop = op, call, future, loop

    def resolve(self, result: Any) -> None:
        try:
            self.loop.call_soon_threadsafe(_settle, self.future, result)
        except RuntimeError:  # the caller's loop is closed: nobody is waiting any more
            pass


def _resolve_all(items: list[_Item], results: list[Any]) -> None:
    """Hand every caller its result with ONE wake-up per event loop, not one per item: each
    ``call_soon_threadsafe`` writes to the loop's self-pipe and wakes it (one per item cost
    about 8% of bench_receiver's throughput)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future, Any]]] = {}
    for item, result in zip(items, results, strict=True):
        by_loop.setdefault(item.loop, []).append((item.future, result))
    for loop, settled in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle_many, settled)
        except RuntimeError:  # the caller's loop is closed: nobody is waiting any more
            pass


def _settle_many(settled: list[tuple[asyncio.Future, Any]]) -> None:
    for future, result in settled:
        _settle(future, result)


def _settle(future: asyncio.Future, result: Any) -> None:
    if future.done():
        return
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)


class SQLiteStore(StoreMethods):
    """``Store`` on a SQLite file (see receiver.store.base.Store for the contract)."""

    dialect = "sqlite"
    pg = False

    def __init__(self, path: str, synchronous: str = "NORMAL", busy_timeout_ms: int = 5000) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self.synchronous = synchronous.upper()
        self._conn: sqlite3.Connection | None = None
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    async def open(self) -> None:
        self._thread = threading.Thread(target=self._work, name="callwatch-sqlite", daemon=True)
        self._thread.start()
        await self._call(self._open_sync)

    async def close(self) -> None:
        if self._thread is None:
            return
        await self._call(self._close_sync)
        self._queue.put(None)
        thread, self._thread = self._thread, None
        await asyncio.get_running_loop().run_in_executor(None, thread.join)

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

    async def _submit(self, op: sql.Op | None, call: Callable[[], Any] | None) -> Any:
        if self._thread is None:
            raise StoreError("store is closed")
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put(_Item(op, call, future, loop))
        return await future

    async def _call(self, fn: Callable[[], Any]) -> Any:
        return await self._submit(None, fn)

    async def _run(self, op: sql.Op, write: bool = False) -> Any:
        return await self._submit(op, None)

    def _work(self) -> None:
        """The store thread: run queued items, grouping consecutive operations."""
        while True:
            item = self._queue.get()
            if item is None:
                return
            group = [item]
            while len(group) < GROUP_MAX:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)  # stop after this group
                    break
                group.append(nxt)
            try:
                self._run_group(group)
            except Exception as exc:  # noqa: BLE001 - never let the store thread die
                if self._conn is not None:
                    _rollback(self._conn)
                for waiting in group:  # callers already answered keep their answer
                    waiting.resolve(StoreError(f"SQLite store failure: {exc}"))

    def _run_group(self, group: list[_Item]) -> None:
        ops_batch: list[_Item] = []
        for item in group:
            if item.call is None:
                ops_batch.append(item)
                continue
            self._run_ops(ops_batch)
            ops_batch = []
            try:
                item.resolve(item.call())
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting caller
                item.resolve(exc)
        self._run_ops(ops_batch)

    def _run_ops(self, items: list[_Item]) -> None:
        """One transaction for ``items``, a savepoint each; results only after COMMIT."""
        if not items:
            return
        conn = self._conn
        if conn is None:
            for item in items:
                item.resolve(StoreError("store is closed"))
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            for item in items:
                item.resolve(StoreError(f"SQLite store unavailable: {exc}"))
            return
        results = [_in_savepoint(conn, item.op) for item in items]
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            _rollback(conn)
            results = [StoreError(f"SQLite commit failed: {exc}")] * len(items)
        _resolve_all(items, results)


def _drive(conn: sqlite3.Connection, op: sql.Op) -> Any:
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


def _in_savepoint(conn: sqlite3.Connection, op: sql.Op) -> Any:
    """Run ``op`` in a savepoint: its result, or the exception after undoing only its work."""
    conn.execute("SAVEPOINT op")
    try:
        result = _drive(conn, op)
    except sqlite3.Error as exc:
        conn.execute("ROLLBACK TO op")
        conn.execute("RELEASE op")
        return StoreError(f"SQLite store error: {exc}")
    except Exception as exc:  # noqa: BLE001 - e.g. a bug in decide(): that caller gets it
        conn.execute("ROLLBACK TO op")
        conn.execute("RELEASE op")
        return exc
    conn.execute("RELEASE op")
    return result


def _rollback(conn: sqlite3.Connection) -> None:
    try:
        conn.execute("ROLLBACK")
    except sqlite3.Error:
        pass  # no transaction left to roll back


def _statements(script: str) -> list[str]:
    """Split a migration file into statements (no semicolons inside our literals)."""
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]

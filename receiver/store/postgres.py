"""The shared store: PostgreSQL through psycopg 3 (async), for several receivers at once.

Deliveries of one group are serialised with a transaction-scoped advisory lock; outbox rows
are claimed with ``FOR UPDATE SKIP LOCKED`` and a claim expiry, so replicas never take the same
row and a dead replica's rows are taken after the lease. Migrations run under a session
advisory lock so replicas starting together apply each one once. A small built-in pool keeps
up to ``pool_size`` connections; a connection that failed is dropped and replaced.
"""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
from psycopg.rows import dict_row

from receiver.store.base import StoreError
from receiver.store.methods import StoreMethods
from receiver.store.migrate import CREATE_TABLE, pending
from receiver.store.ops import sql

_MIGRATION_LOCK = 0x63616C6C  # "call": any constant shared by every replica


class PostgresStore(StoreMethods):
    """``Store`` on PostgreSQL (see receiver.store.base.Store for the contract)."""

    dialect = "postgresql"
    pg = True

    def __init__(self, url: str, pool_size: int = 5, connect_timeout: float = 5.0) -> None:
        self.url = url
        self.pool_size = pool_size
        self.connect_timeout = connect_timeout
        self._idle: asyncio.Queue[psycopg.AsyncConnection] = asyncio.Queue()
        self._count = 0
        self._slots: asyncio.Semaphore | None = None
        # Closes of broken connections run in the background; held here so none is collected
        # before it finishes.
        self._closing: set[asyncio.Future[None]] = set()

    async def open(self) -> None:
        self._slots = asyncio.Semaphore(self.pool_size)
        conn = await self._acquire()
        broken = True
        try:
            await self._migrate(conn)
            broken = False
        except psycopg.Error as exc:
            raise StoreError(f"PostgreSQL migration failed: {_safe(exc)}") from None
        finally:
            self._release(conn, broken)

    async def close(self) -> None:
        while not self._idle.empty():
            await self._idle.get_nowait().close()
        self._count = 0

    async def _connect(self) -> psycopg.AsyncConnection:
        try:
            return await psycopg.AsyncConnection.connect(
                self.url, autocommit=True, row_factory=dict_row,
                connect_timeout=max(1, int(self.connect_timeout)))
        except psycopg.Error as exc:
            raise StoreError(f"PostgreSQL store unavailable: {_safe(exc)}") from None

    async def _acquire(self) -> psycopg.AsyncConnection:
        if self._slots is None:
            raise StoreError("store is closed")
        await self._slots.acquire()
        try:
            if not self._idle.empty():
                return self._idle.get_nowait()
            conn = await self._connect()
            self._count += 1
            return conn
        except BaseException:
            self._slots.release()
            raise

    def _release(self, conn: psycopg.AsyncConnection, broken: bool) -> None:
        assert self._slots is not None
        if broken or conn.closed:
            self._count -= 1
            closing = asyncio.ensure_future(conn.close())
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)
        else:
            self._idle.put_nowait(conn)
        self._slots.release()

    async def _migrate(self, conn: psycopg.AsyncConnection) -> None:
        await conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
        try:
            await conn.execute(CREATE_TABLE)
            cursor = await conn.execute("SELECT version FROM schema_migrations")
            applied = {row["version"] for row in await cursor.fetchall()}
            for migration in pending(self.dialect, applied):
                async with conn.transaction():
                    await conn.execute(migration.sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                        (migration.version, migration.name))
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))

    async def _run(self, op: sql.Op, write: bool = False) -> Any:
        conn = await self._acquire()
        try:
            async with conn.transaction():
                return await _drive(conn, op)
        except psycopg.OperationalError as exc:
            raise StoreError(f"PostgreSQL store unavailable: {_safe(exc)}") from None
        except psycopg.Error as exc:
            raise StoreError(f"PostgreSQL store error: {_safe(exc)}") from None
        finally:
            # a connection left mid-transaction or closed is replaced, never reused
            self._release(conn, not _usable(conn))


async def _drive(conn: psycopg.AsyncConnection, op: sql.Op) -> Any:
    try:
        query = next(op)
        while True:
            cursor = await conn.execute(query.sql.replace("?", "%s"), query.params)
            if query.fetch == "all":
                result: Any = await cursor.fetchall()
            elif query.fetch == "rowcount":
                result = cursor.rowcount
            else:
                result = None
            query = op.send(result)
    except StopIteration as stop:
        return stop.value


def _usable(conn: psycopg.AsyncConnection) -> bool:
    return not conn.closed and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE


def _safe(exc: BaseException) -> str:
    """The first line of a driver error; psycopg never puts the password in it."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__

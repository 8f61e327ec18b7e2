"""The shared store: PostgreSQL through psycopg 3 (async), for several receivers at once.

Deliveries of one group are serialised with a transaction-scoped advisory lock; outbox rows
are claimed with ``FOR UPDATE SKIP LOCKED`` and a claim expiry, so replicas never take the same
row and a dead replica's rows are taken after the lease. Migrations run under a session
advisory lock so replicas starting together apply each one once.

Connections come from a ``psycopg_pool.AsyncConnectionPool`` made and opened in ``open()``
(the app's cleanup_ctx; nothing at import): between 1 and ``pool_size`` connections, each
checked with a round trip when it is taken (one the server killed or a failover cut is
discarded and another taken or made), recycled after ``MAX_LIFETIME``, and re-made in the
background after a failure. A connection returned broken or mid-statement is discarded, one
left in a failed transaction is rolled back first. Every driver and pool failure is a
StoreError (the receiver answers 503).
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from receiver.store.base import StoreError
from receiver.store.methods import StoreMethods
from receiver.store.migrate import CREATE_TABLE, pending
from receiver.store.ops import sql

_MIGRATION_LOCK = 0x63616C6C  # "call": any constant shared by every replica
# Recycle connections every half hour (the pool adds +-5% jitter): a server's per-backend
# memory stays bounded and a moved database (failover, new DNS answer) is reached again.
MAX_LIFETIME = 1800.0
# How long the pool keeps re-trying a lost connection in the background before it gives that
# one up; the next checkout that finds the pool short starts again.
RECONNECT_TIMEOUT = 60.0


class PostgresStore(StoreMethods):
    """``Store`` on PostgreSQL (see receiver.store.base.Store for the contract).

    ``connect_timeout`` bounds one connection attempt; ``checkout_timeout`` how long a store
    call waits for a working connection (pool busy, or the server unreachable) before its
    StoreError."""

    dialect = "postgresql"
    pg = True

    def __init__(self, url: str, pool_size: int = 5, connect_timeout: float = 5.0,
                 checkout_timeout: float = 5.0) -> None:
        self.url = url
        self.pool_size = pool_size
        self.connect_timeout = connect_timeout
        self.checkout_timeout = checkout_timeout
        self._pool: AsyncConnectionPool | None = None

    async def open(self) -> None:
        """Apply pending migrations on a connection of their own (its failure names the
        cause, where the pool's would only time out), then open the pool with one connection."""
        conn = await self._connect()
        try:
            await self._migrate(conn)
        except psycopg.Error as exc:
            raise StoreError(f"PostgreSQL migration failed: {_safe(exc)}") from None
        finally:
            await conn.close()
        pool = AsyncConnectionPool(
            self.url, min_size=1, max_size=max(1, self.pool_size), open=False,
            name="callwatch-store", kwargs=self._connect_kwargs(),
            check=AsyncConnectionPool.check_connection, timeout=self.checkout_timeout,
            max_lifetime=MAX_LIFETIME, reconnect_timeout=RECONNECT_TIMEOUT)
        try:
            await pool.open(wait=True, timeout=self.connect_timeout)
        except psycopg.Error as exc:
            await pool.close()
            raise StoreError(f"PostgreSQL store unavailable: {_safe(exc)}") from None
        self._pool = pool

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    def _connect_kwargs(self) -> dict[str, Any]:
        return {"autocommit": True, "row_factory": dict_row,
                "connect_timeout": max(1, int(self.connect_timeout))}

    async def _connect(self) -> psycopg.AsyncConnection:
        try:
            return await psycopg.AsyncConnection.connect(self.url, **self._connect_kwargs())
        except psycopg.Error as exc:
            raise StoreError(f"PostgreSQL store unavailable: {_safe(exc)}") from None

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
        pool = self._pool
        if pool is None:
            raise StoreError("store is closed")
        try:
            # the pool takes the connection back: rolled back if the transaction failed,
            # discarded if it broke
            async with pool.connection() as conn, conn.transaction():
                return await _drive(conn, op)
        except psycopg.OperationalError as exc:   # incl. the pool's PoolTimeout, PoolClosed
            raise StoreError(f"PostgreSQL store unavailable: {_safe(exc)}") from None
        except psycopg.Error as exc:
            raise StoreError(f"PostgreSQL store error: {_safe(exc)}") from None


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


def _safe(exc: BaseException) -> str:
    """The first line of a driver error; psycopg never puts the password in it."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__

"""Leader election for API and status-page polling among exporter replicas, on PostgreSQL.

Several ``callwatch exporter`` replicas may ingest webhooks behind one load balancer, but only
one may poll the provider APIs and status pages (two pollers would count the same calls twice
and double the API load). The leader is whoever holds a session advisory lock
(``pg_try_advisory_lock``) on a dedicated connection; it holds it for as long as it leads.

- Every ``check_seconds`` a follower tries the lock; the leader runs ``SELECT 1`` on its
  connection (bounded by ``check_seconds``). A failed check, a closed connection or any error
  means leadership is lost at once: the replica stops polling and reconnects as a follower.
- PostgreSQL releases the lock when the leader's session ends: at once when its process dies
  (the kernel closes the socket); when its host or network dies, after the TCP keepalives set
  on the session (idle ``check_seconds``, then 3 probes ``check_seconds`` apart).
- So a dead leader is replaced within about ``check_seconds`` (process death) or
  ``5 * check_seconds`` (host death), and two replicas never poll at once except for at most
  one poll in flight while a partitioned leader notices it lost its connection.

Configured by ``CALLWATCH_LEADER_STORE_URL`` (``postgresql://...``; absent: no election, the
single process polls as before), ``CALLWATCH_LEADER_CHECK_SECONDS`` (2) and
``CALLWATCH_LEADER_LOCK_KEY`` (an integer; replicas of one deployment share it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import psycopg

log = logging.getLogger("callwatch.exporter.leader")
DEFAULT_LOCK_KEY = 0x6377706C  # "cwpl": callwatch polling leader


@dataclass(frozen=True)
class LeaderSettings:
    url: str
    check_seconds: float = 2.0
    lock_key: int = DEFAULT_LOCK_KEY


def load_leader_settings(environ: Mapping[str, str]) -> LeaderSettings | None:
    """The election settings, or None when ``CALLWATCH_LEADER_STORE_URL`` is not set.
    ValueError naming the variable for a bad value."""
    url = (environ.get("CALLWATCH_LEADER_STORE_URL") or "").strip()
    if not url:
        return None
    if not url.startswith(("postgresql://", "postgres://")):
        raise ValueError("CALLWATCH_LEADER_STORE_URL must be a postgresql:// URL")
    raw = environ.get("CALLWATCH_LEADER_CHECK_SECONDS") or "2"
    try:
        check = float(raw)
    except ValueError:
        raise ValueError(f"CALLWATCH_LEADER_CHECK_SECONDS must be a number, got {raw!r}") from None
    if not 0 < check <= 60:
        raise ValueError(f"CALLWATCH_LEADER_CHECK_SECONDS must be in (0, 60], got {raw!r}")
    raw_key = environ.get("CALLWATCH_LEADER_LOCK_KEY") or str(DEFAULT_LOCK_KEY)
    try:
        key = int(raw_key)
    except ValueError:
        raise ValueError(f"CALLWATCH_LEADER_LOCK_KEY must be an integer, got {raw_key!r}") from None
    return LeaderSettings(url, check, key)


class LeaderElection:
    """Holds the polling lock while it can; ``leading`` says whether this replica polls.

    ``on_change(leading)`` is called on every transition (metrics, readiness detail).
    """

    def __init__(self, settings: LeaderSettings,
                 on_change: Callable[[bool], None] = lambda leading: None) -> None:
        self.settings = settings
        self.on_change = on_change
        self.leading = False
        self._conn: psycopg.AsyncConnection | None = None
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        """Try / keep the lock every ``check_seconds`` until :meth:`stop`."""
        while not self._stopping.is_set():
            try:
                async with asyncio.timeout(self.settings.check_seconds * 2):
                    await self.check()
            except Exception as exc:  # noqa: BLE001 - any failure means not leading
                await self._lose(f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
                                 if str(exc) else type(exc).__name__)
            try:
                async with asyncio.timeout(self.settings.check_seconds):
                    await self._stopping.wait()
            except TimeoutError:
                pass

    async def check(self) -> bool:
        """One round: connect if needed, then try the lock (follower) or ping (leader)."""
        if self._conn is None or self._conn.closed:
            self._conn = await self._connect()
        if self.leading:
            await self._conn.execute("SELECT 1")
            return True
        cursor = await self._conn.execute("SELECT pg_try_advisory_lock(%s)",
                                          (self.settings.lock_key,))
        row = await cursor.fetchone()
        if row and row[0]:
            self._set(True)
            log.info("polling leader: this replica polls the provider APIs")
        return self.leading

    async def _connect(self) -> psycopg.AsyncConnection:
        conn = await psycopg.AsyncConnection.connect(
            self.settings.url, autocommit=True,
            connect_timeout=max(1, int(self.settings.check_seconds * 2)))
        # the server drops the session (and our lock) soon after this host goes silent
        seconds = max(1, round(self.settings.check_seconds))
        for name, value in (("tcp_keepalives_idle", seconds), ("tcp_keepalives_interval", seconds),
                            ("tcp_keepalives_count", 3)):
            await conn.execute(f"SET {name} = {int(value)}")
        return conn

    async def _lose(self, reason: str) -> None:
        if self.leading:
            log.warning("polling leadership lost", extra={"problem": reason})
        else:
            log.debug("polling lock not reachable", extra={"problem": reason})
        self._set(False)
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                async with asyncio.timeout(self.settings.check_seconds):
                    await conn.close()
            except Exception:  # noqa: BLE001 - the connection is being dropped anyway
                pass

    def _set(self, leading: bool) -> None:
        if leading != self.leading:
            self.leading = leading
            self.on_change(leading)

    async def stop(self) -> None:
        """Stop electing and give the lock up (closing the session releases it)."""
        self._stopping.set()
        self._set(False)
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

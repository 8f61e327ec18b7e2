"""Store factory: ``open_store(url)`` for ``sqlite:///path`` or ``postgresql://...``.

``sqlite:///var/lib/callwatch/receiver.db`` is the absolute path /var/lib/...; ``sqlite:name.db``
is relative to the working directory; ``?synchronous=FULL`` fsyncs every commit;
``?busy_timeout=MS`` bounds the wait for another process's lock (5000).
PostgreSQL URLs go to psycopg unchanged, except ``pool_size=N``: the most connections its pool
opens (5; it keeps one, and grows on demand).
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit, urlunsplit

from receiver.store.base import Store, StoreError

DEFAULT_STORE_URL = "sqlite:callwatch-receiver.db"

__all__ = ["DEFAULT_STORE_URL", "Store", "StoreError", "describe_url", "make_store"]


def make_store(url: str) -> Store:
    """An unopened store for ``url``; ValueError naming the problem for an unusable URL."""
    parts = urlsplit(url)
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    if parts.scheme == "sqlite":
        from receiver.store.sqlite import SQLiteStore

        path = parts.netloc + parts.path if parts.netloc else parts.path
        if path in ("/:memory:", ":memory:"):
            path = ":memory:"  # one connection in one thread: a private in-memory store
        if not path:
            raise ValueError("CALLWATCH_STORE_URL: sqlite URL without a file path")
        synchronous = query.get("synchronous", "NORMAL").upper()
        if synchronous not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValueError("CALLWATCH_STORE_URL: synchronous must be NORMAL or FULL")
        busy_ms = int(query.get("busy_timeout", "5000"))
        return SQLiteStore(path, synchronous, busy_timeout_ms=busy_ms)
    if parts.scheme in ("postgresql", "postgres"):
        from receiver.store.postgres import PostgresStore

        pool_size = int(query.pop("pool_size", "5"))
        rest = "&".join(f"{k}={v}" for k, v in query.items())
        return PostgresStore(urlunsplit(parts._replace(query=rest)), pool_size=pool_size)
    raise ValueError(f"CALLWATCH_STORE_URL: unsupported scheme {parts.scheme!r} "
                     "(use sqlite:///path or postgresql://...)")


def describe_url(url: str) -> str:
    """``url`` without its password, for logs and readiness details."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":[redacted]@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url

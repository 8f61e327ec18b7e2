"""The PostgreSQL store's connection pool on a real server: connections the server kills are
replaced, a call cut mid-transaction is a StoreError that leaves nothing behind, and an
unreachable server is a StoreError naming the cause."""

from __future__ import annotations

import psycopg
import pytest

from callwatch.stack import free_port
from receiver.domain.model import Changes, Event, GroupSnapshot, Incident
from receiver.store import StoreError, make_store

pytestmark = pytest.mark.binaries


def store_backends(url: str) -> set[int]:
    """The server process ids of every other connection to ``url``'s database (the store's)."""
    with psycopg.connect(url, autocommit=True) as admin:
        rows = admin.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                             " AND pid <> pg_backend_pid()").fetchall()
    return {pid for (pid,) in rows}


def kill_backends(url: str) -> set[int]:
    """Terminate the store's connections server-side, waiting until each has gone."""
    pids = store_backends(url)
    with psycopg.connect(url, autocommit=True) as admin:
        for pid in pids:
            [(gone,)] = admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,)).fetchall()
            assert gone, f"backend {pid} still running"
    return pids


def opening(kill_url: str | None = None):
    """A decision opening incident inc1; with ``kill_url`` it first kills the store's
    connections, the one running this transaction among them."""
    def decide(snapshot: GroupSnapshot) -> Changes:
        if kill_url is not None:
            kill_backends(kill_url)
        inc = Incident(id="inc1", group_key="g", priority="P1", state="triggered",
                       summary="drops high", provider="twilio", opened_at=100.0, labels={},
                       alerts=[], updated_at=100.0)
        return Changes(incident=inc, new_incident=snapshot.incident is None,
                       events=[Event("inc1", 100.0, "opened", "alertmanager", {})])
    return decide


async def test_connections_the_server_killed_are_replaced_when_next_taken(postgres_url):
    store = make_store(f"{postgres_url}?pool_size=3")
    await store.open()
    try:
        await store.apply_group("k1", "g", 100.0, opening())
        killed = kill_backends(postgres_url)
        assert killed                                  # the pool held at least one connection
        assert (await store.get_incident("inc1")).summary == "drops high"
        assert await store.open_counts() == {"P1": 1}
        now = store_backends(postgres_url)
        assert now and not now & killed                # served by new connections
    finally:
        await store.close()


async def test_a_call_cut_mid_transaction_is_a_store_error_and_writes_nothing(postgres_url):
    store = make_store(postgres_url)
    await store.open()
    try:
        with pytest.raises(StoreError, match="PostgreSQL store unavailable"):
            await store.apply_group("k1", "g", 100.0, opening(kill_url=postgres_url))
        assert await store.get_incident("inc1") is None
        # the delivery key was not kept: Alertmanager's retry of the same payload applies
        changes = await store.apply_group("k1", "g", 100.0, opening())
        assert changes is not None and changes.new_incident
    finally:
        await store.close()


async def test_an_unreachable_server_is_a_store_error_naming_the_cause():
    store = make_store(f"postgresql://postgres@127.0.0.1:{free_port()}/callwatch")
    with pytest.raises(StoreError) as raised:
        await store.open()
    message = str(raised.value)
    assert message.startswith("PostgreSQL store unavailable: ")
    assert "refused" in message and "\n" not in message
    with pytest.raises(StoreError, match="store is closed"):
        await store.ping()

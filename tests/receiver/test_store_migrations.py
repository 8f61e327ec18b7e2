"""Upgrading a store keeps what it holds: a database at an older schema version, with an
incident and an outbox row in it, opened by today's store."""

from __future__ import annotations

import sqlite3

import pytest

from receiver.store import make_store
from receiver.store.migrate import CREATE_TABLE, migrations

pytestmark = pytest.mark.binaries

INCIDENT = ("INSERT INTO incidents (id, group_key, priority, state, summary, opened_at, "
            "updated_at) VALUES ('inc1', 'g', 'P1', 'triggered', 'drops', 100, 100)")
ROW = ("INSERT INTO outbox (id, incident_id, channel, kind, payload, state, next_attempt_at, "
       "created_at, batch) VALUES ('o1', 'inc1', 'slack', 'trigger', '{}', 'pending', 100, 100, "
       "'b1')")


def at_version(dialect: str, version: int) -> list[str]:
    """The statements that build the schema up to ``version`` and record it."""
    statements = [CREATE_TABLE]
    for migration in migrations(dialect):
        if migration.version <= version:
            statements.append(migration.sql)
            statements.append(f"INSERT INTO schema_migrations (version, name) "
                              f"VALUES ({migration.version}, '{migration.name}')")
    return [*statements, INCIDENT, ROW]


@pytest.fixture(params=["sqlite", "postgresql"])
def old_store_url(request, tmp_path):
    """A store at schema version 2 holding one incident and one pending slack row."""
    if request.param == "sqlite":
        path = tmp_path / "old.db"
        with sqlite3.connect(path) as conn:
            for statement in at_version("sqlite", 2):
                conn.executescript(statement)
        return f"sqlite://{path}"
    import psycopg

    url = request.getfixturevalue("postgres_url")
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in at_version("postgresql", 2):
            conn.execute(statement)
    return url


async def test_upgrading_keeps_incidents_and_outbox_rows_and_adds_pages(old_store_url):
    store = make_store(old_store_url)
    await store.open()
    try:
        [row] = await store.outbox_for("inc1")
        assert (row.id, row.state, row.lane, row.page) == ("o1", "pending", "", None)
        assert (await store.get_incident("inc1")).summary == "drops"
        assert [r.id for r in await store.claim_outbox("w1", 100.0, 30.0, 10)] == ["o1"]
        assert await store.mark_awaiting("o1", "w1", 101.0, 400.0)   # the new state is allowed
        assert await store.record_callback("twilio", "CA1:completed", 101.0)
    finally:
        await store.close()


CALL = ("INSERT INTO outbox (id, incident_id, channel, kind, payload, state, next_attempt_at, "
        "created_at, batch, page, lane, claimed_by, claim_expires_at) VALUES ('o2', 'inc1', "
        "'phone', 'trigger', '{}', 'pending', 100, 100, 'b1', 'page-ada', 'ada', 'w0', 50)")


@pytest.fixture(params=["sqlite", "postgresql"])
def version5_store_url(request, tmp_path):
    """A store at schema version 5 (before handoffs) with a slack row and a lapsed call."""
    statements = [*at_version(request.param, 5), CALL]
    if request.param == "sqlite":
        path = tmp_path / "v5.db"
        with sqlite3.connect(path) as conn:
            for statement in statements:
                conn.executescript(statement)
        return f"sqlite://{path}"
    import psycopg

    url = request.getfixturevalue("postgres_url")
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)
    return url


async def test_upgrading_to_handoffs_keeps_every_outbox_column_and_allows_rows_of_no_incident(
        version5_store_url):
    from receiver.domain.model import NewOutbox
    from receiver.store.base import StoreError

    store = make_store(version5_store_url)
    await store.open()
    try:
        rows = {r.id: r for r in await store.outbox_for("inc1")}
        assert (rows["o2"].page, rows["o2"].lane, rows["o2"].claimed_by) == (
            "page-ada", "ada", "w0")
        claimed = {r.id: r for r in await store.claim_outbox("w1", 100.0, 30.0, 10)}
        assert claimed["o2"].taken_over_from == "w0"          # the lapsed claim came along
        notice = NewOutbox(id="n1", incident_id="", channel="slack", kind="handoff",
                           payload={"text": "You are on call"}, next_attempt_at=100.0,
                           batch="handoff:primary:100.0:ada")
        assert await store.claim_handoff("primary", 100.0, "ada", 100.0, notice)
        orphan = NewOutbox(id="n2", incident_id="no-such-incident", channel="slack",
                           kind="handoff", payload={}, next_attempt_at=100.0, batch="x")
        with pytest.raises(StoreError):     # the reference to incidents still holds
            await store.claim_handoff("primary", 200.0, "ada", 200.0, orphan)
        assert [r.id for r in await store.claim_outbox("w1", 101.0, 30.0, 10)] == ["n1"]
    finally:
        await store.close()

"""Polling leader election on a real PostgreSQL (exporter/leader.py)."""

from __future__ import annotations

import asyncio

import pytest

from exporter.leader import DEFAULT_LOCK_KEY, LeaderElection, LeaderSettings, load_leader_settings
from tests.ha.harness import until


@pytest.mark.parametrize("environ, problem", [
    ({"CALLWATCH_LEADER_STORE_URL": "sqlite:///x.db"}, "postgresql://"),
    ({"CALLWATCH_LEADER_STORE_URL": "postgresql://h/db",
      "CALLWATCH_LEADER_CHECK_SECONDS": "soon"}, "CALLWATCH_LEADER_CHECK_SECONDS"),
    ({"CALLWATCH_LEADER_STORE_URL": "postgresql://h/db",
      "CALLWATCH_LEADER_CHECK_SECONDS": "0"}, "CALLWATCH_LEADER_CHECK_SECONDS"),
    ({"CALLWATCH_LEADER_STORE_URL": "postgresql://h/db",
      "CALLWATCH_LEADER_LOCK_KEY": "x"}, "CALLWATCH_LEADER_LOCK_KEY"),
], ids=["a non-PostgreSQL URL is refused", "a check interval that is not a number is refused",
        "a zero check interval is refused", "a lock key that is not an integer is refused"])
def test_bad_leader_settings_name_the_variable(environ, problem):
    with pytest.raises(ValueError, match=problem):
        load_leader_settings(environ)


def test_without_a_leader_url_there_is_no_election_and_defaults_apply():
    assert load_leader_settings({}) is None
    settings = load_leader_settings({"CALLWATCH_LEADER_STORE_URL": "postgresql://h/db"})
    assert settings == LeaderSettings("postgresql://h/db", 2.0, DEFAULT_LOCK_KEY)


async def test_one_replica_leads_and_another_takes_over_when_it_stops(postgres_url):
    changes: list[tuple[str, bool]] = []
    settings = LeaderSettings(postgres_url, check_seconds=0.2, lock_key=4242)
    elections = {name: LeaderElection(settings, lambda on, n=name: changes.append((n, on)))
                 for name in ("a", "b")}
    tasks = [asyncio.create_task(e.run()) for e in elections.values()]
    try:
        await until(lambda: any(e.leading for e in elections.values()), 10, "a leader")
        leader = next(n for n, e in elections.items() if e.leading)
        other = "b" if leader == "a" else "a"
        for _ in range(5):  # several rounds later the other still follows
            assert await elections[other].check() is False
        await elections[leader].stop()
        await until(lambda: elections[other].leading, 5, "the other replica takes over")
    finally:
        for e in elections.values():
            await e.stop()
        await asyncio.wait(tasks, timeout=5)
    assert changes[:1] == [(leader, True)] and (other, True) in changes
    assert sum(1 for _, on in changes if on) == 2


async def test_a_leader_whose_connection_dies_stops_leading(postgres_url):
    import psycopg

    settings = LeaderSettings(postgres_url, check_seconds=0.2, lock_key=4343)
    election = LeaderElection(settings)
    task = asyncio.create_task(election.run())
    try:
        await until(lambda: election.leading, 10, "leading")
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_locks "
                          "WHERE locktype = 'advisory' AND objid = 4343")
        await until(lambda: not election.leading, 5, "leadership lost with the connection")
        await until(lambda: election.leading, 5, "leadership regained on a new connection")
    finally:
        await election.stop()
        await asyncio.wait({task}, timeout=5)


async def test_a_following_poller_runs_only_local_sources_until_it_leads():
    from prometheus_client import CollectorRegistry

    from exporter.metrics import create_metrics
    from exporter.poller import Poller

    class Counting:
        def __init__(self, name: str) -> None:
            self.name, self.provider, self.interval, self.polls = name, "none", 0.01, 0

        async def poll(self) -> None:
            self.polls += 1

    leading = False
    poller = Poller(create_metrics(CollectorRegistry()), {}, clock=lambda: 0.0)
    api, local = Counting("api"), Counting("local")
    poller.add(api, api=False)
    poller.add(local, api=False, leader_only=False)
    poller.follow(lambda: leading, 0.01)
    poller.start()
    try:
        await until(lambda: local.polls >= 5, 5, "the local source polling")
        assert api.polls == 0
        leading = True
        await until(lambda: api.polls >= 1, 5, "the leader-only source polling once leading")
    finally:
        await poller.stop()

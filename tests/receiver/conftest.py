"""Receiver fixtures: a receiver app on a temporary SQLite store with in-test notifiers; or,
on the deployment path, with the real notifiers paging the simulator (``paging``)."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import time

import pytest
from prometheus_client import CollectorRegistry

from callwatch.stack import free_port
from callwatch.web import create_app
from policy.scale import scale_policy
from receiver.app import setup_receiver
from tests.receiver.standins import RecordingNotifier

TOKEN = "s3cret-receiver-token-7d1f"


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _on_call_at_start():
    from policy import load_policy
    from tests.conftest import POLICY_PATH, on_call

    return on_call(load_policy(POLICY_PATH), FakeClock().now)


# whoever the shipped policy's primary schedule has on call when a FakeClock starts (its L1)
ON_CALL = _on_call_at_start()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def recorders(policy) -> dict[str, RecordingNotifier]:
    return {name: RecordingNotifier(name) for name in policy.channels}


def with_notifications(policy, **changes):
    """``policy`` with some ``notifications`` fields changed (the model is frozen)."""
    return dataclasses.replace(policy, notifications=dataclasses.replace(
        policy.notifications, **changes))


# No Prometheus sends these receivers the watchdog's heartbeat: with the switch on, a test that
# moves the clock past missing_after would see an incident about the silence it did not ask for.
NO_WATCHDOG = {"CALLWATCH_WATCHDOG": "off"}
# The policy's schedules have somebody on call at any test clock: with notices on, every
# receiver would queue that person a late handoff notice at start-up, beside what a test counts.
NO_HANDOFF_NOTICES = {"CALLWATCH_HANDOFF_NOTICES": "off"}


@pytest.fixture
def receiver_env(tmp_path) -> dict[str, str]:
    return {"CALLWATCH_STORE_URL": f"sqlite://{tmp_path}/receiver.db",
            "CALLWATCH_RECEIVER_TOKEN": TOKEN, "CALLWATCH_OUTBOX_POLL_SECONDS": "0.05",
            "CALLWATCH_RETRY_BASE_SECONDS": "0.05", "CALLWATCH_RETRY_MAX_SECONDS": "0.2",
            **NO_WATCHDOG, **NO_HANDOFF_NOTICES}


@pytest.fixture
def make_client(aiohttp_client, policy, receiver_env, recorders, clock):
    """``await make_client(policy=..., env=..., notifiers=...)`` -> aiohttp test client that
    sends the receiver token with every request (``anonymous=True``: one that sends none; a
    request's own ``Authorization`` header replaces the token)."""

    async def make(policy=policy, env=None, notifiers=None, max_body=1024 * 1024, use_clock=True,
                   anonymous=False):
        app = create_app(policy, CollectorRegistry(), max_body=max_body)
        setup_receiver(app, {**receiver_env, **(env or {})},
                       notifiers=recorders if notifiers is None else notifiers,
                       **({"clock": clock} if use_clock else {}))
        return await aiohttp_client(app, **({} if anonymous else {"headers": auth()}))

    return make


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def person(policy):
    """Whoever the shipped policy's first level pages now, by the wall clock (the receivers
    paging the simulator run on it): a test reads it when it starts, not at collection."""
    from tests.conftest import on_call

    return on_call(policy, time.time())


@pytest.fixture
async def sim():
    from simulator import Simulator

    async with Simulator(traffic=False) as running:
        yield running


@pytest.fixture
def paging(aiohttp_server, aiohttp_client, policy, sim, tmp_path):
    """``await paging(policy=...)``: a receiver whose real notifiers (built from the
    simulator's environment) page the simulator, at a known port that is its own
    CALLWATCH_PUBLIC_URL, so the providers' callbacks reach it; the policy runs 60x faster.
    Its client sends the receiver token, as ``make_client``'s does."""

    async def start(chosen=None):
        port = free_port()
        env = {**sim.env(), "CALLWATCH_STORE_URL": f"sqlite://{tmp_path}/r.db",
               "CALLWATCH_RECEIVER_TOKEN": TOKEN, "CALLWATCH_OUTBOX_POLL_SECONDS": "0.05",
               "CALLWATCH_PUBLIC_URL": f"http://127.0.0.1:{port}", **NO_WATCHDOG,
               **NO_HANDOFF_NOTICES}
        app = create_app(scale_policy(chosen or policy, 60), CollectorRegistry())
        setup_receiver(app, env)
        return await aiohttp_client(await aiohttp_server(app, port=port), headers=auth())

    return start


async def eventually(check, timeout: float = 20.0):
    """``check()``'s first truthy answer (awaited when ``check`` is a coroutine function),
    asked every 50 ms; AssertionError after ``timeout``."""
    for _ in range(int(timeout / 0.05)):
        found = check()
        if inspect.isawaitable(found):
            found = await found
        if found:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"nothing came in {timeout:g} s")


# --- a store on each engine: the store contract, and receivers sharing one store -------------

@pytest.fixture(params=["sqlite", "postgresql"])
async def store_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite://{tmp_path}/store.db"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
async def store(store_url):
    from receiver.store import make_store

    s = make_store(store_url)
    await s.open()
    yield s
    await s.close()

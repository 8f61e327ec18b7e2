"""Fixtures: a simulator app on an ephemeral port over a state with a fixed clock."""

from __future__ import annotations

import random

import pytest
from simhelpers import FakeClock

from simulator.app import create_app
from simulator.core import Faults, Recorder
from simulator.slack import SlackState
from simulator.state import SimState


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def state(clock) -> SimState:
    return SimState(clock=clock, rng=random.Random(3))


@pytest.fixture
def recorder(clock) -> Recorder:
    return Recorder(clock)


@pytest.fixture
def faults() -> Faults:
    return Faults(rng=random.Random(5))


@pytest.fixture
def slack_state() -> SlackState:
    return SlackState()


@pytest.fixture
async def server(aiohttp_server, state, recorder, faults, slack_state):
    return await aiohttp_server(create_app(state, recorder, faults, slack_state))
